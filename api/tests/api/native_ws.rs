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

/// Presence over the native protocol: who is connected to the room comes
/// with `room_joined` and changes as `member_added` / `member_removed`, and
/// a native listener and a Pusher one see each other.
#[tokio::test]
async fn native_listeners_are_present_to_each_other_and_to_pusher_clients() {
    let app = spawn_app().await;
    let (admin, admin_id) = app.user("admin").await;
    let (guest, guest_id) = app.user("guest").await;
    let room = app.room(&admin).await;
    assert_eq!(
        app.post(&format!("/rooms/{room}/join"), &guest, json!({})).await.status,
        200
    );

    let mut native = NativeClient::connect(&app, &admin).await;
    let joined = native.join(&room).await;
    assert_eq!(joined["online"], json!([admin_id]), "{joined}");

    let channel = format!("presence-room.{room}");
    let mut pusher = PusherClient::connect(&app).await;
    let roster = pusher.subscribe(&app, &guest, &channel).await;
    assert_eq!(roster["data"]["presence"]["count"], 2, "{roster}");
    assert_eq!(roster["data"]["presence"]["hash"][&admin_id]["username"], "admin");
    let added = native.expect("member_added").await;
    assert_eq!(added["user_id"], guest_id.as_str());
    assert_eq!(added["user_info"]["username"], "guest");

    // A second native tab of the guest's is not a new arrival.
    let mut tab = NativeClient::connect(&app, &guest).await;
    assert_eq!(tab.join(&room).await["online"].as_array().map(Vec::len), Some(2));
    pusher.socket.close(None).await.unwrap();
    assert!(
        next_json(&mut native.socket, Duration::from_millis(300))
            .await
            .is_none(),
        "the guest is still there in another tab"
    );
    drop(tab);
    let removed = native.expect("member_removed").await;
    assert_eq!(removed["user_id"], guest_id.as_str());

    // Leaving the room's stream is leaving its presence, for Pusher clients too.
    let mut pusher = PusherClient::connect(&app).await;
    pusher.subscribe(&app, &guest, &channel).await;
    native.send("leave_room", json!({})).await;
    let gone = pusher.expect("pusher_internal:member_removed").await;
    assert_eq!(gone["data"]["user_id"], admin_id.as_str());
}

/// A page renews its token while in a room: the old token's socket closes
/// with 1008 and nothing tells the page it left the room (a `room_left`
/// with a reason sent the web app away at every renewal).
#[tokio::test]
async fn a_refreshed_token_closes_the_socket_without_sending_the_page_away() {
    let app = spawn_app().await;
    let (token, _) = app.user("alice").await;
    let room = app.room(&token).await;
    let mut client = NativeClient::connect(&app, &token).await;
    client.join(&room).await;
    let renewed = app.post("/auth/refresh", &token, json!({})).await;
    assert_eq!(renewed.status, 200, "{:?}", renewed.body);
    let mut seen = Vec::new();
    let code = loop {
        match tokio::time::timeout(PATIENCE, futures_util::StreamExt::next(&mut client.socket)).await {
            Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Text(text)))) => seen.push(text.to_string()),
            Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Close(frame)))) => {
                break frame.map(|f| u16::from(f.code));
            }
            Ok(Some(Ok(_))) => {}
            other => panic!("the socket did not close: {other:?}"),
        }
    };
    assert_eq!(code, Some(1008));
    assert!(!seen.iter().any(|frame| frame.contains("room_left")), "{seen:?}");
    let new_token = renewed.body["data"]["token"].as_str().unwrap();
    let mut again = NativeClient::connect(&app, new_token).await;
    assert_eq!(again.join(&room).await["room"]["id"], room.as_str());
}
