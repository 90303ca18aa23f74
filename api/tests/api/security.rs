//! What a hostile visitor sends, refused with the client's error and
//! nothing lost (issue 19).

use crate::support::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn nul_characters_are_a_422_never_a_500() {
    let app = spawn_app().await;
    let (token, _) = app.user("alice").await;
    let room = app.room(&token).await;
    let anonymous = [
        (
            "/auth/login",
            json!({ "email": "a\u{0}@example.com", "password": "password123" }),
        ),
        (
            "/auth/register",
            json!({ "username": "bob", "email": "b\u{0}@example.com", "password": "password123", "password_confirmation": "password123" }),
        ),
    ];
    for (path, body) in anonymous {
        let reply = app.call(Method::POST, path, None, Some(body)).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path}: {:?}",
            reply.body
        );
    }
    let signed_in = [
        (
            Method::POST,
            "/rooms".to_owned(),
            Some(json!({ "name": "nul\u{0}room" })),
        ),
        (
            Method::PUT,
            format!("/rooms/{room}"),
            Some(json!({ "description": "x\u{0}" })),
        ),
        (Method::POST, "/genres".to_owned(), Some(json!({ "name": "G\u{0}" }))),
        (Method::POST, "/playlists".to_owned(), Some(json!({ "name": "P\u{0}" }))),
        (Method::GET, "/tracks?search=%00".to_owned(), None),
        (Method::GET, format!("/rooms/{room}/tracks?search=a%00b"), None),
        (Method::GET, "/rooms?page=%00".to_owned(), None),
    ];
    for (method, path, body) in signed_in {
        let reply = app.call(method.clone(), &path, Some(&token), body).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{method} {path}: {:?}",
            reply.body
        );
        assert!(reply.body["errors"].is_object(), "{:?}", reply.body);
    }
    // The text \u0000 (an escaped backslash) is just text.
    let literal = app.post("/rooms", &token, json!({ "name": "back\\u0000slash" })).await;
    assert_eq!(literal.status, StatusCode::CREATED, "{:?}", literal.body);
    assert_eq!(app.responses_with(500).await, 0);
    let health = app.call(Method::GET, "/health", None, None).await;
    assert!(
        !health.body.to_string().contains("server errors"),
        "no alert raised: {:?}",
        health.body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn names_shown_to_others_refuse_direction_overrides() {
    let app = spawn_app().await;
    let (token, _) = app.user("alice").await;
    for (path, body) in [
        ("/rooms", json!({ "name": "chill\u{202E}3pm.exe" })),
        ("/rooms", json!({ "name": "ok", "description": "a\u{2066}b" })),
        ("/genres", json!({ "name": "Rock\u{202D}" })),
        ("/playlists", json!({ "name": "Mix\u{7}" })),
    ] {
        let reply = app.post(path, &token, body.clone()).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path} {body}: {:?}",
            reply.body
        );
    }
    // Right-to-left names keep their direction marks; descriptions their lines.
    let rtl = app
        .post(
            "/rooms",
            &token,
            json!({ "name": "חדר\u{200F} 1", "description": "two\nlines" }),
        )
        .await;
    assert_eq!(rtl.status, StatusCode::CREATED, "{:?}", rtl.body);
    // A file name with an override is stored without it.
    let room = rtl.body["data"]["id"].as_str().unwrap().to_owned();
    let uploaded = app
        .upload_bytes(
            &room,
            &token,
            "song\u{202E}3pm.wav",
            std::fs::read(fixture("tone-1500ms.wav")).unwrap(),
        )
        .await;
    assert_eq!(uploaded.status, StatusCode::CREATED, "{:?}", uploaded.body);
    assert!(!uploaded.body.to_string().contains('\u{202E}'), "{:?}", uploaded.body);
}

/// Issue 19, item 12: files are shared by content. Deleting a track while
/// identical audio is uploaded elsewhere never leaves the new track
/// without its file.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_upload_racing_the_deletion_of_the_same_audio_keeps_its_file() {
    let app = std::sync::Arc::new(spawn_app().await);
    let (alice, _) = app.user("alice").await;
    let here = app.room(&alice).await;
    let there = app.room(&alice).await;
    let audio = std::fs::read(fixture("tone-1500ms.flac")).unwrap();
    for round in 0..60 {
        let first = app.upload_bytes(&here, &alice, "a.flac", audio.clone()).await;
        assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
        let doomed = first.body["track"]["id"].as_str().unwrap().to_owned();
        let deleting = {
            let (app, alice, path) = (app.clone(), alice.clone(), format!("/rooms/{here}/tracks/{doomed}"));
            tokio::spawn(async move { app.delete(&path, &alice).await.status })
        };
        let uploading = {
            let (app, alice, there, audio) = (app.clone(), alice.clone(), there.clone(), audio.clone());
            tokio::spawn(async move { app.upload_bytes(&there, &alice, "b.flac", audio).await })
        };
        assert_eq!(deleting.await.unwrap(), StatusCode::OK);
        let second = uploading.await.unwrap();
        assert_eq!(second.status, StatusCode::CREATED, "{:?}", second.body);
        let path: String = sqlx::query_scalar("SELECT file_path FROM tracks WHERE id = $1::uuid")
            .bind(second.body["track"]["id"].as_str().unwrap())
            .fetch_one(&app.state.db)
            .await
            .unwrap();
        assert!(
            app.media.path().join(&path).exists(),
            "round {round}: the upload was answered 201 and its file is gone"
        );
        // Clear the other room for the next round.
        let id = second.body["track"]["id"].as_str().unwrap();
        app.delete(&format!("/rooms/{there}/tracks/{id}"), &alice).await;
    }
}

/// Issue 19, item 10: a logged-in visitor who does not take part in a room
/// sees what the room list and the join flow read — its name, what plays,
/// `is_participant: false` — and nothing to play or to list.
#[tokio::test(flavor = "multi_thread")]
async fn a_non_member_sees_the_room_but_nothing_playable() {
    let app = spawn_app().await;
    let (admin, _) = app.user("admin").await;
    let (stranger, _) = app.user("stranger").await;
    let room = app.room(&admin).await;
    app.upload(&room, &admin, "tone-1500ms.wav").await;
    app.upload(&room, &admin, "tone-1500ms.flac").await;
    let member_view = app.get(&format!("/rooms/{room}"), &admin).await.body;
    assert!(
        member_view["data"]["current_track"]["file_url"].is_string(),
        "{member_view}"
    );

    let seen = app.get(&format!("/rooms/{room}"), &stranger).await;
    assert_eq!(seen.status, StatusCode::OK);
    let data = &seen.body["data"];
    assert_eq!(data["is_participant"], false);
    assert_eq!(data["id"], room.as_str());
    assert!(
        data["current_track"]["original_name"].is_string(),
        "what plays is shown: {data}"
    );
    assert!(
        data["participants"].is_null() && data["track_queue"].is_null(),
        "{data}"
    );
    let text = seen.body.to_string();
    assert!(!text.contains("/audio/"), "no edge link reaches a non-member: {text}");

    let listed = app.get("/rooms", &stranger).await.body;
    assert!(!listed.to_string().contains("/audio/"), "{listed}");
    // Joining gives the room whole.
    let joined = app.post(&format!("/rooms/{room}/join"), &stranger, json!({})).await;
    assert_eq!(joined.status, StatusCode::OK);
    let member_now = app.get(&format!("/rooms/{room}"), &stranger).await.body;
    assert!(member_now["data"]["track_queue"].is_array(), "{member_now}");
}
