//! Sockets from anonymous visitors cannot take every descriptor (issue 19,
//! item 8): connections and WebSockets are capped, in all and per client,
//! plain requests keep room, and sockets that never subscribe are closed.

use crate::support::*;
use crate::ws::*;
use std::time::Duration;

fn open_descriptors(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

#[tokio::test(flavor = "multi_thread")]
async fn six_hundred_anonymous_sockets_leave_ping_and_health_answering() {
    let database = TestDatabase::create();
    let database_url = database.url.clone();
    let media = tempfile::tempdir().unwrap();
    let port = free_port();
    let api = ApiProcess::start_with(&database_url, media.path(), port, |command| {
        command.env("WS_MAX_PER_CLIENT", "10000");
        limit_descriptors(command, 512);
    })
    .await;
    let url = format!("ws://127.0.0.1:{port}/app/spotik-key?protocol=7");
    let mut held = Vec::new();
    let mut refused = 0;
    for _ in 0..600 {
        match tokio::time::timeout(Duration::from_secs(2), tokio_tungstenite::connect_async(&url)).await {
            Ok(Ok((socket, _))) => held.push(socket),
            _ => refused += 1,
        }
    }
    assert!(
        refused > 0,
        "600 sockets under a 512-descriptor limit: some must be refused"
    );
    assert!(
        open_descriptors(api.child.id()) < 512,
        "descriptors in reserve: {} open",
        open_descriptors(api.child.id())
    );
    for path in ["/api/ping", "/api/health"] {
        let answered = tokio::time::timeout(
            Duration::from_secs(5),
            reqwest::get(format!("http://127.0.0.1:{port}{path}")),
        )
        .await;
        assert!(
            matches!(&answered, Ok(Ok(r)) if r.status().as_u16() < 500 || path.ends_with("health")),
            "{path} answers with {} sockets held: {answered:?}",
            held.len()
        );
    }
    drop(held);
}

#[tokio::test(flavor = "multi_thread")]
async fn one_address_holds_only_its_share_of_sockets() {
    let app = spawn_with(Options {
        tweak: |c| c.hub.max_sockets_per_client = 3,
        ..Options::default()
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(PusherClient::connect(&app).await);
    }
    let url = format!("ws://{}/app/spotik-key?protocol=7", app.addr);
    match tokio_tungstenite::connect_async(&url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => assert_eq!(response.status(), 503),
        other => panic!("a fourth socket from one address: {:?}", other.map(|_| ())),
    }
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    PusherClient::connect(&app).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_socket_that_never_subscribes_is_closed() {
    let app = spawn_with(Options {
        tweak: |c| c.hub.subscribe_timeout = Duration::from_secs(1),
        ..Options::default()
    })
    .await;
    let mut idle = PusherClient::connect(&app).await;
    let closed = tokio::time::timeout(Duration::from_secs(5), close_code(&mut idle.socket)).await;
    assert_eq!(closed.ok().flatten(), Some(4200));
}

/// Public channels carry nothing in Spotik: holding one does not keep an
/// anonymous socket open past the subscribe timeout, while a room's
/// private channel does.
#[tokio::test(flavor = "multi_thread")]
async fn a_socket_holding_only_public_channels_is_closed_and_a_listener_is_not() {
    let app = spawn_with(Options {
        tweak: |c| c.hub.subscribe_timeout = Duration::from_secs(1),
        ..Options::default()
    })
    .await;
    let mut public = PusherClient::connect(&app).await;
    public
        .send(serde_json::json!({ "event": "pusher:subscribe", "data": { "channel": "lobby" } }))
        .await;
    public.expect("pusher_internal:subscription_succeeded").await;
    let (admin, _) = app.user("admin").await;
    let room = app.room(&admin).await;
    let mut listener = PusherClient::connect(&app).await;
    listener.subscribe(&app, &admin, &format!("private-room.{room}")).await;

    let closed = tokio::time::timeout(Duration::from_secs(5), close_code(&mut public.socket)).await;
    assert_eq!(closed.ok().flatten(), Some(4200), "the public-only socket is closed");
    let kept = tokio::time::timeout(Duration::from_millis(1500), close_code(&mut listener.socket)).await;
    assert!(kept.is_err(), "the room's listener stays: {kept:?}");
}
