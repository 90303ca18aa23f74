//! Pusher subscriptions as a hostile client replays them (issue 19,
//! items 7 and 14): a signature stands only while its session stands and
//! its user takes part, socket ids cannot be guessed, and re-subscribing a
//! held channel costs nothing.

use crate::support::*;
use crate::ws::*;
use serde_json::{json, Value};
use std::time::Duration;

async fn member_of_new_room(app: &TestApp) -> (String, String, String) {
    let (admin, _) = app.user("admin").await;
    let (guest, _) = app.user("guest").await;
    let room = app.room(&admin).await;
    assert_eq!(
        app.post(&format!("/rooms/{room}/join"), &guest, json!({})).await.status,
        200
    );
    (admin, guest, room)
}

/// The subscribe frame pusher-js sends with a signature from the API.
async fn signed_frame(client: &PusherClient, app: &TestApp, token: &str, channel: &str) -> Value {
    let auth = client.authorize(app, token, channel).await;
    assert_eq!(auth.status, 200, "{:?}", auth.body);
    json!({
        "event": "pusher:subscribe",
        "data": { "channel": channel, "auth": auth.body["auth"], "channel_data": auth.body["channel_data"] },
    })
}

async fn answer_to(client: &mut PusherClient, frame: Value) -> Value {
    client.send(frame).await;
    loop {
        let reply = client
            .next(Duration::from_secs(5))
            .await
            .expect("an answer to the subscribe");
        if reply["event"] == "pusher_internal:subscription_succeeded" || reply["event"] == "pusher:subscription_error" {
            return reply;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_saved_subscribe_frame_is_refused_after_leaving_the_room() {
    let app = spawn_app().await;
    let (_, guest, room) = member_of_new_room(&app).await;
    let channel = format!("private-room.{room}");
    let mut client = PusherClient::connect(&app).await;
    let saved = signed_frame(&client, &app, &guest, &channel).await;
    let first = answer_to(&mut client, saved.clone()).await;
    assert_eq!(first["event"], "pusher_internal:subscription_succeeded");
    app.post(&format!("/rooms/{room}/leave"), &guest, json!({})).await;
    client.expect("pusher:subscription_error").await;
    let replayed = answer_to(&mut client, saved).await;
    assert_eq!(replayed["event"], "pusher:subscription_error", "{replayed}");
    assert_eq!(replayed["data"]["status"], 403);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signature_made_before_logout_subscribes_nothing_after_it() {
    let app = spawn_app().await;
    let (_, guest, room) = member_of_new_room(&app).await;
    let channel = format!("private-room.{room}");
    let mut client = PusherClient::connect(&app).await;
    let signed = signed_frame(&client, &app, &guest, &channel).await;
    assert_eq!(app.post("/auth/logout", &guest, json!({})).await.status, 200);
    let refused = answer_to(&mut client, signed).await;
    assert_eq!(refused["event"], "pusher:subscription_error", "{refused}");
    assert_eq!(refused["data"]["status"], 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn socket_ids_cannot_be_guessed_from_another() {
    let app = spawn_app().await;
    let mut seconds = Vec::new();
    for _ in 0..5 {
        let client = PusherClient::connect(&app).await;
        let (_, second) = client.socket_id.split_once('.').unwrap();
        seconds.push(second.parse::<u64>().unwrap());
    }
    for pair in seconds.windows(2) {
        assert!(
            pair[0].abs_diff(pair[1]) > 1_000_000,
            "consecutive socket ids: {seconds:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn re_subscribing_a_held_channel_schedules_no_more_catch_ups() {
    let app = spawn_app().await;
    let (admin, guest, room) = member_of_new_room(&app).await;
    // Playing, and long enough not to end (and say so) during the test.
    app.upload_bytes(&room, &admin, "long.wav", long_wav(60.0)).await;
    let channel = format!("private-room.{room}");
    let mut client = PusherClient::connect(&app).await;
    let frame = signed_frame(&client, &app, &guest, &channel).await;
    answer_to(&mut client, frame.clone()).await;
    // The one catch-up of the first subscription.
    let mut told = 0;
    while let Some(frame) = client.next(Duration::from_millis(600)).await {
        told += usize::from(
            frame["channel"] == channel.as_str() && !frame["event"].as_str().unwrap().starts_with("pusher"),
        );
    }
    assert!(told > 0, "a listener arriving mid-track is told the playback");
    for _ in 0..30 {
        client.send(frame.clone()).await;
    }
    let mut again = 0;
    let mut succeeded = 0;
    while let Some(reply) = client.next(Duration::from_millis(800)).await {
        if reply["event"] == "pusher_internal:subscription_succeeded" {
            succeeded += 1;
        } else if !reply["event"].as_str().unwrap().starts_with("pusher") {
            again += 1;
        }
    }
    assert_eq!(succeeded, 30, "each re-subscribe is answered");
    assert_eq!(again, 0, "no catch-up for a channel already held");
}
