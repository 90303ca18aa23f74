//! The front configuration (nginx terminating TLS before the API and the edge
//! replicas) passes `nginx -t`, and serves audio from the replicas end to end,
//! surviving the loss of one of them.

use spotik_nginx_compat::{free_port, render, templates, wait_for, Nginx};
use spotik_shared::test_database::TestDatabase;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use tokio::sync::oneshot;

fn self_signed(dir: &Path) -> (String, String) {
    let (cert, key) = (dir.join("tls.crt"), dir.join("tls.key"));
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl is required (deploy/test installs it)");
    assert!(status.success());
    (cert.display().to_string(), key.display().to_string())
}

fn front_block(dir: &Path, edges: &[SocketAddr], http: SocketAddr, https: SocketAddr) -> String {
    front_block_with_api(dir, "127.0.0.1:9".parse().unwrap(), edges, http, https)
}

fn front_block_with_api(
    dir: &Path,
    api: SocketAddr,
    edges: &[SocketAddr],
    http: SocketAddr,
    https: SocketAddr,
) -> String {
    let (cert, key) = self_signed(dir);
    let servers = |addrs: &[SocketAddr]| {
        addrs
            .iter()
            .map(|a| format!("server {a} max_fails=1 fail_timeout=10s;"))
            .collect::<String>()
    };
    let values = HashMap::from([
        ("API_SERVERS", format!("server {api};")),
        ("EDGE_SERVERS", servers(edges)),
        ("HTTP_LISTEN", http.to_string()),
        ("HTTPS_LISTEN", format!("{https} ssl http2")),
        ("SERVER_NAME", "localhost".to_owned()),
        ("TLS_CERT", cert),
        ("TLS_KEY", key),
    ]);
    let template = std::fs::read_to_string(templates().join("front/front.conf.template")).unwrap();
    render(&template, &values).unwrap()
}

async fn start_edge(root: &Path) -> (SocketAddr, oneshot::Sender<()>) {
    let app = Arc::new(spotik_edge::App::new(spotik_edge::Config::for_root(root)).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(spotik_edge::server::serve(app, listener, async {
        let _ = rx.await;
    }));
    (addr, tx)
}

fn curl(url: &str, args: &[&str]) -> (String, Vec<u8>) {
    let out = Command::new("curl")
        .args(["-sk", "--http2", "-D", "/dev/stderr", "-o", "-"])
        .args(args)
        .arg(url)
        .output()
        .expect("curl is required (deploy/test installs it)");
    (String::from_utf8_lossy(&out.stderr).into_owned(), out.stdout)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn front_proxies_audio_over_tls_to_every_edge_replica() {
    let media = tempfile::tempdir().unwrap();
    let tone =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/audio/tone-1500ms.mp3")).unwrap();
    std::fs::write(media.path().join("tone.mp3"), &tone).unwrap();
    let (first, stop_first) = start_edge(media.path()).await;
    let (second, _stop_second) = start_edge(media.path()).await;

    let dir = tempfile::tempdir().unwrap();
    let http: SocketAddr = format!("127.0.0.1:{}", free_port().unwrap()).parse().unwrap();
    let https: SocketAddr = format!("127.0.0.1:{}", free_port().unwrap()).parse().unwrap();
    let block = front_block(dir.path(), &[first, second], http, https);
    let nginx = Nginx::start(dir, &block).expect("the front configuration passes nginx -t and starts");
    wait_for(https).unwrap();

    let url = format!("https://localhost:{}/audio/tone.mp3", https.port());
    let resolve = format!("localhost:{}:127.0.0.1", https.port());
    let (head, body) = tokio::task::spawn_blocking({
        let (url, resolve) = (url.clone(), resolve.clone());
        move || curl(&url, &["--resolve", &resolve, "-H", "Range: bytes=100-199"])
    })
    .await
    .unwrap();
    assert!(
        head.starts_with("HTTP/2 206"),
        "{head}\n{}",
        std::fs::read_to_string(nginx.dir().join("error.log")).unwrap_or_default()
    );
    assert!(
        head.to_ascii_lowercase().contains("content-range: bytes 100-199/25121"),
        "{head}"
    );
    assert_eq!(body, tone[100..200]);

    // One replica gone: every request still succeeds on the other.
    let _ = stop_first.send(());
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    for _ in 0..4 {
        let (head, body) = tokio::task::spawn_blocking({
            let (url, resolve) = (url.clone(), resolve.clone());
            move || curl(&url, &["--resolve", &resolve])
        })
        .await
        .unwrap();
        assert!(head.starts_with("HTTP/2 200"), "{head}");
        assert_eq!(body, tone);
    }

    // Plain HTTP is redirected to HTTPS.
    let (head, _) = tokio::task::spawn_blocking(move || curl(&format!("http://{http}/audio/tone.mp3"), &[]))
        .await
        .unwrap();
    assert!(head.starts_with("HTTP/1.1 301"), "{head}");
    drop(nginx);
}

#[test]
fn media_configuration_passes_nginx_t_signed_and_unsigned() {
    let root = tempfile::tempdir().unwrap();
    for secret in [None, Some("s")] {
        let nginx = Nginx::start_media(&[spotik_nginx_compat::MediaServer {
            media_root: root.path(),
            signing_secret: secret,
        }])
        .expect("media configuration passes nginx -t and starts");
        drop(nginx);
    }
}

/// A running spotik-api over a database of its own, dropped with the guard.
async fn start_api(media: &Path) -> (SocketAddr, tokio::sync::oneshot::Sender<()>, TestDatabase) {
    let database = TestDatabase::create();
    let prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
    let (addr, stop, _) = start_replica(&database.url, media, &prefix).await;
    (addr, stop, database)
}

/// A running spotik-api replica over `database` and the Redis bus of
/// `prefix` (replicas with the same two are one service).
async fn start_replica(
    database: &str,
    media: &Path,
    prefix: &str,
) -> (SocketAddr, tokio::sync::oneshot::Sender<()>, spotik_api::State) {
    let env = [
        ("DATABASE_URL", database.to_owned()),
        ("MEDIA_ROOT", media.display().to_string()),
        ("REDIS_PREFIX", prefix.to_owned()),
        ("ARGON2_MEMORY_KIB", "256".to_owned()),
        ("STREAM_MODE", "x-accel".to_owned()),
        // This test binary cannot answer `probe-file`: probe in process.
        ("PROBE_PROGRAM", "inline".to_owned()),
    ];
    let config =
        spotik_api::Config::from_lookup(|k| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())).unwrap();
    let state = spotik_api::connect(config).await.expect("the API starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(spotik_api::run(state.clone(), listener, async {
        let _ = rx.await;
    }));
    (addr, tx, state)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn front_proxies_the_rest_api_and_enforces_the_upload_limit() {
    let media = tempfile::tempdir().unwrap();
    let (api, _stop_api, _database) = start_api(media.path()).await;
    let (edge, _stop_edge) = start_edge(media.path()).await;
    let dir = tempfile::tempdir().unwrap();
    let uploads = tempfile::tempdir().unwrap();
    let http: SocketAddr = format!("127.0.0.1:{}", free_port().unwrap()).parse().unwrap();
    let https: SocketAddr = format!("127.0.0.1:{}", free_port().unwrap()).parse().unwrap();
    let block = front_block_with_api(dir.path(), api, &[edge], http, https);
    let _nginx = Nginx::start(dir, &block).expect("the front configuration starts");
    wait_for(https).unwrap();
    let base = format!("https://localhost:{}", https.port());
    let resolve = format!("localhost:{}:127.0.0.1", https.port());
    let run = |path: String, args: Vec<String>| {
        let (url, resolve) = (format!("{base}{path}"), resolve.clone());
        tokio::task::spawn_blocking(move || {
            let mut all = vec!["--resolve".to_owned(), resolve];
            all.extend(args);
            let refs: Vec<&str> = all.iter().map(String::as_str).collect();
            curl(&url, &refs)
        })
    };
    let (head, body) = run("/api/ping".into(), vec![]).await.unwrap();
    assert!(head.starts_with("HTTP/2 200"), "{head}");
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&body).unwrap()["status"],
        "ok"
    );

    // The web app through the front: its page, a deep link, its files; and
    // a path of nobody's is the API's own 404.
    for path in ["/", "/rooms/00000000-0000-4000-8000-000000000000"] {
        let (head, body) = run(path.into(), vec![]).await.unwrap();
        assert!(head.starts_with("HTTP/2 200"), "{path}: {head}");
        assert!(head.to_lowercase().contains("content-security-policy:"), "{head}");
        assert!(String::from_utf8_lossy(&body).contains("<title>Spotik</title>"));
    }
    let (_, page) = run("/".into(), vec![]).await.unwrap();
    let page = String::from_utf8(page).unwrap();
    let script = page
        .split('"')
        .find(|p| p.ends_with("/src/main.js"))
        .unwrap()
        .to_owned();
    let (head, _) = run(script, vec![]).await.unwrap();
    assert!(head.starts_with("HTTP/2 200") && head.contains("immutable"), "{head}");
    let (head, _) = run("/nowhere".into(), vec![]).await.unwrap();
    assert!(head.starts_with("HTTP/2 404"), "{head}");

    let register = r#"{"username":"front","email":"front@example.com","password":"password123","password_confirmation":"password123"}"#;
    let json = |s: &str| {
        vec![
            "-H".to_owned(),
            "Content-Type: application/json".to_owned(),
            "--data".to_owned(),
            s.to_owned(),
        ]
    };
    let (head, body) = run("/api/auth/register".into(), json(register)).await.unwrap();
    assert!(head.starts_with("HTTP/2 201"), "{head}");
    let token = serde_json::from_slice::<serde_json::Value>(&body).unwrap()["data"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let bearer = vec!["-H".to_owned(), format!("Authorization: Bearer {token}")];
    let (_, body) = run(
        "/api/rooms".into(),
        [bearer.clone(), json(r#"{"name":"via nginx"}"#)].concat(),
    )
    .await
    .unwrap();
    let room = serde_json::from_slice::<serde_json::Value>(&body).unwrap()["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // A real upload goes through; one above the limit is stopped by nginx.
    let tone = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/audio/tone-1500ms.mp3");
    let form = |path: &Path| vec!["-F".to_owned(), format!("audio_file=@{}", path.display())];
    let (head, body) = run(
        format!("/api/rooms/{room}/tracks"),
        [bearer.clone(), form(&tone)].concat(),
    )
    .await
    .unwrap();
    assert!(head.starts_with("HTTP/2 201"), "{head}");
    let track = serde_json::from_slice::<serde_json::Value>(&body).unwrap()["track"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // The stream endpoint hands the file over through nginx (X-Accel-Redirect), ranges included.
    let (head, audio) = run(format!("/api/tracks/{track}/stream?token={token}"), vec![])
        .await
        .unwrap();
    assert!(head.starts_with("HTTP/2 200"), "{head}");
    assert_eq!(audio, std::fs::read(&tone).unwrap());
    let range = vec!["-H".to_owned(), "Range: bytes=0-1".to_owned()];
    let (head, part) = run(format!("/api/tracks/{track}/stream?token={token}"), range)
        .await
        .unwrap();
    assert!(head.starts_with("HTTP/2 206"), "{head}");
    assert_eq!(part.len(), 2);
    let huge = uploads.path().join("huge.mp3");
    std::fs::write(&huge, vec![0u8; 52 * 1024 * 1024]).unwrap();
    let (head, _) = run(format!("/api/rooms/{room}/tracks"), [bearer, form(&huge)].concat())
        .await
        .unwrap();
    assert!(head.starts_with("HTTP/2 413"), "{head}");

    // Both WebSocket protocols upgrade through nginx over TLS, both ways.
    let pusher = tokio::task::spawn_blocking(move || {
        websocket_over_tls(
            https,
            "/app/spotik-key?protocol=7",
            Some(r#"{"event":"pusher:ping","data":{}}"#),
        )
    });
    let (head, frames) = pusher.await.unwrap();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(frames[0].contains("pusher:connection_established"), "{frames:?}");
    assert!(frames[1].contains("pusher:pong"), "{frames:?}");
    let path = format!("/ws?token={token}");
    let native = tokio::task::spawn_blocking(move || websocket_over_tls(https, &path, None));
    let (head, frames) = native.await.unwrap();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(frames[0].contains("connection_established"), "{frames:?}");
}

/// A WebSocket session through TLS with `openssl s_client`: the handshake,
/// one optional text frame sent, and the text frames received (up to two).
fn websocket_over_tls(https: SocketAddr, path: &str, send: Option<&str>) -> (String, Vec<String>) {
    let (mut child, rx) = upgrade_over_tls(https, path, send);
    let wanted = if send.is_some() { 2 } else { 1 };
    let mut bytes = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let parse = |bytes: &[u8]| -> Option<(String, Vec<String>)> {
        let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
        let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
        let (mut at, mut frames) = (end, Vec::new());
        while at + 2 <= bytes.len() {
            let (length, start) = match bytes[at + 1] & 0x7f {
                126 if at + 4 <= bytes.len() => (u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]) as usize, at + 4),
                126 => break,
                n => (n as usize, at + 2),
            };
            if start + length > bytes.len() {
                break;
            }
            frames.push(String::from_utf8_lossy(&bytes[start..start + length]).into_owned());
            at = start + length;
        }
        Some((head, frames))
    };
    loop {
        if let Some((head, frames)) = parse(&bytes) {
            if frames.len() >= wanted || !head.starts_with("HTTP/1.1 101") {
                let _ = child.kill();
                let _ = child.wait();
                return (head, frames);
            }
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(chunk) => bytes.extend(chunk),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "no WebSocket answer through nginx for {path}: {:?}",
                    String::from_utf8_lossy(&bytes)
                )
            }
        }
    }
}

/// A native socket held open through nginx over TLS (`openssl s_client`),
/// returned once the server has said `connection_established`; closed
/// when the child is killed.
/// `count` sockets at `path`, opened one after the other, held open.
async fn hold_sockets(https: SocketAddr, path: &str, count: usize) -> Vec<std::process::Child> {
    let mut held = Vec::with_capacity(count);
    for _ in 0..count {
        let path = path.to_owned();
        held.push(
            tokio::task::spawn_blocking(move || hold_socket(https, &path))
                .await
                .unwrap(),
        );
    }
    held
}

fn hold_socket(https: SocketAddr, path: &str) -> std::process::Child {
    let (child, rx) = upgrade_over_tls(https, path, None);
    let mut bytes = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !String::from_utf8_lossy(&bytes).contains("connection_established") {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(chunk) => bytes.extend(chunk),
            Err(_) => panic!(
                "no socket through nginx for {path}: {:?}",
                String::from_utf8_lossy(&bytes)
            ),
        }
    }
    child
}

/// Waits until the two replicas hold `total` sockets between them; how
/// many each holds.
async fn sockets_on(a: &spotik_api::State, b: &spotik_api::State, total: i64) -> (i64, i64) {
    for _ in 0..100 {
        let held = (a.hub.stats.connections(), b.hub.stats.connections());
        if held.0 + held.1 == total {
            return held;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the replicas never held {total} sockets between them");
}

/// Room affinity: every native socket opened for one room (`/ws?room=`)
/// reaches the same API replica through the front, different rooms reach
/// both replicas, and sockets without a room (the Vue front end's URL)
/// are still spread over both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn front_sends_a_rooms_sockets_to_one_replica() {
    let media = tempfile::tempdir().unwrap();
    let database = TestDatabase::create();
    let prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
    let (a, _stop_a, state_a) = start_replica(&database.url, media.path(), &prefix).await;
    let (b, _stop_b, state_b) = start_replica(&database.url, media.path(), &prefix).await;
    let (edge, _stop_edge) = start_edge(media.path()).await;
    let dir = tempfile::tempdir().unwrap();
    let http: SocketAddr = format!("127.0.0.1:{}", free_port().unwrap()).parse().unwrap();
    let https: SocketAddr = format!("127.0.0.1:{}", free_port().unwrap()).parse().unwrap();
    let block = front_block_with_api(dir.path(), a, &[edge], http, https)
        .replace(&format!("server {a};"), &format!("server {a}; server {b};"));
    let _nginx = Nginx::start(dir, &block).expect("the front configuration starts");
    wait_for(https).unwrap();
    let register = r#"{"username":"rooms","email":"rooms@example.com","password":"password123","password_confirmation":"password123"}"#;
    let url = format!("https://localhost:{}/api/auth/register", https.port());
    let resolve = format!("localhost:{}:127.0.0.1", https.port());
    let (head, body) = tokio::task::spawn_blocking(move || {
        curl(
            &url,
            &[
                "--resolve",
                &resolve,
                "-H",
                "Content-Type: application/json",
                "--data",
                register,
            ],
        )
    })
    .await
    .unwrap();
    assert!(head.starts_with("HTTP/2 201"), "{head}");
    let token = serde_json::from_slice::<serde_json::Value>(&body).unwrap()["data"]["token"]
        .as_str()
        .unwrap()
        .to_owned();

    let mut held = Vec::new();
    let mut rooms_on = (0, 0);
    let mut before = (0, 0);
    // 16 rooms: the chance that a fair hash puts all of them on one of two
    // replicas is 2 in 65 536.
    for _ in 0..16 {
        let path = format!("/ws?token={token}&room={}", uuid::Uuid::new_v4());
        held.extend(hold_sockets(https, &path, 3).await);
        let now = sockets_on(&state_a, &state_b, before.0 + before.1 + 3).await;
        let added = (now.0 - before.0, now.1 - before.1);
        assert!(
            added == (3, 0) || added == (0, 3),
            "a room's three sockets were split {added:?}"
        );
        if added.0 == 3 {
            rooms_on.0 += 1;
        } else {
            rooms_on.1 += 1;
        }
        before = now;
    }
    assert!(
        rooms_on.0 > 0 && rooms_on.1 > 0,
        "every room on one replica: {rooms_on:?}"
    );
    held.extend(hold_sockets(https, &format!("/ws?token={token}"), 4).await);
    let now = sockets_on(&state_a, &state_b, before.0 + before.1 + 4).await;
    assert!(
        now.0 > before.0 && now.1 > before.1,
        "sockets without a room all went one way: {before:?} then {now:?}"
    );
    for mut child in held {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// `openssl s_client` to the front, asking `path` to upgrade to a
/// WebSocket (and sending `send` as a text frame): the child, and what it
/// reads from the server as it comes.
fn upgrade_over_tls(
    https: SocketAddr,
    path: &str,
    send: Option<&str>,
) -> (std::process::Child, std::sync::mpsc::Receiver<Vec<u8>>) {
    use std::io::{Read, Write};
    let mut child = Command::new("openssl")
        .args([
            "s_client",
            "-quiet",
            "-alpn",
            "http/1.1",
            "-servername",
            "localhost",
            "-connect",
        ])
        .arg(https.to_string())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("openssl is required (deploy/test installs it)");
    let stdin = child.stdin.as_mut().unwrap();
    write!(
        stdin,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .unwrap();
    if let Some(text) = send {
        // A client frame must be masked; an all-zero mask leaves the bytes as they are.
        let mut frame = vec![0x81, 0x80 | text.len() as u8, 0, 0, 0, 0];
        frame.extend_from_slice(text.as_bytes());
        stdin.write_all(&frame).unwrap();
    }
    stdin.flush().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let mut stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buffer) {
            if n == 0 || tx.send(buffer[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    (child, rx)
}
