//! WebSocket fan-out: N Pusher-protocol subscribers on one channel, events
//! published one after another, and the time from each publish to its
//! arrival at every subscriber.
//!
//! Publishing is either through Pusher's signed HTTP API (any Pusher server:
//! spotik-api, Sockudo, …) or, for spotik-api, by voting in a room
//! (`--vote`), which is the whole path of a real event: REST call,
//! PostgreSQL transaction, hub, sockets. Events are sent one at a time, each
//! after the previous request was answered, so the k-th event a subscriber
//! receives is the k-th sent and its latency is `received − sent[k]`.
//! With `--native`, the subscribers are the front end's own: `/ws?token=`,
//! `join_room`, `track_voted` (a vote publishes, with its token and room).
//!
//! With `--publish-server`, events are published on another server than the
//! subscribers' (two replicas of spotik-api: the bus between them).
//!
//! ```text
//! fanout --ws 127.0.0.1:8000 --key spotik-key --secret spotik-secret --app-id spotik \
//!        --subscribers 1000 --events 200 --interval-ms 20
//! ```

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use spotik_loadtest::Http;
use spotik_shared::pusher_auth;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

struct Options {
    server: SocketAddr,
    /// Where events are published (`--publish-server`; the subscribers'
    /// server by default): another replica, to measure the bus between them.
    publish_server: SocketAddr,
    app_id: String,
    key: String,
    secret: String,
    channel: String,
    subscribers: usize,
    events: usize,
    interval: Duration,
    payload_bytes: usize,
    /// Publish by voting: `/api` token, room and track.
    vote: Option<(String, String, String)>,
    /// Subscribers on the front end's native `/ws` (with the vote's token)
    /// instead of the Pusher protocol.
    native: bool,
    label: String,
}

fn options() -> Options {
    let args = spotik_loadtest::Args::from_env();
    let get = |name: &str| args.get(name);
    let number = |name: &str, default: usize| get(name).map_or(default, |v| v.parse().expect(name));
    let vote = match (get("--token"), get("--room"), get("--track")) {
        (Some(token), Some(room), Some(track)) => Some((token, room, track)),
        _ => None,
    };
    let channel = match &vote {
        Some((_, room, _)) => format!("private-room.{room}"),
        None => get("--channel").unwrap_or_else(|| "bench".into()),
    };
    let server = get("--server")
        .unwrap_or_else(|| "127.0.0.1:8000".into())
        .parse()
        .expect("--server host:port");
    Options {
        server,
        publish_server: get("--publish-server").map_or(server, |s| s.parse().expect("--publish-server host:port")),
        app_id: get("--app-id").unwrap_or_else(|| "spotik".into()),
        key: get("--key").unwrap_or_else(|| "spotik-key".into()),
        secret: get("--secret").unwrap_or_else(|| "spotik-secret".into()),
        channel,
        subscribers: number("--subscribers", 1000),
        events: number("--events", 200),
        interval: Duration::from_millis(number("--interval-ms", 20) as u64),
        payload_bytes: number("--payload-bytes", 400),
        native: args.has("--native"),
        vote,
        label: get("--label").unwrap_or_else(|| "server".into()),
    }
}

/// One subscriber: connects, subscribes, then records when each event arrives.
async fn subscriber(
    options: Arc<Options>,
    sent: Arc<Vec<AtomicU64>>,
    epoch: Instant,
    ready: Arc<AtomicUsize>,
) -> Vec<u64> {
    if options.native {
        return native_subscriber(options, sent, epoch, ready).await;
    }
    let url = format!(
        "ws://{}/app/{}?protocol=7&client=spotik-fanout&version=1",
        options.server, options.key
    );
    // A small read buffer: tungstenite zero-fills it on every read.
    let config = WebSocketConfig::default().read_buffer_size(16 * 1024);
    let (mut socket, _) = tokio_tungstenite::connect_async_with_config(&url, Some(config), true)
        .await
        .expect("connect");
    let socket_id = loop {
        let Some(Ok(Message::Text(text))) = socket.next().await else {
            panic!("no connection_established")
        };
        let frame: Value = serde_json::from_str(&text).unwrap();
        if frame["event"] == "pusher:connection_established" {
            let data: Value = serde_json::from_str(frame["data"].as_str().unwrap()).unwrap();
            break data["socket_id"].as_str().unwrap().to_owned();
        }
    };
    let mut data = json!({ "channel": options.channel });
    if options.channel.starts_with("private-") {
        data["auth"] =
            pusher_auth::sign_channel(&options.key, &options.secret, &socket_id, &options.channel, None).into();
    }
    let subscribe = json!({ "event": "pusher:subscribe", "data": data }).to_string();
    socket.send(Message::text(subscribe)).await.expect("subscribe");
    // A vote goes out as laravel-echo's `App\Events\track\voted` (JSON
    // escapes its backslashes) unless the server sends short names.
    let wanted: &[&str] = if options.vote.is_some() {
        &["track.voted", r"track\\voted"]
    } else {
        &["bench"]
    };
    let mut latencies = Vec::with_capacity(options.events);
    while let Some(Ok(message)) = socket.next().await {
        let Message::Text(text) = message else { continue };
        let now = epoch.elapsed().as_micros() as u64;
        // The event name sits at the start of every frame; no need to parse the rest.
        if text.contains("pusher_internal:subscription_succeeded") {
            ready.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        if !wanted.iter().any(|name| text.contains(name)) {
            continue;
        }
        if arrived(&mut latencies, &sent, now, options.events) {
            break;
        }
    }
    latencies
}

/// Records the arrival of the next event at `now`; true once all have come.
/// The k-th event a subscriber receives is the k-th sent.
fn arrived(latencies: &mut Vec<u64>, sent: &[AtomicU64], now: u64, events: usize) -> bool {
    let k = latencies.len();
    latencies.push(now.saturating_sub(sent[k].load(Ordering::Acquire)));
    latencies.len() == events
}

/// A subscriber of the front end's native protocol: joins the vote's room
/// with the vote's token, then records when each `track_voted` arrives.
async fn native_subscriber(
    options: Arc<Options>,
    sent: Arc<Vec<AtomicU64>>,
    epoch: Instant,
    ready: Arc<AtomicUsize>,
) -> Vec<u64> {
    let (token, room, _) = options.vote.as_ref().expect("--native needs --token --room --track");
    let url = format!("ws://{}/ws?token={token}", options.server);
    let mut socket = spotik_loadtest::socket::join_room(&url, room).await;
    let mut latencies = Vec::with_capacity(options.events);
    while let Some(Ok(message)) = socket.next().await {
        let Message::Text(text) = message else { continue };
        let now = epoch.elapsed().as_micros() as u64;
        if text.contains("\"room_joined\"") {
            ready.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        if !text.contains("\"track_voted\"") {
            continue;
        }
        if arrived(&mut latencies, &sent, now, options.events) {
            break;
        }
    }
    latencies
}

async fn publish(options: Arc<Options>, sent: Arc<Vec<AtomicU64>>, epoch: Instant) {
    let mut http = Http::connect(options.publish_server).await;
    let padding = "x".repeat(options.payload_bytes);
    let mut next = tokio::time::Instant::now();
    for k in 0..options.events {
        tokio::time::sleep_until(next).await;
        next += options.interval;
        let status = match &options.vote {
            Some((token, room, track)) => {
                let method = if k % 2 == 0 { "POST" } else { "DELETE" };
                let target = format!("/api/rooms/{room}/tracks/{track}/vote");
                sent[k].store(epoch.elapsed().as_micros() as u64, Ordering::Release);
                http.request(method, &target, &format!("Authorization: Bearer {token}\r\n"), b"")
                    .await
            }
            None => {
                let body = json!({
                    "name": "bench",
                    "channels": [options.channel],
                    "data": json!({ "k": k, "padding": padding }).to_string(),
                })
                .to_string();
                let path = format!("/apps/{}/events", options.app_id);
                let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
                let query =
                    pusher_auth::sign_request(&options.key, &options.secret, "POST", &path, &[], body.as_bytes(), now);
                sent[k].store(epoch.elapsed().as_micros() as u64, Ordering::Release);
                http.request(
                    "POST",
                    &format!("{path}?{query}"),
                    "Content-Type: application/json\r\n",
                    body.as_bytes(),
                )
                .await
            }
        };
        assert!((200..300).contains(&status), "publish {k} answered {status}");
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index] as f64 / 1000.0
}

#[tokio::main]
async fn main() {
    let options = Arc::new(options());
    let epoch = Instant::now();
    let sent: Arc<Vec<AtomicU64>> = Arc::new((0..options.events).map(|_| AtomicU64::new(u64::MAX)).collect());
    let ready = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut subscribers = Vec::with_capacity(options.subscribers);
    for i in 0..options.subscribers {
        subscribers.push(tokio::spawn(subscriber(
            Arc::clone(&options),
            Arc::clone(&sent),
            epoch,
            Arc::clone(&ready),
        )));
        // A gentle ramp, so that connecting is not what is measured.
        if i % 100 == 99 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    while ready.load(Ordering::Relaxed) < options.subscribers {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "subscribers did not all subscribe"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let connect_secs = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let publishing = Instant::now();
    publish(Arc::clone(&options), Arc::clone(&sent), epoch).await;
    let publish_secs = publishing.elapsed().as_secs_f64();
    let mut latencies = Vec::with_capacity(options.subscribers * options.events);
    for subscriber in subscribers {
        match tokio::time::timeout(Duration::from_secs(10), subscriber).await {
            Ok(Ok(mut received)) => latencies.append(&mut received),
            _ => eprintln!("a subscriber did not receive every event in time"),
        }
    }
    latencies.sort_unstable();
    let expected = options.subscribers * options.events;
    println!(
        "{}: {} subscribers on {}, {} events every {:?} ({}): delivered {}/{}, connect {:.1} s, publish {:.1} s",
        options.label,
        options.subscribers,
        options.channel,
        options.events,
        options.interval,
        if options.vote.is_some() { "votes" } else { "HTTP API" },
        latencies.len(),
        expected,
        connect_secs,
        publish_secs,
    );
    println!(
        "RESULT label={} delivered={} expected={} p50_ms={:.2} p90_ms={:.2} p99_ms={:.2} max_ms={:.2}",
        options.label,
        latencies.len(),
        expected,
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.90),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0),
    );
}
