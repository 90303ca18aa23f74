//! A listener who joins (or reloads) while a track plays hears the room at
//! once. The front end (`useAudioPlayer.js`) loads audio only when its
//! current track changes to another one, and a late joiner already has the
//! current track from `GET /rooms/{id}`; so the joiner alone is sent a skip
//! to nothing and the start of the current track at its effective start
//! (then the pause, if paused), in both protocols.

use crate::support::*;
use crate::ws::*;
use serde_json::json;
use std::time::Duration;

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

    // Those already listening hear nothing of it but the newcomer's
    // presence (docs/realtime.md).
    let arrived = next_json(&mut early.socket, PATIENCE).await.unwrap();
    assert_eq!(arrived["type"], "member_added", "{arrived}");
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
    let app = spawn_app().await;
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

/// The front end's native order on a fresh page load: its socket asks to
/// join the room's channel before the page's own `POST /join` commits
/// (refused: not a participant), then once more after it: the second is
/// the one that counts, and the current track follows within a second.
#[tokio::test]
async fn a_native_newcomer_in_the_pages_order_hears_the_room_within_a_second() {
    let app = spawn_with(Options {
        tweak: |config| config.hub.catch_up_delay = Duration::from_millis(750),
        ..Options::default()
    })
    .await;
    let (_, room, track) = playing_room(&app, Duration::from_millis(1200)).await;
    let (newcomer, _) = app.user("newcomer").await;
    let mut socket = NativeClient::connect(&app, &newcomer).await;
    let shown = app.get(&format!("/rooms/{room}"), &newcomer).await;
    assert_eq!(shown.body["data"]["is_participant"], false);
    socket.send("join_room", json!({ "room_id": room })).await;
    assert!(socket.expect("error").await["message"].is_string());
    assert_eq!(
        app.post(&format!("/rooms/{room}/join"), &newcomer, json!({}))
            .await
            .status,
        200
    );
    let ready = std::time::Instant::now();
    assert_eq!(socket.join(&room).await["room"]["current_track"]["id"], track["id"]);
    assert!(socket.expect("track_skipped").await["next_track"].is_null());
    assert_eq!(socket.expect("playback_started").await["track"]["id"], track["id"]);
    assert!(
        ready.elapsed() <= Duration::from_secs(1),
        "heard after {:?}",
        ready.elapsed()
    );
}

/// The subscription's authorisation asked for on one replica waits for the
/// caller's join committed on another, and then lets it subscribe.
#[tokio::test]
async fn an_authorisation_waits_for_the_callers_join_on_another_replica() {
    let app = spawn_app().await;
    let other = replica_of(&app, "redis://127.0.0.1:6379").await;
    let (admin, _) = app.user("admin").await;
    let room = app.room(&admin).await;
    let (newcomer, _) = app.user("newcomer").await;
    let channel = format!("private-room.{room}");
    let mut client = PusherClient::connect(&app).await;
    let asked = std::time::Instant::now();
    let (auth, joined) = tokio::join!(client.authorize(&app, &newcomer, &channel), async {
        tokio::time::sleep(Duration::from_millis(400)).await;
        other.post(&format!("/rooms/{room}/join"), &newcomer, json!({})).await
    });
    assert_eq!(joined.status, 200);
    assert_eq!(auth.status, 200, "{:?}", auth.body);
    let waited = asked.elapsed();
    assert!(
        waited >= Duration::from_millis(400),
        "answered after the join, not before: {waited:?}"
    );
    assert!(
        waited < Duration::from_secs(2),
        "answered when the join came: {waited:?}"
    );
    client
        .send(json!({
            "event": "pusher:subscribe",
            "data": { "channel": channel, "auth": auth.body["auth"], "channel_data": auth.body["channel_data"] },
        }))
        .await;
    client.expect("pusher_internal:subscription_succeeded").await;
}

/// Nobody who does not join gets in: refused after the wait, at once for a
/// room that does not exist, and one user parks at most four waits.
#[tokio::test]
async fn waiting_for_a_join_lets_no_one_in_and_costs_a_bounded_wait() {
    let app = spawn_with(Options {
        tweak: |config| config.hub.auth_join_wait = Duration::from_millis(1500),
        ..Options::default()
    })
    .await;
    let (admin, _) = app.user("admin").await;
    let room = app.room(&admin).await;
    let (stranger, _) = app.user("stranger").await;
    let channel = format!("private-room.{room}");
    let client = PusherClient::connect(&app).await;

    let asked = std::time::Instant::now();
    let refused = client.authorize(&app, &stranger, &channel).await;
    assert_eq!(refused.status, 403, "{:?}", refused.body);
    let waited = asked.elapsed();
    assert!(
        (Duration::from_millis(1400)..Duration::from_secs(3)).contains(&waited),
        "refused when the wait ran out: {waited:?}"
    );

    let asked = std::time::Instant::now();
    let missing = format!("private-room.{}", uuid::Uuid::new_v4());
    assert_eq!(client.authorize(&app, &stranger, &missing).await.status, 403);
    assert!(asked.elapsed() < Duration::from_millis(700), "no room, no wait");

    let asked = std::time::Instant::now();
    let answers = futures_util::future::join_all((0..6).map(|_| async {
        let answer = client.authorize(&app, &stranger, &channel).await;
        (answer.status, asked.elapsed())
    }))
    .await;
    let at_once = answers
        .iter()
        .filter(|(status, took)| *status == 403 && *took < Duration::from_millis(700))
        .count();
    let parked = answers
        .iter()
        .filter(|(status, took)| *status == 403 && *took >= Duration::from_millis(1400))
        .count();
    assert_eq!((parked, at_once), (4, 2), "{answers:?}");
    assert_eq!(app.state.hub.followers.open(), 0, "every place given back");
}

/// Strangers' parked subscriptions, from many addresses, fill every place
/// a replica has for waiting; a newcomer whose join is on its way still
/// gets its subscription (laravel-echo would never ask again), and so does
/// one sharing an address with a crowd of them.
#[tokio::test(flavor = "multi_thread")]
async fn strangers_waiting_for_joins_never_refuse_a_newcomer() {
    const PER_USER: usize = 4;
    const PER_CLIENT: usize = 16;
    const IN_ALL: usize = 1024;
    let app = spawn_with(Options {
        tweak: |config| {
            config.hub.auth_join_wait = Duration::from_secs(20);
            config.request_timeout = Duration::from_secs(60);
            config.argon2_memory_kib = 1024;
            config.trusted_proxies = spotik_api::http::client_addr::TrustedProxies::parse("127.0.0.1").unwrap();
        },
        ..Options::default()
    })
    .await;
    let (admin, _) = app.user("admin").await;
    let room = app.room(&admin).await;
    let channel = format!("private-room.{room}");
    let strangers = futures_util::future::join_all((0..IN_ALL / PER_USER).map(|n| {
        let app = &app;
        async move { app.user(&format!("stranger{n}")).await.0 }
    }))
    .await;
    let authorize = {
        let (url, channel) = (app.url("/broadcasting/auth"), channel.clone());
        let client = reqwest::Client::new();
        move |token: String, client_address: String| {
            let (url, channel, client) = (url.clone(), channel.clone(), client.clone());
            async move {
                client
                    .post(url)
                    .bearer_auth(token)
                    .header("X-Forwarded-For", client_address)
                    .form(&[("socket_id", "1234.5678"), ("channel_name", channel.as_str())])
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
            }
        }
    };
    let address = |n: usize| format!("10.1.{}.{}", n / PER_CLIENT, n % PER_CLIENT + 1);
    let parked: Vec<_> = (0..IN_ALL)
        .map(|n| tokio::spawn(authorize(strangers[n / PER_USER].clone(), address(n))))
        .collect();
    let mut waited = 0;
    while app.state.hub.followers.open() < IN_ALL {
        assert!(waited < 300, "{} of {IN_ALL} waiting", app.state.hub.followers.open());
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += 1;
    }

    // A newcomer from elsewhere subscribes, then its join commits.
    let (newcomer, _) = app.user("newcomer").await;
    let subscribed = tokio::spawn(authorize(newcomer.clone(), "192.0.2.1".into()));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        app.post(&format!("/rooms/{room}/join"), &newcomer, json!({}))
            .await
            .status,
        200
    );
    assert_eq!(subscribed.await.unwrap().unwrap(), 200, "the newcomer listens");

    // One behind the same address as sixteen strangers, likewise.
    let (neighbour, _) = app.user("neighbour").await;
    let subscribed = tokio::spawn(authorize(neighbour.clone(), address(0)));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        app.post(&format!("/rooms/{room}/join"), &neighbour, json!({}))
            .await
            .status,
        200
    );
    assert_eq!(subscribed.await.unwrap().unwrap(), 200, "the neighbour listens");

    // The strangers whose places were taken were told no, early; nobody who
    // did not join was let in.
    let mut refused = 0;
    for waiting in &parked {
        if waiting.is_finished() {
            refused += 1;
        }
    }
    assert!((1..=2).contains(&refused), "{refused} strangers answered early");
    for waiting in parked {
        if waiting.is_finished() {
            assert_eq!(waiting.await.unwrap().unwrap(), 403);
        } else {
            waiting.abort();
        }
    }
}
