//! Rooms, participants, and the shapes the front end reads.

use crate::support::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn the_creator_administers_and_others_join_and_leave() {
    let app = spawn_app().await;
    let (alice, alice_id) = app.user("alice").await;
    let (bob, bob_id) = app.user("bob").await;
    let room = app.room(&alice).await;

    let shown = app.get(&format!("/rooms/{room}"), &alice).await;
    let data = &shown.body["data"];
    for field in [
        "id",
        "name",
        "is_playing",
        "playback_started_at",
        "playback_paused_at",
        "current_playback_position",
        "created_at",
        "updated_at",
        "administrator",
        "current_track",
        "participants",
        "track_queue",
        "participant_count",
        "is_administrator",
        "is_participant",
        "event_seq",
    ] {
        assert!(data.get(field).is_some(), "room JSON lacks {field}: {data}");
    }
    assert_eq!(data["administrator"]["id"], alice_id);
    assert!(
        data["administrator"].get("email").is_none(),
        "no e-mail addresses in rooms"
    );
    assert_eq!(data["is_administrator"], true);
    assert_eq!(data["participant_count"], 1);

    let joined = app.post(&format!("/rooms/{room}/join"), &bob, json!({})).await;
    assert_eq!(joined.status, StatusCode::OK);
    assert_eq!(joined.body["data"]["participant"]["id"], bob_id);
    assert_eq!(joined.body["data"]["room"]["participant_count"], 2);
    let again = app.post(&format!("/rooms/{room}/join"), &bob, json!({})).await;
    assert_eq!(again.status, StatusCode::OK, "joining twice is idempotent");
    assert_eq!(again.body["data"]["room"]["participant_count"], 2);

    let list = app.get("/rooms", &bob).await;
    let listed = list.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == room)
        .unwrap()
        .clone();
    assert_eq!(listed["is_participant"], true);
    assert_eq!(listed["is_administrator"], false);
    assert_eq!(listed["participant_count"], 2);

    assert_eq!(
        app.call(
            Method::PUT,
            &format!("/rooms/{room}"),
            Some(&bob),
            Some(json!({ "name": "Mine now" }))
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    let renamed = app
        .call(
            Method::PUT,
            &format!("/rooms/{room}"),
            Some(&alice),
            Some(json!({ "name": "Renamed" })),
        )
        .await;
    assert_eq!(renamed.body["data"]["name"], "Renamed");
    assert_eq!(
        app.call(
            Method::PUT,
            &format!("/rooms/{room}"),
            Some(&alice),
            Some(json!({ "name": "" }))
        )
        .await
        .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    let participants = app.get(&format!("/rooms/{room}/participants"), &alice).await;
    assert_eq!(participants.body["data"].as_array().unwrap().len(), 2);

    assert_eq!(
        app.post(&format!("/rooms/{room}/leave"), &bob, json!({})).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.get(&format!("/rooms/{room}/participants"), &bob).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.post(&format!("/rooms/{room}/leave"), &bob, json!({})).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_administrator_who_leaves_hands_the_room_on() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, bob_id) = app.user("bob").await;
    let room = app.room(&alice).await;
    app.post(&format!("/rooms/{room}/join"), &bob, json!({})).await;
    app.post(&format!("/rooms/{room}/leave"), &alice, json!({})).await;
    let shown = app.get(&format!("/rooms/{room}"), &bob).await;
    assert_eq!(shown.body["data"]["administrator"]["id"], bob_id);
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_room_cascades_and_only_its_administrator_may() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, _) = app.user("bob").await;
    let room = app.room(&alice).await;
    app.post(&format!("/rooms/{room}/join"), &bob, json!({})).await;
    assert_eq!(
        app.upload(&room, &alice, "tone-1500ms.mp3").await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        app.delete(&format!("/rooms/{room}"), &bob).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.delete(&format!("/rooms/{room}"), &alice).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.get(&format!("/rooms/{room}"), &alice).await.status,
        StatusCode::NOT_FOUND
    );
    for table in ["rooms", "tracks", "room_participants", "track_votes"] {
        assert_eq!(app.count(table).await, 0, "{table}");
    }
    assert!(
        app.media_files().iter().all(|p| !p.to_string_lossy().ends_with(".mp3")),
        "the unreferenced file is gone"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_and_malformed_ids_are_404() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    assert_eq!(
        app.get(&format!("/rooms/{}", uuid::Uuid::new_v4()), &alice)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.get("/rooms/not-a-uuid", &alice).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn time_gives_ntp_style_stamps() {
    let app = spawn_app().await;
    let reply = answer(app.client.get(app.url("/time")).send().await.unwrap()).await;
    let body = &reply.body;
    assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
    let (received, sent) = (
        body["received_at_ms"].as_i64().unwrap(),
        body["sent_at_ms"].as_i64().unwrap(),
    );
    assert!(sent >= received);
    let now = chrono::Utc::now().timestamp_millis();
    assert!((now - sent).abs() < 5_000);
}

/// One account holds at most its quota of rooms and of playlists, however
/// many it asks for at once; others keep theirs, and deleting one makes
/// room for another.
#[tokio::test(flavor = "multi_thread")]
async fn an_account_holds_its_quota_of_rooms_and_playlists() {
    let app = spawn_with(Options {
        tweak: |config| {
            config.quotas.rooms_per_user = 3;
            config.quotas.playlists_per_user = 3;
        },
        ..Options::default()
    })
    .await;
    let (hoarder, _) = app.user("hoarder").await;
    let (other, _) = app.user("other").await;
    for (what, body) in [
        ("/rooms", json!({ "name": "Mine" })),
        ("/playlists", json!({ "name": "Mine" })),
    ] {
        let answers = futures_util::future::join_all((0..10).map(|_| app.post(what, &hoarder, body.clone()))).await;
        let created: Vec<_> = answers
            .iter()
            .filter(|a| a.status == StatusCode::CREATED)
            .map(|a| a.body["data"]["id"].to_string().trim_matches('"').to_owned())
            .collect();
        assert_eq!(created.len(), 3, "{what}: {answers:?}");
        let refused = answers.iter().find(|a| a.status != StatusCode::CREATED).unwrap();
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{what}");
        assert!(
            refused.body["message"]
                .as_str()
                .unwrap()
                .contains("the most one account may"),
            "{what}: {:?}",
            refused.body
        );
        assert_eq!(app.post(what, &other, body.clone()).await.status, StatusCode::CREATED);
        assert_eq!(
            app.delete(&format!("{what}/{}", created[0]), &hoarder).await.status,
            StatusCode::OK
        );
        assert_eq!(app.post(what, &hoarder, body.clone()).await.status, StatusCode::CREATED);
        assert_eq!(app.post(what, &hoarder, body).await.status, StatusCode::FORBIDDEN);
    }
}
