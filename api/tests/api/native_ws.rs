//! The front end's native protocol at /ws?token=: what its handlers read.

use crate::support::*;
use crate::ws::*;
use futures_util::SinkExt;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn a_missing_bad_or_revoked_token_closes_with_policy_violation() {
    let app = spawn_app().await;
    let (token, _) = app.user("alice").await;
    let forged = format!("{}x", &token[..token.len() - 1]);
    for url in [
        format!("ws://{}/ws", app.addr),
        format!("ws://{}/ws?token=nonsense", app.addr),
        format!("ws://{}/ws?token={forged}", app.addr),
    ] {
        let mut socket = open(&url).await;
        let error = next_json(&mut socket, PATIENCE).await.expect("an error message first");
        assert_eq!(error["type"], "error");
        assert_eq!(close_code(&mut socket).await, Some(1008), "{url}");
    }
    // A connection open when its token is revoked is closed the same way.
    let mut client = NativeClient::connect(&app, &token).await;
    app.post("/auth/logout", &token, json!({})).await;
    assert_eq!(close_code(&mut client.socket).await, Some(1008));
    let mut socket = open(&format!("ws://{}/ws?token={token}", app.addr)).await;
    next_json(&mut socket, PATIENCE).await;
    assert_eq!(
        close_code(&mut socket).await,
        Some(1008),
        "a revoked token cannot reconnect"
    );
}

#[tokio::test]
async fn only_participants_join_a_rooms_stream() {
    let app = spawn_app().await;
    let (admin, _) = app.user("admin").await;
    let (stranger, _) = app.user("stranger").await;
    let room = app.room(&admin).await;
    let mut client = NativeClient::connect(&app, &stranger).await;
    client.send("join_room", json!({ "room_id": room })).await;
    let error = client.expect("error").await;
    assert!(error["message"].as_str().unwrap().contains("participant"), "{error}");
    client.send("join_room", json!({ "room_id": "not-a-room" })).await;
    client.expect("error").await;
    client
        .socket
        .send(tokio_tungstenite::tungstenite::Message::text("{{{"))
        .await
        .unwrap();
    assert!(client.expect("error").await["message"]
        .as_str()
        .unwrap()
        .contains("Malformed"));
    client.send("dance", json!({})).await;
    client.expect("error").await;
    app.upload(&room, &admin, "tone-1500ms.wav").await;
    assert!(
        next_json(&mut client.socket, Duration::from_millis(300))
            .await
            .is_none(),
        "nothing of the room reaches a stranger"
    );
}

#[tokio::test]
async fn every_event_reaches_the_front_end_with_the_fields_it_reads() {
    let app = spawn_app().await;
    let (admin, _) = app.user("admin").await;
    let (guest, guest_id) = app.user("guest").await;
    let room = app.room(&admin).await;
    app.post(&format!("/rooms/{room}/join"), &guest, json!({})).await;
    let mut client = NativeClient::connect(&app, &guest).await;
    let joined = client.join(&room).await;
    assert_eq!(joined["room"]["id"], room);
    assert!(joined["room"]["participants"].is_array());
    assert!(joined["seq"].is_number() && joined["server_time"].is_number());

    let (late, late_id) = app.user("late").await;
    app.post(&format!("/rooms/{room}/join"), &late, json!({})).await;
    let user_joined = client.expect("user_joined").await;
    assert_eq!(user_joined["user"]["id"], late_id);
    assert!(user_joined["seq"].is_number() && user_joined["server_time"].is_number());

    let first = app.upload(&room, &admin, "tone-1500ms.wav").await.body["track"].clone();
    let added = client.expect("track_added").await;
    for field in [
        "id",
        "vote_score",
        "created_at",
        "original_name",
        "file_url",
        "duration_seconds",
    ] {
        assert_eq!(
            added["track"][field], first[field],
            "track_added carries the queue item's {field}"
        );
    }
    assert_eq!(added["track"]["uploader"]["username"], "admin");
    let started = client.expect("playback_started").await;
    assert_eq!(started["track"]["id"], first["id"]);
    assert!(started["playback_started_at"].is_string());
    assert!(started["position_ms"].is_number());

    let second = app.upload(&room, &admin, "tone-1500ms.flac").await.body["track"]["id"].clone();
    client.expect("track_added").await;
    app.post(
        &format!("/rooms/{room}/tracks/{}/vote", second.as_str().unwrap()),
        &guest,
        json!({}),
    )
    .await;
    let voted = client.expect("track_voted").await;
    assert_eq!(voted["track"]["id"], second);
    assert_eq!(voted["track"]["vote_score"], 1);
    assert_eq!(voted["voter"]["id"], guest_id);

    app.post(&format!("/rooms/{room}/playback/pause"), &admin, json!({}))
        .await;
    let paused = client.expect("playback_paused").await;
    assert!(paused["playback_paused_at"].is_string());
    let frozen = paused["current_position"].as_f64().unwrap();
    assert!((0.0..1.5).contains(&frozen), "{frozen}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    app.post(&format!("/rooms/{room}/playback/resume"), &admin, json!({}))
        .await;
    let resumed = client.expect("playback_resumed").await;
    // The client adds the time since playback_started_at to the frozen
    // position: it must be the resume instant, not the effective start.
    assert_eq!(resumed["playback_started_at"], resumed["resumed_at"]);
    assert_ne!(resumed["playback_started_at"], resumed["started_at"]);

    app.post(&format!("/rooms/{room}/playback/skip"), &admin, json!({}))
        .await;
    let skipped = client.expect("track_skipped").await;
    assert_eq!(skipped["next_track"]["id"], second);
    assert!(skipped["server_time"].is_number());
    app.post(&format!("/rooms/{room}/leave"), &late, json!({})).await;
    assert_eq!(client.expect("user_left").await["user"]["id"], late_id);

    app.post(&format!("/rooms/{room}/playback/stop"), &admin, json!({}))
        .await;
    assert!(client.expect("playback_stopped").await["seq"].is_number());

    client.send("leave_room", json!({})).await;
    assert_eq!(client.expect("room_left").await["room_id"], room);
    let renamed = app
        .call(
            reqwest::Method::PUT,
            &format!("/rooms/{room}"),
            Some(&admin),
            Some(json!({ "name": "Quiet" })),
        )
        .await;
    assert_eq!(renamed.status, 200);
    assert!(
        next_json(&mut client.socket, Duration::from_millis(300))
            .await
            .is_none(),
        "nothing after leave_room"
    );
    // Joining again (as on every reconnect) resumes the stream.
    client.join(&room).await;
    app.post(
        &format!("/rooms/{room}/tracks/{}/play", second.as_str().unwrap()),
        &admin,
        json!({}),
    )
    .await;
    client.expect("playback_started").await;
}

/// The web app's clock exchange: the server answers at once with its
/// receive and send instants, to the microsecond, between the client's.
#[tokio::test]
async fn a_clock_exchange_is_answered_with_the_servers_two_instants() {
    let app = spawn_app().await;
    let (token, _) = app.user("alice").await;
    let mut client = NativeClient::connect(&app, &token).await;
    let now_ms = || chrono::Utc::now().timestamp_micros() as f64 / 1000.0;
    let mut fractions = 0;
    for id in 0..20u32 {
        let sent = now_ms();
        client.send("time", json!({ "id": id, "client_sent": sent })).await;
        let answer = client.expect("time").await;
        let back = now_ms();
        assert_eq!(answer["id"], id);
        assert_eq!(answer["client_sent"].as_f64(), Some(sent), "echoed untouched");
        let (received, answered) = (
            answer["server_received"].as_f64().unwrap(),
            answer["server_sent"].as_f64().unwrap(),
        );
        // One machine, one clock: the server's instants lie between ours.
        assert!(
            sent <= received && received <= answered && answered <= back,
            "{sent} {answer} {back}"
        );
        if received.fract() != 0.0 {
            fractions += 1;
        }
    }
    assert!(fractions > 0, "instants are finer than a millisecond");
    client.send("time", json!({ "id": "seven", "client_sent": 1 })).await;
    assert!(client.expect("error").await["message"]
        .as_str()
        .unwrap()
        .contains("time needs"));
}
