//! Pusher protocol 7 at /app/{key}: handshake, liveness, channel
//! authorisation, every room event, presence, and refusals.

use crate::support::*;
use crate::ws::*;
use futures_util::SinkExt;
use serde_json::{json, Value};
use std::time::Duration;

#[tokio::test]
async fn the_handshake_names_the_socket_and_answers_pings() {
    let app = spawn_app().await;
    let mut client = PusherClient::connect(&app).await;
    let (a, b) = client.socket_id.split_once('.').expect("socket_id is two numbers");
    assert!(
        a.parse::<u64>().is_ok() && b.parse::<u64>().is_ok(),
        "{}",
        client.socket_id
    );
    assert_eq!(client.established["activity_timeout"], 120);
    client.send(json!({ "event": "pusher:ping", "data": {} })).await;
    assert_eq!(client.expect("pusher:pong").await["event"], "pusher:pong");
    let other = PusherClient::connect(&app).await;
    assert_ne!(other.socket_id, client.socket_id);
    let metrics = answer(app.client.get(app.url("/metrics")).send().await.unwrap()).await;
    assert_eq!(
        metrics.body["data"]["websocket"]["connections"], 2,
        "{:?}",
        metrics.body
    );
}

#[tokio::test]
async fn a_wrong_key_or_protocol_is_refused_with_pushers_codes() {
    let app = spawn_app().await;
    for (path, code) in [
        ("/app/not-the-key?protocol=7", 4001),
        ("/app/spotik-key", 4008),
        ("/app/spotik-key?protocol=3", 4007),
        ("/app/spotik-key?protocol=seven", 4006),
    ] {
        let mut socket = open(&format!("ws://{}{path}", app.addr)).await;
        let error = next_json(&mut socket, PATIENCE).await.expect("pusher:error");
        assert_eq!(error["event"], "pusher:error", "{path}");
        let data: Value = serde_json::from_str(error["data"].as_str().unwrap()).unwrap();
        assert_eq!(data["code"], code, "{path}");
        assert_eq!(close_code(&mut socket).await, Some(code), "{path}");
    }
    let plain = app
        .client
        .get(format!("http://{}/app/spotik-key", app.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 426, "a plain GET is told to upgrade");
}

/// Sends a subscription that must be refused; the status it is refused with.
async fn refused(client: &mut PusherClient, channel: &str, data: Value) -> u64 {
    client.send(json!({ "event": "pusher:subscribe", "data": data })).await;
    let frame = client.expect("pusher:subscription_error").await;
    assert_eq!(frame["channel"], channel);
    frame["data"]["status"].as_u64().unwrap()
}

/// A room with a playing track and a second participant, both subscribed.
struct Room {
    admin: String,
    guest: String,
    id: String,
}

async fn room_with_guest(app: &TestApp) -> Room {
    let (admin, _) = app.user("admin").await;
    let (guest, _) = app.user("guest").await;
    let id = app.room(&admin).await;
    assert_eq!(
        app.post(&format!("/rooms/{id}/join"), &guest, json!({})).await.status,
        200
    );
    Room { admin, guest, id }
}

/// With `BROADCAST_EVENT_NAMESPACE=none`, for plain pusher-js clients: the
/// short names of the protocol.
#[tokio::test]
async fn every_rest_action_arrives_as_its_event_with_its_payload() {
    let app = spawn_with(Options {
        tweak: |config| config.hub.event_namespace = None,
        ..Options::default()
    })
    .await;
    let room = room_with_guest(&app).await;
    let channel = format!("private-room.{}", room.id);
    let mut client = PusherClient::connect(&app).await;
    client.subscribe(&app, &room.guest, &channel).await;
    let seq_before = app.get(&format!("/rooms/{}", room.id), &room.admin).await.body["data"]["event_seq"]
        .as_i64()
        .unwrap();

    let (late, _) = app.user("latecomer").await;
    app.post(&format!("/rooms/{}/join", room.id), &late, json!({})).await;
    let joined = client.expect("user.joined").await;
    assert_eq!(joined["channel"], channel);
    assert_eq!(joined["data"]["user"]["username"], "latecomer");
    assert_eq!(joined["data"]["room_id"], room.id);
    assert!(joined["data"]["timestamp"].is_string());
    assert_eq!(joined["data"]["seq"], seq_before + 1);

    let first = app.upload(&room.id, &room.admin, "tone-1500ms.wav").await.body["track"]["id"].clone();
    let added = client.expect("track.added").await;
    assert_eq!(added["data"]["track"]["id"], first);
    assert_eq!(added["data"]["track"]["uploader"]["username"], "admin");
    assert!(added["data"]["track"]["duration_seconds"].is_number());
    // The first upload into an idle room starts it.
    let started = client.expect("playback.started").await;
    assert_eq!(started["data"]["track"]["id"], first);

    let second = app.upload(&room.id, &room.admin, "tone-1500ms.flac").await.body["track"]["id"].clone();
    client.expect("track.added").await;
    app.post(
        &format!("/rooms/{}/tracks/{}/vote", room.id, second.as_str().unwrap()),
        &room.guest,
        json!({}),
    )
    .await;
    let voted = client.expect("track.voted").await;
    assert_eq!(voted["data"]["track"]["id"], second);
    assert_eq!(voted["data"]["track"]["vote_score"], 1);
    assert_eq!(voted["data"]["vote_added"], true);
    assert_eq!(voted["data"]["user"]["username"], "guest");

    let base = format!("/rooms/{}", room.id);
    app.post(&format!("{base}/playback/pause"), &room.admin, json!({}))
        .await;
    let paused = client.expect("playback.paused").await;
    assert!(paused["data"]["paused_at"].is_string());
    assert!(paused["data"]["position_ms"].is_number());
    assert!(paused["data"]["server_time"].is_number());
    app.post(&format!("{base}/playback/resume"), &room.admin, json!({}))
        .await;
    let resumed = client.expect("playback.resumed").await;
    assert!(resumed["data"]["resumed_at"].is_string());
    assert_eq!(resumed["data"]["track"]["id"], first);
    app.post(&format!("{base}/playback/skip"), &room.admin, json!({})).await;
    let skipped = client.expect("track.skipped").await;
    assert_eq!(skipped["data"]["previous_track"]["id"], first);
    assert_eq!(skipped["data"]["next_track"]["id"], second);
    assert!(
        skipped["data"]["next_track"]["file_url"].is_string(),
        "the next track can be prefetched"
    );
    let restarted = client.expect("playback.started").await;
    assert_eq!(restarted["data"]["track"]["id"], second);
    app.post(&format!("{base}/playback/stop"), &room.admin, json!({})).await;
    client.expect("playback.stopped").await;
    app.post(
        &format!("{base}/tracks/{}/play", first.as_str().unwrap()),
        &room.admin,
        json!({}),
    )
    .await;
    let played = client.expect("playback.started").await;
    assert_eq!(played["data"]["track"]["id"], first);
    assert!(
        played["data"]["position_ms"].as_i64().unwrap() < 100,
        "played from the start"
    );

    let renamed = app
        .call(
            reqwest::Method::PUT,
            &base,
            Some(&room.admin),
            Some(json!({ "name": "Renamed" })),
        )
        .await;
    assert_eq!(renamed.status, 200);
    assert_eq!(client.expect("room.updated").await["data"]["room"]["name"], "Renamed");
    app.delete(&format!("{base}/tracks/{}", second.as_str().unwrap()), &room.admin)
        .await;
    assert_eq!(client.expect("track.removed").await["data"]["track_id"], second);

    // Every event numbered: the room's event_seq is the last one received.
    // (Stopped first, so that the track ending cannot add events meanwhile.)
    app.post(&format!("{base}/playback/stop"), &room.admin, json!({})).await;
    client.expect("playback.stopped").await;
    let shown = app.get(&base, &room.admin).await;
    let seq_now = shown.body["data"]["event_seq"].as_i64().unwrap();
    app.delete(&base, &room.admin).await;
    let deleted = client.expect("room.deleted").await;
    assert_eq!(deleted["data"]["seq"], seq_now + 1);
}

#[tokio::test]
async fn only_participants_subscribe_and_forged_signatures_are_refused() {
    let app = spawn_app().await;
    let room = room_with_guest(&app).await;
    let channel = format!("private-room.{}", room.id);
    let (stranger, _) = app.user("stranger").await;
    let mut listener = PusherClient::connect(&app).await;
    listener.subscribe(&app, &room.guest, &channel).await;
    let mut client = PusherClient::connect(&app).await;

    let stranger_auth = client.authorize(&app, &stranger, &channel).await;
    assert_eq!(stranger_auth.status, 403, "{:?}", stranger_auth.body);
    let unknown_room = client
        .authorize(&app, &room.guest, &format!("private-room.{}", uuid::Uuid::new_v4()))
        .await;
    assert_eq!(unknown_room.status, 403);
    let anonymous = app
        .client
        .post(app.url("/broadcasting/auth"))
        .form(&[
            ("socket_id", client.socket_id.as_str()),
            ("channel_name", channel.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let other_user = client
        .authorize(&app, &room.guest, "private-App.Models.User.someone-else")
        .await;
    assert_eq!(other_user.status, 403);

    // Each forged subscription is refused on the channel, and the connection goes on.
    assert_eq!(
        refused(&mut client, &channel, json!({ "channel": channel })).await,
        401,
        "no signature"
    );
    assert_eq!(
        refused(
            &mut client,
            &channel,
            json!({ "channel": channel, "auth": "spotik-key:00ff" })
        )
        .await,
        401,
        "a made-up signature"
    );
    // A genuine signature issued to another socket.
    let other_socket = PusherClient::connect(&app).await;
    let theirs = other_socket.authorize(&app, &room.guest, &channel).await;
    assert_eq!(
        refused(
            &mut client,
            &channel,
            json!({ "channel": channel, "auth": theirs.body["auth"], "channel_data": theirs.body["channel_data"] })
        )
        .await,
        401,
        "another socket's signature"
    );
    // The right signature with the channel data altered to claim another user.
    let mine = client.authorize(&app, &room.guest, &channel).await;
    let forged_data = mine.body["channel_data"].as_str().unwrap().replace("guest", "admin");
    assert_eq!(
        refused(
            &mut client,
            &channel,
            json!({ "channel": channel, "auth": mine.body["auth"], "channel_data": forged_data })
        )
        .await,
        401,
        "channel data altered after signing"
    );
    for garbage in ["not json", "{\"event\":42}", "[]", "{\"data\":{}}"] {
        client
            .socket
            .send(tokio_tungstenite::tungstenite::Message::text(garbage))
            .await
            .unwrap();
        let error = client.expect("pusher:error").await;
        assert!(error["data"]["message"].is_string(), "{garbage}: {error}");
    }
    client
        .send(json!({ "event": "client-typing", "channel": channel, "data": {} }))
        .await;
    client.expect("pusher:error").await;
    client.send(json!({ "event": "pusher:ping", "data": {} })).await;
    client.expect("pusher:pong").await;

    // An oversized frame closes that connection only (1009)…
    let mut big = PusherClient::connect(&app).await;
    big.send(json!({ "event": "pusher:ping", "data": "x".repeat(20_000) }))
        .await;
    assert_eq!(close_code(&mut big.socket).await, Some(1009));
    // …and the participant's subscription still receives events.
    app.upload(&room.id, &room.admin, "tone-1500ms.wav").await;
    listener.expect("App\\Events\\track\\added").await;
}

#[tokio::test]
async fn presence_channels_list_members_and_announce_arrivals_and_departures() {
    let app = spawn_app().await;
    let room = room_with_guest(&app).await;
    let channel = format!("presence-room.{}", room.id);
    let mut admin = PusherClient::connect(&app).await;
    let first = admin.subscribe(&app, &room.admin, &channel).await;
    assert_eq!(first["data"]["presence"]["count"], 1);
    let mut guest = PusherClient::connect(&app).await;
    let second = guest.subscribe(&app, &room.guest, &channel).await;
    assert_eq!(second["data"]["presence"]["count"], 2);
    let names: Vec<&str> = second["data"]["presence"]["hash"]
        .as_object()
        .unwrap()
        .values()
        .map(|info| info["username"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"admin") && names.contains(&"guest"), "{names:?}");
    let added = admin.expect("pusher_internal:member_added").await;
    assert_eq!(added["data"]["user_info"]["username"], "guest");
    let guest_id = added["data"]["user_id"].clone();
    // A second tab of the same user is not a new member.
    let mut guest_tab = PusherClient::connect(&app).await;
    guest_tab.subscribe(&app, &room.guest, &channel).await;
    guest.socket.close(None).await.unwrap();
    assert!(
        admin.next(Duration::from_millis(300)).await.is_none(),
        "the guest is still there in another tab"
    );
    guest_tab.socket.close(None).await.unwrap();
    let removed = admin.expect("pusher_internal:member_removed").await;
    assert_eq!(removed["data"]["user_id"], guest_id);
}

#[tokio::test]
async fn leaving_the_room_or_logging_out_ends_the_subscription() {
    let app = spawn_app().await;
    let room = room_with_guest(&app).await;
    let channel = format!("private-room.{}", room.id);
    let mut guest = PusherClient::connect(&app).await;
    guest.subscribe(&app, &room.guest, &channel).await;
    app.post(&format!("/rooms/{}/leave", room.id), &room.guest, json!({}))
        .await;
    guest.expect("App\\Events\\user\\left").await;
    let ended = guest.expect("pusher:subscription_error").await;
    assert_eq!(ended["data"]["status"], 403);
    app.upload(&room.id, &room.admin, "tone-1500ms.wav").await;
    let admin_sees = {
        let mut admin = PusherClient::connect(&app).await;
        admin.subscribe(&app, &room.admin, &channel).await;
        app.upload(&room.id, &room.admin, "tone-1500ms.flac").await;
        admin.expect("App\\Events\\track\\added").await
    };
    assert!(admin_sees["data"]["seq"].is_number());
    while let Some(frame) = guest.next(Duration::from_millis(200)).await {
        assert_ne!(
            frame["event"], "App\\Events\\track\\added",
            "a leaver hears nothing more"
        );
    }

    // Logging out revokes the token: what it authorised ends.
    let (other, _) = app.user("other").await;
    app.post(&format!("/rooms/{}/join", room.id), &other, json!({})).await;
    let mut client = PusherClient::connect(&app).await;
    client.subscribe(&app, &other, &channel).await;
    assert_eq!(app.post("/auth/logout", &other, json!({})).await.status, 200);
    let revoked = client.expect("pusher:subscription_error").await;
    assert_eq!(revoked["data"]["status"], 401);
}

/// No setting needed: the front end's `.listen('track.added')` waits for
/// laravel-echo's `App\Events\track\added`, and that is what goes out.
#[tokio::test]
async fn by_default_laravel_echo_gets_the_names_it_listens_for() {
    let app = spawn_app().await;
    let room = room_with_guest(&app).await;
    let mut client = PusherClient::connect(&app).await;
    client
        .subscribe(&app, &room.guest, &format!("private-room.{}", room.id))
        .await;
    app.upload(&room.id, &room.admin, "tone-1500ms.wav").await;
    client.expect("App\\Events\\track\\added").await;
    client.expect("App\\Events\\playback\\started").await;
}

#[tokio::test]
async fn a_silent_client_is_pinged_and_dropped_if_it_never_answers() {
    let app = spawn_with(Options {
        tweak: |config| {
            config.hub.activity_timeout = Duration::from_millis(400);
            // Generous, so that a loaded CI machine does not make the answering client late.
            config.hub.pong_timeout = Duration::from_millis(2_000);
        },
        ..Options::default()
    })
    .await;
    let mut answering = PusherClient::connect(&app).await;
    let mut silent = PusherClient::connect(&app).await;
    for _ in 0..3 {
        answering.expect("pusher:ping").await;
        answering.send(json!({ "event": "pusher:pong", "data": {} })).await;
    }
    silent.expect("pusher:ping").await;
    assert_eq!(
        close_code(&mut silent.socket).await,
        Some(4201),
        "pong reply not received"
    );
    answering.send(json!({ "event": "pusher:ping", "data": {} })).await;
    answering.expect("pusher:pong").await;
}

#[tokio::test]
async fn a_track_that_ends_advances_the_room_and_says_so() {
    let app = spawn_app().await;
    let room = room_with_guest(&app).await;
    let mut client = PusherClient::connect(&app).await;
    client
        .subscribe(&app, &room.guest, &format!("private-room.{}", room.id))
        .await;
    // The first upload starts playing; the 1.5 s tone then ends by itself.
    let first = app.upload(&room.id, &room.admin, "tone-1500ms.wav").await.body["track"]["id"].clone();
    let second = app.upload(&room.id, &room.admin, "tone-1500ms.flac").await.body["track"]["id"].clone();
    let skipped = client.expect("App\\Events\\track\\skipped").await;
    assert_eq!(skipped["data"]["previous_track"]["id"], first);
    assert_eq!(skipped["data"]["next_track"]["id"], second);
    let started = client.expect("App\\Events\\playback\\started").await;
    assert_eq!(started["data"]["track"]["id"], second);
    assert_eq!(
        started["data"]["seq"].as_i64(),
        skipped["data"]["seq"].as_i64().map(|s| s + 1),
        "numbered one after the other"
    );
}
