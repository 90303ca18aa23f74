//! The k6 scenarios of `loadtest/k6/`, run by our own generator (k6 is not
//! installed here): listeners streaming with a player's range requests,
//! a room of voters, upload bursts, WebSocket subscribers hearing votes,
//! login/refresh churn and an administrator driving playback.
//!
//! ```text
//! scenarios [--base http://127.0.0.1:8000] [--scenario all|NAME[,NAME…]] [--concurrent]
//!           [--users N] [--seconds S] [--smoke] [--timeline] [--edge http://host:port]
//! ```
//!
//! NAME is listeners, voters, uploads, websockets, auth or playback.
//! `--concurrent` runs the chosen scenarios at once instead of in turn;
//! `--timeline` prints each failure as it happens (`FAIL t_ms= kind=`),
//! which `loadtest/chaos` lines up with the faults it causes.
//!
//! Each scenario sets up its own users and room through the API, runs for
//! the given time and prints `RESULT scenario= requests= failed= rps=
//! p50_ms= p99_ms=` and its failures by kind. `--smoke` (3 users, 2 s) is
//! what CI runs against a local stack. The exit status is 1 when a
//! scenario failed more than 1 % of its requests (any, with `--smoke`) or
//! its own check (votes counted exactly, every vote heard by every socket).

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use spotik_loadtest::client::{split_url, Client};
use spotik_loadtest::quantile;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

/// With `--timeline`, when the run started.
static TIMELINE: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

#[derive(Default)]
struct Tally {
    requests: u64,
    failures: BTreeMap<String, u64>,
    latencies_us: Vec<u64>,
    /// A scenario's own check that failed, if any.
    broken: Option<String>,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.requests += other.requests;
        for (kind, n) in other.failures {
            *self.failures.entry(kind).or_default() += n;
        }
        self.latencies_us.extend(other.latencies_us);
        self.broken = self.broken.take().or(other.broken);
    }

    fn fail(&mut self, kind: impl Into<String>) {
        let kind = kind.into();
        if let Some(start) = TIMELINE.get() {
            // Each failure as it happens, for loadtest/chaos to place it in time.
            println!("FAIL t_ms={} kind={kind}", start.elapsed().as_millis());
        }
        *self.failures.entry(kind).or_default() += 1;
    }

    fn failed(&self) -> u64 {
        self.failures.values().sum()
    }
}

/// What a client does after a failure before it tries again, as players
/// and browsers do, instead of spinning on a refused connection.
async fn backoff() {
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// One user's connection to the API, timing and counting what it asks.
struct User {
    client: Client,
    token: String,
    tally: Tally,
}

const PASSWORD: &str = "load-password-1";

impl User {
    async fn register(server: &str, name: &str) -> Result<Self, String> {
        let mut client = Client::new(server);
        let body = json!({ "username": name, "email": format!("{name}@load.test"), "password": PASSWORD, "password_confirmation": PASSWORD });
        let answer = client
            .request(
                "POST",
                "/api/auth/register",
                "Content-Type: application/json\r\n",
                body.to_string().as_bytes(),
            )
            .await?;
        let json = answer.json();
        let token = json["data"]["token"]
            .as_str()
            .ok_or_else(|| format!("register {name}: {} {json}", answer.status))?;
        Ok(Self {
            token: token.to_owned(),
            client,
            tally: Tally::default(),
        })
    }

    /// A timed request; a status outside 2xx/3xx counts as a failure of `kind`.
    async fn call(&mut self, kind: &str, method: &str, target: &str, body: Option<Value>) -> Option<Value> {
        let mut headers = format!("Authorization: Bearer {}\r\n", self.token);
        let bytes = body.map(|b| b.to_string()).unwrap_or_default();
        if !bytes.is_empty() {
            headers.push_str("Content-Type: application/json\r\n");
        }
        self.timed(kind, method, target, &headers, bytes.as_bytes())
            .await
            .map(|a| a.json())
    }

    async fn timed(
        &mut self,
        kind: &str,
        method: &str,
        target: &str,
        headers: &str,
        body: &[u8],
    ) -> Option<spotik_loadtest::client::Answer> {
        let started = Instant::now();
        let answer = self.client.request(method, target, headers, body).await;
        self.tally.requests += 1;
        self.tally.latencies_us.push(started.elapsed().as_micros() as u64);
        match answer {
            Ok(answer) if answer.status < 400 => Some(answer),
            Ok(answer) => {
                if TIMELINE.get().is_some() && answer.status < 500 {
                    // A refusal in a fault run says why: the body, shortened.
                    let why: String = String::from_utf8_lossy(&answer.body).chars().take(160).collect();
                    println!("REFUSED {kind} {} {why}", answer.status);
                }
                self.tally.fail(format!("{kind} {}", answer.status));
                backoff().await;
                None
            }
            Err(error) => {
                self.tally.fail(format!("{kind} {error}"));
                backoff().await;
                None
            }
        }
    }

    async fn upload(&mut self, room: &str, name: &str, seconds: f64) -> Option<String> {
        let boundary = "spotikloadboundary";
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"audio_file\"; filename=\"{name}.wav\"\r\nContent-Type: audio/wav\r\n\r\n"
        )
        .into_bytes();
        body.extend(spotik_shared::demo_audio::chord_wav(&[261.6, 329.6, 392.0], seconds));
        body.extend(format!("\r\n--{boundary}--\r\n").into_bytes());
        let headers = format!(
            "Authorization: Bearer {}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\n",
            self.token
        );
        let answer = self
            .timed("upload", "POST", &format!("/api/rooms/{room}/tracks"), &headers, &body)
            .await?;
        answer.json()["track"]["id"].as_str().map(str::to_owned)
    }
}

struct Run {
    server: String,
    users: usize,
    seconds: u64,
    /// Distinguishes this run's users from earlier runs' on the same database.
    tag: String,
    /// `--edge`: the origin to fetch audio from instead of the redirect's.
    edge: Option<String>,
    /// Numbers every user of the run.
    next_user: std::sync::atomic::AtomicUsize,
}

impl Run {
    async fn user(&self, role: &str) -> User {
        let n = self.next_user.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        User::register(&self.server, &format!("{role}{n}x{}", self.tag))
            .await
            .unwrap_or_else(|e| panic!("cannot set up: {e}"))
    }

    /// An administrator with a room of `tracks` uploaded tracks, and
    /// `self.users` listeners who joined it.
    async fn room(&self, tracks: usize) -> (User, String, Vec<String>, Vec<User>) {
        let mut admin = self.user("admin").await;
        let room = admin
            .call(
                "setup",
                "POST",
                "/api/rooms",
                Some(json!({ "name": format!("load {}", self.tag) })),
            )
            .await
            .and_then(|r| r["data"]["id"].as_str().map(str::to_owned))
            .expect("room created");
        let mut ids = Vec::new();
        for i in 0..tracks {
            ids.push(
                admin
                    .upload(&room, &format!("track-{i}"), 4.0)
                    .await
                    .expect("track uploaded"),
            );
        }
        let mut listeners = Vec::new();
        for _ in 0..self.users {
            let mut listener = self.user("listener").await;
            listener
                .call("setup", "POST", &format!("/api/rooms/{room}/join"), Some(json!({})))
                .await
                .expect("joined");
            listeners.push(listener);
        }
        admin.tally = Tally::default();
        for listener in &mut listeners {
            listener.tally = Tally::default();
        }
        (admin, room, ids, listeners)
    }

    fn until(&self) -> Instant {
        Instant::now() + Duration::from_secs(self.seconds)
    }
}

/// Listeners fetch the queue, follow the stream redirect to the edge and
/// read the file as players do: a 2-byte probe, then 256 KiB ranges.
async fn listeners(run: &Run) -> Tally {
    let (_admin, room, tracks, listeners) = run.room(1).await;
    let until = run.until();
    let edge_origin = run.edge.clone();
    let tasks = listeners.into_iter().map(|mut user| {
        let (room, track, edge_origin) = (room.clone(), tracks[0].clone(), edge_origin.clone());
        tokio::spawn(async move {
            let mut edges: BTreeMap<String, Client> = BTreeMap::new();
            while Instant::now() < until {
                user.call("queue", "GET", &format!("/api/rooms/{room}/tracks"), None)
                    .await;
                let target = format!("/api/tracks/{track}/stream?token={}", user.token);
                let Some(redirect) = user.timed("stream", "GET", &target, "", b"").await else {
                    continue;
                };
                let location = redirect.header("location").map(|l| match &edge_origin {
                    // The edge as this machine reaches it (`--edge`), when the
                    // public URL is another origin (TLS, another host).
                    Some(origin) => format!("{origin}/{}", l.splitn(4, '/').nth(3).unwrap_or("")),
                    None => l.to_owned(),
                });
                let Some((server, path)) = location.as_deref().and_then(split_url) else {
                    user.tally.fail("stream without a usable Location");
                    continue;
                };
                let edge = edges.entry(server.clone()).or_insert_with(|| Client::new(&server));
                let mut offset = 0u64;
                let mut size = u64::MAX;
                let mut first = true;
                while offset < size && Instant::now() < until {
                    let end = if first {
                        1
                    } else {
                        (offset + 256 * 1024 - 1).min(size - 1)
                    };
                    let started = Instant::now();
                    let answer = edge
                        .request("GET", &path, &format!("Range: bytes={offset}-{end}\r\n"), b"")
                        .await;
                    user.tally.requests += 1;
                    user.tally.latencies_us.push(started.elapsed().as_micros() as u64);
                    match answer {
                        Ok(a) if a.status == 206 && a.body.len() as u64 == end - offset + 1 => {
                            size = a
                                .header("content-range")
                                .and_then(|r| r.rsplit('/').next()?.parse().ok())
                                .unwrap_or(size);
                            offset = end + 1;
                            first = false;
                        }
                        Ok(a) => {
                            user.tally.fail(format!("range {}", a.status));
                            backoff().await;
                            break;
                        }
                        Err(e) => {
                            user.tally.fail(format!("range {e}"));
                            backoff().await;
                            break;
                        }
                    }
                }
            }
            user.tally
        })
    });
    gather(tasks).await
}

/// Every listener votes and unvotes one track; the score must end as the
/// number of users whose last vote was up — give or take the users whose
/// last request failed without an answer (it may or may not have counted).
async fn voters(run: &Run) -> Tally {
    let (mut admin, room, tracks, listeners) = run.room(1).await;
    let track = tracks[0].clone();
    let until = run.until();
    let target = format!("/api/rooms/{room}/tracks/{track}/vote");
    let tasks: Vec<_> = listeners
        .into_iter()
        .map(|mut user| {
            let target = target.clone();
            tokio::spawn(async move {
                let (mut up, mut unsure) = (false, false);
                while Instant::now() < until {
                    let method = if up { "DELETE" } else { "POST" };
                    // Voting and unvoting are idempotent: after any answer
                    // the vote's state is known again.
                    let answered = user.call("vote", method, &target, None).await.is_some();
                    if answered {
                        up = !up;
                    }
                    unsure = !answered;
                }
                (user.tally, up, unsure)
            })
        })
        .collect();
    let mut tally = Tally::default();
    let (mut expected, mut unsure) = (0, 0);
    for task in tasks {
        let (t, up, not_known) = task.await.expect("voter");
        tally.merge(t);
        expected += u64::from(up && !not_known);
        unsure += u64::from(not_known);
    }
    // Asked until answered: the check itself may land in a fault.
    let mut queue = None;
    for _ in 0..30 {
        queue = admin
            .call("check", "GET", &format!("/api/rooms/{room}/tracks"), None)
            .await;
        if queue.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let score = queue
        .as_ref()
        .and_then(|q| q["tracks"].as_array()?.iter().find(|t| t["id"] == track.as_str())?["vote_score"].as_u64());
    if !score.is_some_and(|s| (expected..=expected + unsure).contains(&s)) {
        tally.broken = Some(format!(
            "vote score {score:?}, clients were told {expected} (+{unsure} unanswered)"
        ));
    } else {
        println!(
            "  votes: score {} = what clients were told ({expected}, {unsure} unanswered)",
            score.unwrap_or(0)
        );
    }
    tally
}

/// Every user uploads small files as fast as they are taken.
async fn uploads(run: &Run) -> Tally {
    let (_admin, room, _, listeners) = run.room(0).await;
    let until = run.until();
    let tasks = listeners.into_iter().enumerate().map(|(i, mut user)| {
        let room = room.clone();
        tokio::spawn(async move {
            let mut n = 0;
            while Instant::now() < until {
                user.upload(&room, &format!("burst-{i}-{n}"), 0.5).await;
                n += 1;
            }
            user.tally
        })
    });
    gather(tasks).await
}

/// What one socket's listener heard of the room's events.
#[derive(Default)]
struct Heard {
    /// Vote events received.
    heard: u64,
    /// Events it learnt it missed (a gap in `seq`, or the room's `seq` on
    /// rejoining): a client refetches the room then, so they are recovered.
    recovered: u64,
    reconnects: u64,
    failures: Tally,
}

/// Holds the room's native WebSocket until `until` (plus a moment for the
/// last events), reconnecting and rejoining whenever it is closed.
async fn listen(server: String, token: String, room: String, until: Instant) -> Heard {
    let mut figures = Heard::default();
    let mut last_seq: Option<u64> = None;
    let stop = until + Duration::from_secs(3);
    while Instant::now() < stop {
        let url = format!("ws://{server}/ws?token={token}");
        let mut socket = match tokio_tungstenite::connect_async(url.as_str()).await {
            Ok((socket, _)) => socket,
            Err(e) => {
                figures.failures.fail(format!("websocket connect {e}"));
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let join = json!({ "type": "join_room", "data": { "room_id": room } }).to_string();
        if socket.send(Message::text(join)).await.is_err() {
            figures.failures.fail("websocket join");
            continue;
        }
        loop {
            let left = stop.saturating_duration_since(Instant::now());
            let Ok(Some(Ok(message))) = tokio::time::timeout(left, socket.next()).await else {
                break;
            };
            let Message::Text(text) = message else { continue };
            let frame: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            let seq = frame["data"]["seq"].as_u64();
            match (frame["type"].as_str(), seq) {
                (Some("room_joined"), Some(seq)) => {
                    if let Some(last) = last_seq {
                        figures.recovered += seq.saturating_sub(last);
                    }
                    last_seq = Some(seq.max(last_seq.unwrap_or(0)));
                }
                (Some("track_voted"), Some(seq)) if last_seq.is_some_and(|last| seq > last) => {
                    figures.recovered += seq - last_seq.unwrap_or(seq) - 1;
                    figures.heard += 1;
                    last_seq = Some(seq);
                }
                _ => {}
            }
        }
        if Instant::now() < until {
            figures.reconnects += 1;
            figures.failures.fail("websocket closed");
        }
    }
    figures
}

/// Listeners hold the native WebSocket of the room while the administrator
/// votes; every socket must hear, or learn through `seq` that it missed,
/// every vote the API took.
async fn websockets(run: &Run) -> Tally {
    let (mut admin, room, tracks, listeners) = run.room(1).await;
    let until = run.until();
    let sockets: Vec<_> = listeners
        .iter()
        .map(|user| tokio::spawn(listen(run.server.clone(), user.token.clone(), room.clone(), until)))
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let target = format!("/api/rooms/{room}/tracks/{}/vote", tracks[0]);
    let (mut up, mut acknowledged) = (false, 0u64);
    while Instant::now() < until {
        let method = if up { "DELETE" } else { "POST" };
        if admin.call("vote", method, &target, None).await.is_some() {
            up = !up;
            acknowledged += 1;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut tally = std::mem::take(&mut admin.tally);
    let (mut lost, mut heard, mut recovered, mut reconnects) = (0, 0, 0, 0);
    for socket in sockets {
        let figures = socket.await.unwrap_or_default();
        // A vote whose answer was lost still took its number: at least the
        // acknowledged ones must be accounted for.
        lost += acknowledged.saturating_sub(figures.heard + figures.recovered);
        heard += figures.heard;
        recovered += figures.recovered;
        reconnects += figures.reconnects;
        tally.merge(figures.failures);
    }
    println!(
        "  events: {acknowledged} votes × {} sockets: {heard} heard, {recovered} recovered through seq, {lost} lost; {reconnects} reconnects",
        listeners.len()
    );
    if lost > 0 {
        tally.broken = Some(format!("{lost} vote events neither heard nor recovered"));
    }
    tally
}

/// Login, refresh, who-am-I and logout, over and over.
async fn auth(run: &Run) -> Tally {
    let mut users = Vec::new();
    for _ in 0..run.users {
        users.push(run.user("churn").await);
    }
    let until = run.until();
    let tasks = users.into_iter().map(|mut user| {
        tokio::spawn(async move {
            let email = {
                let me = user.call("me", "GET", "/api/auth/me", None).await;
                me.and_then(|m| {
                    m["data"]["user"]["email"]
                        .as_str()
                        .or(m["data"]["email"].as_str())
                        .map(str::to_owned)
                })
                .unwrap_or_default()
            };
            while Instant::now() < until {
                let body = json!({ "email": email, "password": PASSWORD }).to_string();
                let Some(login) = user
                    .timed(
                        "login",
                        "POST",
                        "/api/auth/login",
                        "Content-Type: application/json\r\n",
                        body.as_bytes(),
                    )
                    .await
                else {
                    continue;
                };
                let Some(token) = login.json()["data"]["token"].as_str().map(str::to_owned) else {
                    continue;
                };
                user.token = token;
                if let Some(refreshed) = user.call("refresh", "POST", "/api/auth/refresh", None).await {
                    if let Some(token) = refreshed["data"]["token"].as_str() {
                        user.token = token.to_owned();
                    }
                }
                user.call("me", "GET", "/api/auth/me", None).await;
                user.call("logout", "POST", "/api/auth/logout", None).await;
            }
            user.tally
        })
    });
    gather(tasks).await
}

/// The administrator plays, pauses, resumes and skips while listeners read
/// the playback status.
async fn playback(run: &Run) -> Tally {
    let (mut admin, room, tracks, listeners) = run.room(2).await;
    let until = run.until();
    let readers = listeners.into_iter().map(|mut user| {
        let room = room.clone();
        tokio::spawn(async move {
            while Instant::now() < until {
                user.call("status", "GET", &format!("/api/rooms/{room}/playback/status"), None)
                    .await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            user.tally
        })
    });
    let readers: Vec<_> = readers.collect();
    let mut i = 0;
    while Instant::now() < until {
        let track = &tracks[i % tracks.len()];
        admin
            .call(
                "play",
                "POST",
                &format!("/api/rooms/{room}/tracks/{track}/play"),
                Some(json!({})),
            )
            .await;
        for op in ["pause", "resume", "skip"] {
            admin
                .call(op, "POST", &format!("/api/rooms/{room}/playback/{op}"), Some(json!({})))
                .await;
        }
        i += 1;
    }
    let mut tally = gather(readers).await;
    tally.merge(std::mem::take(&mut admin.tally));
    tally
}

async fn gather(tasks: impl IntoIterator<Item = tokio::task::JoinHandle<Tally>>) -> Tally {
    let mut tally = Tally::default();
    for task in tasks {
        match task.await {
            Ok(t) => tally.merge(t),
            Err(e) => tally.fail(format!("task {e}")),
        }
    }
    tally
}

#[tokio::main]
async fn main() {
    let args = spotik_loadtest::Args::from_env();
    let smoke = args.has("--smoke");
    let base = args.get("--base").unwrap_or_else(|| "http://127.0.0.1:8000".into());
    let (server, _) = split_url(&base).expect("--base http://host:port");
    let run = Arc::new(Run {
        server,
        users: args
            .get("--users")
            .map_or(if smoke { 3 } else { 50 }, |v| v.parse().expect("--users")),
        seconds: args
            .get("--seconds")
            .map_or(if smoke { 2 } else { 30 }, |v| v.parse().expect("--seconds")),
        tag: format!(
            "{:x}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis()
        ),
        next_user: Default::default(),
        edge: args.get("--edge").map(|e| e.trim_end_matches('/').to_owned()),
    });
    let wanted = args.get("--scenario").unwrap_or_else(|| "all".into());
    let names = ["listeners", "voters", "uploads", "websockets", "auth", "playback"];
    let chosen: Vec<&str> = if wanted == "all" {
        names.to_vec()
    } else {
        wanted.split(',').collect()
    };
    if let Some(unknown) = chosen.iter().find(|n| !names.contains(n)) {
        eprintln!("unknown scenario {unknown}: one of {names:?} or all");
        std::process::exit(2);
    }
    if args.has("--timeline") {
        let _ = TIMELINE.set(Instant::now());
        println!(
            "START unix_ms={}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis()
        );
    }
    // `--concurrent`: the chosen scenarios at once (loadtest/chaos), else one after another.
    let run_one = |name: &'static str| {
        let run = Arc::clone(&run);
        async move {
            let started = Instant::now();
            let tally = match name {
                "listeners" => listeners(&run).await,
                "voters" => voters(&run).await,
                "uploads" => uploads(&run).await,
                "websockets" => websockets(&run).await,
                "auth" => auth(&run).await,
                _ => playback(&run).await,
            };
            (name, tally, started.elapsed())
        }
    };
    let chosen: Vec<&'static str> = names.iter().copied().filter(|n| chosen.contains(n)).collect();
    let results = if args.has("--concurrent") {
        futures_util::future::join_all(chosen.iter().map(|n| run_one(n))).await
    } else {
        let mut results = Vec::new();
        for name in &chosen {
            results.push(run_one(name).await);
        }
        results
    };
    let mut ok = true;
    for (name, mut tally, took) in results {
        let elapsed = took.as_secs_f64().max(run.seconds as f64);
        tally.latencies_us.sort_unstable();
        let failed = tally.failed();
        println!(
            "RESULT scenario={name} requests={} failed={failed} rps={:.0} p50_ms={:.2} p99_ms={:.2}",
            tally.requests,
            tally.requests as f64 / elapsed,
            quantile(&tally.latencies_us, 0.5) as f64 / 1000.0,
            quantile(&tally.latencies_us, 0.99) as f64 / 1000.0,
        );
        for (kind, n) in &tally.failures {
            println!("  failed {n}× {kind}");
        }
        if let Some(broken) = &tally.broken {
            println!("  CHECK FAILED: {broken}");
        }
        let allowed = if smoke { 0 } else { tally.requests / 100 };
        if tally.requests == 0 || failed > allowed || tally.broken.is_some() {
            ok = false;
        }
    }
    std::process::exit(if ok { 0 } else { 1 });
}
