//! Idle WebSockets and the server memory they hold: opens N connections,
//! reads the server's resident set, closes them all, and reads it again
//! once the server has let them go.
//!
//! ```text
//! idle-sockets --server 127.0.0.1:8000 --pid $(pidof spotik-api) --connections 10000
//! idle-sockets --server 127.0.0.1:8000 --pid … --protocol native --token <jwt>
//! ```
//!
//! Prints one line of `key=value` pairs: RSS before, with the sockets open
//! (and per connection), and after they closed. The server must be on this
//! machine (`/proc/<pid>/status`).

use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

struct Options {
    server: SocketAddr,
    pid: u32,
    connections: usize,
    /// `/app/<key>` (Pusher) or `/ws?token=` (native).
    path: String,
    /// Seconds to wait after closing before the last reading.
    settle: Duration,
}

fn options() -> Options {
    let args = spotik_loadtest::Args::from_env();
    let get = |name: &str| args.get(name);
    let path = match get("--protocol").as_deref() {
        Some("native") => format!("/ws?token={}", get("--token").expect("--protocol native needs --token")),
        None | Some("pusher") => format!(
            "/app/{}?protocol=7&client=spotik-idle&version=1",
            get("--key").unwrap_or_else(|| "spotik-key".into())
        ),
        Some(other) => panic!("--protocol pusher|native, not {other}"),
    };
    Options {
        server: get("--server")
            .unwrap_or_else(|| "127.0.0.1:8000".into())
            .parse()
            .expect("--server host:port"),
        pid: get("--pid").expect("--pid of the server").parse().expect("--pid"),
        connections: get("--connections").map_or(10_000, |v| v.parse().expect("--connections")),
        path,
        settle: Duration::from_secs(get("--settle").map_or(5, |v| v.parse().expect("--settle seconds"))),
    }
}

/// The server's resident set in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("server process");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// Lets this process hold as many sockets as its hard limit allows.
fn raise_descriptor_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    raise_descriptor_limit();
    let options = Arc::new(options());
    let before = rss_kib(options.pid);
    let url = format!("ws://{}{}", options.server, options.path);
    // A few hundred handshakes at a time, as clients arriving would.
    let gate = Arc::new(Semaphore::new(256));
    let started = Instant::now();
    let mut opening = Vec::with_capacity(options.connections);
    for _ in 0..options.connections {
        let (url, gate) = (url.clone(), gate.clone());
        opening.push(tokio::spawn(async move {
            let _turn = gate.acquire_owned().await.unwrap();
            let config = WebSocketConfig::default().read_buffer_size(4096);
            let (mut socket, _) = tokio_tungstenite::connect_async_with_config(&url, Some(config), true)
                .await
                .expect("connect");
            // The Pusher protocol greets; the native one says nothing until joined.
            if url.contains("/app/") {
                match socket.next().await {
                    Some(Ok(Message::Text(_))) => {}
                    other => panic!("no greeting: {other:?}"),
                }
            }
            socket
        }));
    }
    let mut sockets = Vec::with_capacity(options.connections);
    for task in opening {
        sockets.push(task.await.expect("connection task"));
    }
    let opened_in = started.elapsed();
    // Let the server finish whatever each connection set up after the greeting.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let open = rss_kib(options.pid);
    for socket in &mut sockets {
        let _ = socket.send(Message::Close(None)).await;
    }
    for mut socket in sockets {
        // Wait for the server's side of the close so it has really let go.
        while let Some(Ok(_)) = socket.next().await {}
    }
    tokio::time::sleep(options.settle).await;
    let after = rss_kib(options.pid);
    let per_connection = (open.saturating_sub(before)) as f64 * 1024.0 / options.connections as f64;
    println!(
        "connections={} opened_in_ms={} rss_before_kib={before} rss_open_kib={open} \
         bytes_per_connection={per_connection:.0} rss_after_close_kib={after} retained_kib={}",
        options.connections,
        opened_in.as_millis(),
        after as i64 - before as i64,
    );
}
