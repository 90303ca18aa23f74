//! A listener who joins (or reloads) while a track plays hears the room at
//! once. The front end (`useAudioPlayer.js`) loads audio only when its
//! current track changes to another one, and a late joiner already has the
//! current track from `GET /rooms/{id}`; so the joiner alone is sent a skip
//! to nothing and the start of the current track at its effective start
//! (then the pause, if paused), in both protocols.

use crate::support::*;
use crate::ws::*;
use serde_json::{json, Value};
use std::time::Duration;

/// A room playing a 30 s track for `played` before anyone else arrives.
async fn playing_room(app: &TestApp, played: Duration) -> (String, String, Value) {
    let (admin, _) = app.user("admin").await;
    let room = app.room(&admin).await;
    let track = app.upload_bytes(&room, &admin, "long.wav", long_wav(30.0)).await.body["track"].clone();
    tokio::time::sleep(played).await;
    (admin, room, track)
}

fn millis(iso: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(iso.as_str().expect("an ISO time"))
        .unwrap()
        .timestamp_millis()
}

#[tokio::test]
async fn a_native_late_joiner_is_told_to_load_and_play_at_the_current_position() {
    let app = spawn_app().await;
    let (admin, room, track) = playing_room(&app, Duration::from_millis(1200)).await;
    let mut early = NativeClient::connect(&app, &admin).await;
    early.join(&room).await;
    // What the early listener was told on joining is behind it.
    for kind in ["track_skipped", "playback_started"] {
        early.expect(kind).await;
    }
    let (guest, _) = app.user("guest").await;
    app.post(&format!("/rooms/{room}/join"), &guest, json!({})).await;
    early.expect("user_joined").await;

    let mut late = NativeClient::connect(&app, &guest).await;
    let joined = late.join(&room).await;
    assert_eq!(joined["room"]["current_track"]["id"], track["id"]);
    let cleared = next_json(&mut late.socket, PATIENCE).await.unwrap();
    assert_eq!(cleared["type"], "track_skipped", "{cleared}");
    assert!(
        cleared["data"]["next_track"].is_null(),
        "the player lets go of the track first"
    );
    let started = next_json(&mut late.socket, PATIENCE).await.unwrap();
    assert_eq!(started["type"], "playback_started", "{started}");
    let data = &started["data"];
    assert_eq!(data["track"]["id"], track["id"]);
    assert_eq!(data["catch_up"], true);
    // The front end plays from `now − playback_started_at`.
    let position = data["server_time"].as_i64().unwrap() - millis(&data["playback_started_at"]);
    assert!((1200..30_000).contains(&position), "position {position} ms");
    assert!((data["position_ms"].as_i64().unwrap() - position).abs() <= 1);
    assert_eq!(data["seq"], joined["seq"], "nothing new happened: no number taken");

    // Those already listening hear nothing of it.
    let quiet = next_json(&mut early.socket, Duration::from_millis(700)).await;
    assert!(quiet.is_none(), "the early listener got {quiet:?}");
}

#[tokio::test]
async fn a_late_joiner_of_a_paused_room_loads_the_track_paused_at_its_position() {
    let app = spawn_app().await;
    let (admin, room, track) = playing_room(&app, Duration::from_millis(600)).await;
    let paused = app
        .post(&format!("/rooms/{room}/playback/pause"), &admin, json!({}))
        .await;
    let frozen = paused.body["data"]["position"].as_f64().unwrap();
    let mut client = NativeClient::connect(&app, &admin).await;
    client.join(&room).await;
    assert!(client.expect("track_skipped").await["next_track"].is_null());
    assert_eq!(client.expect("playback_started").await["track"]["id"], track["id"]);
    let paused = client.expect("playback_paused").await;
    assert_eq!(paused["current_position"].as_f64().unwrap(), frozen);
    assert!(paused["playback_paused_at"].is_string());
}

#[tokio::test]
async fn an_idle_room_sends_nothing_after_joining() {
    let app = spawn_app().await;
    let (admin, _) = app.user("admin").await;
    let room = app.room(&admin).await;
    let mut client = NativeClient::connect(&app, &admin).await;
    client.join(&room).await;
    assert!(next_json(&mut client.socket, Duration::from_millis(500))
        .await
        .is_none());
}

#[tokio::test]
async fn a_pusher_subscriber_arriving_mid_track_gets_the_same_on_its_channel() {
    let app = spawn_with(Options {
        tweak: |config| config.hub.event_namespace = Some("App\\Events".into()),
        ..Options::default()
    })
    .await;
    let (admin, room, track) = playing_room(&app, Duration::from_millis(800)).await;
    let channel = format!("private-room.{room}");
    let mut early = PusherClient::connect(&app).await;
    early.subscribe(&app, &admin, &channel).await;
    early.expect("App\\Events\\playback\\started").await;

    let mut late = PusherClient::connect(&app).await;
    late.subscribe(&app, &admin, &channel).await;
    let cleared = late.next(PATIENCE).await.unwrap();
    assert_eq!(cleared["event"], "App\\Events\\track\\skipped", "{cleared}");
    assert_eq!(cleared["channel"], channel.as_str());
    assert!(cleared["data"]["next_track"].is_null());
    let started = late.next(PATIENCE).await.unwrap();
    assert_eq!(started["event"], "App\\Events\\playback\\started");
    assert_eq!(started["data"]["track"]["id"], track["id"]);
    let position = started["data"]["server_time"].as_i64().unwrap() - millis(&started["data"]["started_at"]);
    assert!(position >= 800, "plays from {position} ms, not from the start");
    assert!(
        early.next(Duration::from_millis(700)).await.is_none(),
        "nobody else hears it"
    );
}
