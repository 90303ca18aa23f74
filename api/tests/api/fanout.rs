//! Events across API processes through Redis, the Pusher HTTP API, and
//! clients too slow to keep up.

use crate::support::*;
use crate::ws::*;
use serde_json::{json, Value};
use spotik_shared::pusher_auth::sign_request;
use std::time::Duration;

/// Waits until `app`'s hub holds its Redis subscription.
async fn bus_ready(app: &TestApp) {
    for _ in 0..200 {
        if app.state.hub.stats.bus_connected() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the hub never subscribed to Redis");
}

#[tokio::test]
async fn clients_of_one_process_receive_events_raised_on_another() {
    let app = spawn_app().await;
    let other = replica_of(&app, "redis://127.0.0.1:6379").await;
    bus_ready(&app).await;
    bus_ready(&other).await;
    let (admin, _) = app.user("admin").await;
    let room = app.room(&admin).await;
    let channel = format!("private-room.{room}");
    // Connected to the other process, in both protocols.
    let mut pusher = PusherClient::connect(&other).await;
    pusher.subscribe(&other, &admin, &channel).await;
    let mut native = NativeClient::connect(&other, &admin).await;
    native.join(&room).await;
    let mut local = PusherClient::connect(&app).await;
    local.subscribe(&app, &admin, &channel).await;

    let track = app.upload(&room, &admin, "tone-1500ms.wav").await.body["track"]["id"].clone();
    assert_eq!(
        pusher.expect("App\\Events\\track\\added").await["data"]["track"]["id"],
        track
    );
    assert_eq!(native.expect("track_added").await["track"]["id"], track);
    // Exactly once each, whether raised here or elsewhere.
    let here = local.expect("App\\Events\\track\\added").await;
    let mut repeats = 0;
    while let Some(frame) = local.next(Duration::from_millis(300)).await {
        repeats +=
            usize::from(frame["event"] == "App\\Events\\track\\added" && frame["data"]["seq"] == here["data"]["seq"]);
    }
    assert_eq!(repeats, 0, "no duplicate from the bus");
    // And the other way round.
    other
        .post(&format!("/rooms/{room}/playback/pause"), &admin, json!({}))
        .await;
    local.expect("App\\Events\\playback\\paused").await;
}

#[tokio::test]
async fn events_flow_again_after_redis_restarts() {
    let port = free_port();
    let mut redis = PrivateRedis::start(port);
    let url = format!("redis://127.0.0.1:{port}");
    let app = spawn_with(Options {
        redis_url: url.clone(),
        ..Options::default()
    })
    .await;
    let other = replica_of(&app, &url).await;
    bus_ready(&app).await;
    bus_ready(&other).await;
    let (admin, _) = app.user("admin").await;
    let room = app.room(&admin).await;
    let mut client = PusherClient::connect(&other).await;
    client.subscribe(&other, &admin, &format!("private-room.{room}")).await;
    // Long enough to be still playing when the test pauses it.
    app.upload_bytes(&room, &admin, "long.wav", long_wav(30.0)).await;
    client.expect("App\\Events\\track\\added").await;

    redis.stop();
    // Raised while Redis is down: the REST call still succeeds.
    let during = app.upload(&room, &admin, "tone-1500ms.flac").await;
    assert_eq!(during.status, 201);
    let _restarted = PrivateRedis::start(port);
    bus_ready(&other).await;
    // The publisher notices Redis again within about a second (cache.rs);
    // from then on one event is enough: a lost one fails the test.
    for _ in 0..40 {
        let health = answer(app.client.get(app.url("/health")).send().await.unwrap()).await;
        if health.body["checks"]["redis"]["status"] == "ok" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let paused = app
        .post(&format!("/rooms/{room}/playback/pause"), &admin, json!({}))
        .await;
    assert_eq!(paused.status, 200);
    let frame = client.expect("App\\Events\\playback\\paused").await;
    assert_eq!(
        frame["data"]["seq"], paused.body["data"]["seq"],
        "events from the other process arrive again"
    );
    // The subscription itself survived: no re-subscribe was needed.
    client.send(json!({ "event": "pusher:ping", "data": {} })).await;
    client.expect("pusher:pong").await;
}

async fn signed_post(app: &TestApp, path: &str, body: &Value, secret: &str, timestamp: i64) -> reqwest::StatusCode {
    let body = body.to_string();
    let key = &app.state.config.hub.app_key;
    let query = sign_request(key, secret, "POST", path, &[], body.as_bytes(), timestamp);
    app.client
        .post(format!("http://{}{path}?{query}", app.addr))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
}

async fn signed_get(app: &TestApp, path: &str, params: &[(&str, &str)]) -> Value {
    let hub = &app.state.config.hub;
    let now = chrono::Utc::now().timestamp();
    let query = sign_request(&hub.app_key, &hub.app_secret, "GET", path, params, b"", now);
    let response = app
        .client
        .get(format!("http://{}{path}?{query}", app.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn the_http_api_publishes_signed_events_and_refuses_the_rest() {
    let app = spawn_app().await;
    let hub = app.state.config.hub.clone();
    let mut client = PusherClient::connect(&app).await;
    client
        .send(json!({ "event": "pusher:subscribe", "data": { "channel": "news" } }))
        .await;
    client.expect("pusher_internal:subscription_succeeded").await;
    let mut publisher = PusherClient::connect(&app).await;
    publisher
        .send(json!({ "event": "pusher:subscribe", "data": { "channel": "news" } }))
        .await;
    publisher.expect("pusher_internal:subscription_succeeded").await;

    let path = format!("/apps/{}/events", hub.app_id);
    let now = chrono::Utc::now().timestamp();
    let event = json!({ "name": "headline", "channels": ["news"], "data": "{\"text\":\"hello\"}", "socket_id": publisher.socket_id });
    assert_eq!(signed_post(&app, &path, &event, &hub.app_secret, now).await, 200);
    let frame = client.expect("headline").await;
    assert_eq!(frame["channel"], "news");
    assert_eq!(frame["data"]["text"], "hello");
    assert!(
        publisher.next(Duration::from_millis(300)).await.is_none(),
        "the publisher's own socket is left out"
    );

    assert_eq!(signed_post(&app, &path, &event, "wrong-secret", now).await, 401);
    assert_eq!(
        signed_post(&app, &path, &event, &hub.app_secret, now - 601).await,
        401,
        "stale"
    );
    let unsigned = app
        .client
        .post(format!("http://{}{path}", app.addr))
        .body(event.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401);
    // The body is bound by body_md5: a different body with the same query fails.
    let query = sign_request(
        &hub.app_key,
        &hub.app_secret,
        "POST",
        &path,
        &[],
        event.to_string().as_bytes(),
        now,
    );
    let swapped = app
        .client
        .post(format!("http://{}{path}?{query}", app.addr))
        .body(json!({ "name": "evil", "channels": ["news"], "data": "{}" }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(swapped.status(), 401);
    let elsewhere = signed_post(&app, "/apps/unknown/events", &event, &hub.app_secret, now).await;
    assert_eq!(elsewhere, 404);
    assert!(
        client.next(Duration::from_millis(300)).await.is_none(),
        "nothing refused was delivered"
    );

    let batch = json!({ "batch": [
        { "channel": "news", "name": "one", "data": "{}" },
        { "channel": "news", "name": "two", "data": "{}" },
    ] });
    let batch_path = format!("/apps/{}/batch_events", hub.app_id);
    assert_eq!(signed_post(&app, &batch_path, &batch, &hub.app_secret, now).await, 200);
    client.expect("one").await;
    client.expect("two").await;
    let oversized = json!({ "name": "big", "channels": ["news"], "data": "x".repeat(11 * 1024) });
    assert_eq!(signed_post(&app, &path, &oversized, &hub.app_secret, now).await, 413);

    let channels = signed_get(
        &app,
        &format!("/apps/{}/channels", hub.app_id),
        &[("info", "subscription_count")],
    )
    .await;
    assert_eq!(channels["channels"]["news"]["subscription_count"], 2);
    let one = signed_get(&app, &format!("/apps/{}/channels/news", hub.app_id), &[]).await;
    assert_eq!(one["occupied"], true);
    let empty = signed_get(&app, &format!("/apps/{}/channels/nobody-here", hub.app_id), &[]).await;
    assert_eq!(empty["occupied"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_closed_and_the_others_miss_nothing() {
    let app = spawn_with(Options {
        tweak: |config| config.hub.client_buffer_frames = 32,
        ..Options::default()
    })
    .await;
    let hub = app.state.config.hub.clone();
    let mut reader = PusherClient::connect(&app).await;
    reader
        .send(json!({ "event": "pusher:subscribe", "data": { "channel": "firehose" } }))
        .await;
    reader.expect("pusher_internal:subscription_succeeded").await;
    let mut stalled = PusherClient::connect(&app).await;
    stalled
        .send(json!({ "event": "pusher:subscribe", "data": { "channel": "firehose" } }))
        .await;
    stalled.expect("pusher_internal:subscription_succeeded").await;

    // The reader counts what it receives; the publisher keeps at most 200
    // events ahead of it, so a client that reads is never the one cut off.
    let received = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let reading = {
        let received = std::sync::Arc::clone(&received);
        tokio::spawn(async move {
            while received.load(std::sync::atomic::Ordering::Relaxed) < 4_000 {
                let frame = reader.next(PATIENCE).await.expect("the reading client keeps receiving");
                if frame["event"] == "tick" {
                    received.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        })
    };
    // ~40 MB of events: more than the stalled client's socket buffers hold.
    let path = format!("/apps/{}/batch_events", hub.app_id);
    let payload = "x".repeat(10_000);
    for sent in (0..4_000).step_by(10) {
        while sent - received.load(std::sync::atomic::Ordering::Relaxed) > 200 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let batch: Vec<Value> = (0..10)
            .map(|_| json!({ "channel": "firehose", "name": "tick", "data": payload }))
            .collect();
        let body = json!({ "batch": batch }).to_string();
        let now = chrono::Utc::now().timestamp();
        let query = sign_request(&hub.app_key, &hub.app_secret, "POST", &path, &[], body.as_bytes(), now);
        let response = app
            .client
            .post(format!("http://{}{path}?{query}", app.addr))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    reading.await.unwrap();
    let received = received.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(received, 4_000, "the reading client got every event");
    // As the figures tell it (`/api/metrics`' websocket section).
    assert!(app.state.hub.stats.snapshot().slow_clients_closed >= 1);
    // What reached the stalled client's buffers before it was cut off, then the end.
    let mut stalled_got = 0;
    while let Some(frame) = stalled.next(PATIENCE).await {
        stalled_got += usize::from(frame["event"] == "tick");
    }
    assert!(
        stalled_got < 4_000,
        "the stalled client was cut off ({stalled_got} events)"
    );
}

#[tokio::test]
async fn presence_members_are_the_same_seen_from_every_process() {
    let app = spawn_app().await;
    let (admin, admin_id) = app.user("admin").await;
    let (guest, guest_id) = app.user("guest").await;
    let room = app.room(&admin).await;
    app.post(&format!("/rooms/{room}/join"), &guest, json!({})).await;
    let channel = format!("presence-room.{room}");
    bus_ready(&app).await;
    let mut here = PusherClient::connect(&app).await;
    here.subscribe(&app, &admin, &channel).await;

    // A process started afterwards learns who is already there.
    let other = replica_of(&app, "redis://127.0.0.1:6379").await;
    bus_ready(&other).await;
    let mut there = PusherClient::connect(&other).await;
    let mut roster = Value::Null;
    for _ in 0..40 {
        roster = there.subscribe(&other, &guest, &channel).await["data"]["presence"].clone();
        if roster["count"] == 2 {
            break;
        }
        // Not yet heard of the admin: try again once the answer to hello is in.
        there
            .send(json!({ "event": "pusher:unsubscribe", "data": { "channel": channel } }))
            .await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(roster["count"], 2, "{roster}");
    assert!(roster["hash"].get(&admin_id).is_some() && roster["hash"].get(&guest_id).is_some());
    let added = here.expect("pusher_internal:member_added").await;
    assert_eq!(added["data"]["user_id"], guest_id);

    // The member list of the HTTP API counts both, asked of either process.
    for app in [&app, &other] {
        let users = signed_get(
            app,
            &format!("/apps/{}/channels/{channel}/users", app.state.config.hub.app_id),
            &[],
        )
        .await;
        assert_eq!(users["users"].as_array().unwrap().len(), 2, "{users}");
    }
    // Subscription counts are summed over the processes too (asked again if
    // the other process was too busy to answer within the census's window).
    for app in [&app, &other] {
        let path = format!("/apps/{}/channels", app.state.config.hub.app_id);
        let params = [
            ("filter_by_prefix", "presence-"),
            ("info", "subscription_count,user_count"),
        ];
        let mut channels = Value::Null;
        for _ in 0..10 {
            channels = signed_get(app, &path, &params).await;
            if channels["channels"][&channel]["subscription_count"] == 2 {
                break;
            }
        }
        assert_eq!(channels["channels"][&channel]["subscription_count"], 2, "{channels}");
        assert_eq!(channels["channels"][&channel]["user_count"], 2, "{channels}");
    }
    while here.next(Duration::from_millis(200)).await.is_some() {}
    there.socket.close(None).await.unwrap();
    let removed = here.expect("pusher_internal:member_removed").await;
    assert_eq!(removed["data"]["user_id"], guest_id);
}
