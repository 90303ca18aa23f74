//! What operators rely on: status endpoints, metrics, HTTP/2, logs,
//! revalidation of cached metadata, disconnects and graceful shutdown.

use crate::support::*;
use http::{StatusCode, Version};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test]
async fn ping_and_health_answer() {
    let edge = Edge::start().await;
    let ping = edge.get("/ping").await;
    assert_eq!((ping.status, &ping.body[..]), (StatusCode::OK, &b"ok"[..]));
    edge.get("/audio/tone-1500ms.mp3").await;
    edge.get("/audio/tone-1500ms.mp3").await;
    let health = edge.get("/health").await;
    assert_eq!(health.status, StatusCode::OK);
    let json: serde_json::Value = serde_json::from_slice(&health.body).unwrap();
    assert!(json["status"] == "healthy" || json["status"] == "degraded", "{json}");
    assert_eq!(
        json["status"] == "degraded",
        !json["alerts"].as_array().unwrap().is_empty()
    );
    assert_eq!(json["checks"]["storage"]["status"], "ok");
    assert!(json["checks"]["storage"]["response_time"].as_f64().unwrap() < 1000.0);
    assert!(json["system"]["memory"]["used_percent"].is_number());
    assert_eq!(json["media_dir_readable"], true);
    assert!(json["uptime_seconds"].is_u64());
    assert!(json["open_connections"].as_i64().unwrap() >= 1);
    assert_eq!(json["cache"]["small_files"]["entries"], 1);
    assert!(json["cache"]["small_files"]["bytes"].as_u64().unwrap() >= 25121);
    assert!(json["cache"]["metadata"]["hits"].as_u64().unwrap() >= 1);
}

#[tokio::test]
async fn health_reports_an_unreadable_media_dir() {
    let edge = Edge::start().await;
    std::fs::rename(edge.media.root(), edge.media.dir.path().join("moved")).unwrap();
    let health = edge.get("/health").await;
    assert_eq!(health.status, StatusCode::SERVICE_UNAVAILABLE);
    let json: serde_json::Value = serde_json::from_slice(&health.body).unwrap();
    assert_eq!(json["status"], "unhealthy");
    assert_eq!(json["checks"]["storage"]["status"], "failed");
    assert_eq!(json["media_dir_readable"], false);
}

#[tokio::test]
async fn metrics_count_requests_bytes_and_cache_use() {
    let edge = Edge::start().await;
    edge.get("/audio/tone-1500ms.mp3").await;
    edge.get("/audio/tone-1500ms.mp3").await;
    edge.get_with("/audio/one.mp3", &[("range", "bytes=0-0")]).await;
    edge.get("/audio/missing.mp3").await;
    let text = String::from_utf8(edge.get("/metrics").await.body.to_vec()).unwrap();
    let value = |line: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(line))
            .unwrap_or_else(|| panic!("no {line} in\n{text}"))
            .rsplit(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(value("edge_requests_total{class=\"2xx\"}"), 3.0);
    assert_eq!(value("edge_requests_total{class=\"4xx\"}"), 1.0);
    assert!(value("edge_bytes_sent_total") >= 2.0 * 25121.0 + 1.0);
    assert_eq!(value("edge_cache_hits_total{cache=\"small_files\"}"), 1.0);
    assert_eq!(value("edge_cache_misses_total{cache=\"small_files\"}"), 2.0);
    assert_eq!(value("edge_response_seconds_count"), 4.0);
    assert_eq!(value("edge_response_seconds_bucket{le=\"+Inf\"}"), 4.0);
    assert!(value("edge_open_connections") >= 1.0);
}

/// A track change: 200 listeners ask for the same file at the same
/// instant, none cached. One request opens it and reads it; the others wait
/// for that work instead of each doing it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_herd_asking_for_one_uncached_file_opens_and_reads_it_once() {
    let edge = std::sync::Arc::new(Edge::start().await);
    let herd: Vec<_> = (0..200)
        .map(|_| {
            let edge = std::sync::Arc::clone(&edge);
            tokio::spawn(async move { edge.get_with("/audio/tone-1500ms.flac", &[("range", "bytes=0-")]).await })
        })
        .collect();
    let expected = edge.media.bytes("tone-1500ms.flac");
    for reply in herd {
        let reply = reply.await.unwrap();
        assert_eq!(reply.status, 206);
        assert_eq!(reply.body, expected);
    }
    let json: serde_json::Value = serde_json::from_slice(&edge.get("/health").await.body).unwrap();
    assert_eq!(json["cache"]["metadata"]["loads"], 1, "{}", json["cache"]);
    assert_eq!(json["cache"]["small_files"]["loads"], 1, "{}", json["cache"]);
}

/// A small track the cache does not hold yet is answered from its mapping
/// while the cache fills behind the answer: the first byte of a track
/// change does not wait for the whole track to be read. The edge runs on a
/// runtime with one blocking thread, held busy, so the read into the cache
/// (which runs there) cannot finish until the answer has been received.
#[test]
fn a_small_track_not_cached_yet_is_answered_before_the_cache_has_read_it() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(1)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let edge = Edge::start().await;
        let name = "tone-1500ms.flac";
        // Opened first (metadata is loaded on the blocking pool too).
        let head = edge.request("HEAD", &format!("/audio/{name}"), &[]).await;
        assert_eq!(head.status, 200);
        let (release, held) = std::sync::mpsc::channel::<()>();
        let blocker = tokio::task::spawn_blocking(move || held.recv());
        let first = tokio::time::timeout(
            Duration::from_secs(10),
            edge.get_with(&format!("/audio/{name}"), &[("range", "bytes=0-1023")]),
        )
        .await
        .expect("the first answer waited for the whole track to be read into the cache");
        assert_eq!(first.status, 206);
        assert_eq!(first.body, &edge.media.bytes(name)[..1024]);
        // `/metrics`, unlike `/health`, needs no blocking thread.
        assert_eq!(edge.small_file_figure("entries").await, 0);
        assert_eq!(edge.small_file_figure("misses_total").await, 1);

        release.send(()).unwrap();
        blocker.await.unwrap().unwrap();
        edge.until_cached(1).await;
        let again = edge.get(&format!("/audio/{name}")).await;
        assert_eq!(again.body, edge.media.bytes(name));
        assert_eq!(edge.small_file_figure("hits_total").await, 1);
        assert_eq!(edge.small_file_figure("loads_total").await, 1);
    });
}

/// The share of `path`'s pages in the page cache.
fn resident(path: &std::path::Path) -> f64 {
    let file = std::fs::File::open(path).unwrap();
    // SAFETY: a read-only mapping only looked at by mincore, never read.
    let map = unsafe { memmap2::Mmap::map(&file) }.unwrap();
    let page = 4096;
    let mut pages = vec![0u8; map.len().div_ceil(page)];
    // SAFETY: `pages` has one byte per page of the mapping.
    let status = unsafe { libc::mincore(map.as_ptr() as *mut _, map.len(), pages.as_mut_ptr()) };
    assert_eq!(status, 0, "mincore: {}", std::io::Error::last_os_error());
    pages.iter().filter(|p| **p & 1 == 1).count() as f64 / pages.len() as f64
}

/// A 32 MiB track nobody has read since it left the page cache.
fn evicted_track(edge: &Edge) -> std::path::PathBuf {
    use std::os::fd::AsRawFd;
    let path = edge.media.path("ahead.mp3");
    let file = std::fs::File::create(&path).unwrap();
    std::io::Write::write_all(&mut &file, &pattern(32 << 20)).unwrap();
    file.sync_all().unwrap();
    // SAFETY: an open descriptor; clean pages may be dropped at will.
    let status = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    assert_eq!(status, 0);
    let left = resident(&path);
    assert!(
        left < 0.05,
        "the track stayed in the page cache ({left:.2}): is the target directory a tmpfs?"
    );
    path
}

/// With `--readahead`, the first request for a track (the API's warm-up)
/// has the kernel read the track's start into the page cache, not only
/// what the request itself touched, so the listeners' reads that follow
/// find it there.
#[tokio::test]
async fn opening_a_track_reads_it_ahead_into_the_page_cache() {
    let edge = Edge::with(|c| c.readahead = 32 << 20).await;
    let track = evicted_track(&edge);
    let reply = edge.get_with("/audio/ahead.mp3", &[("range", "bytes=0-1023")]).await;
    assert_eq!(reply.status, 206);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while resident(&track) < 0.95 {
        assert!(
            std::time::Instant::now() < deadline,
            "only {:.2} of the track was read ahead",
            resident(&track)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Without it, the same request reads only around what it touched.
    let edge = Edge::start().await;
    let track = evicted_track(&edge);
    let reply = edge.get_with("/audio/ahead.mp3", &[("range", "bytes=0-1023")]).await;
    assert_eq!(reply.status, 206);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let read = resident(&track);
    assert!(read < 0.5, "{read:.2} of the track was read without read-ahead asked");
}

#[tokio::test]
async fn small_file_cache_evicts_within_its_budget() {
    let edge = Edge::with(|c| c.cache_bytes = 60_000).await;
    for name in [
        "tone-1500ms.mp3",
        "tone-1500ms.m4a",
        "tone-1500ms.flac",
        "tone-1500ms.ogg",
        "tone-1500ms.opus",
    ] {
        let reply = edge.get(&format!("/audio/{name}")).await;
        assert_eq!(reply.body, edge.media.bytes(name));
    }
    let json: serde_json::Value = serde_json::from_slice(&edge.get("/health").await.body).unwrap();
    let cache = &json["cache"]["small_files"];
    assert!(cache["bytes"].as_u64().unwrap() <= 60_000, "{cache}");
    assert!(cache["evictions"].as_u64().unwrap() >= 1, "{cache}");
}

#[tokio::test]
async fn h2c_prior_knowledge_serves_the_same_bytes() {
    let edge = Edge::start().await;
    let file = pattern(PATTERN_LEN);
    let full = edge.h2("/audio/pattern.mp3", &[]).await;
    assert_eq!(full.version, Version::HTTP_2);
    assert!(full.body == file);
    let part = edge.h2("/audio/pattern.mp3", &[("range", "bytes=100-199")]).await;
    assert_eq!(part.status, StatusCode::PARTIAL_CONTENT);
    assert!(part.body == file[100..200]);
    let cached = edge.h2("/audio/tone-1500ms.mp3", &[("if-none-match", "*")]).await;
    assert_eq!(cached.status, StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn access_log_writes_combined_lines_with_bytes_sent() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let log_path = log.clone();
    let edge = Edge::with(move |c| c.access_log = Some(log_path)).await;
    edge.get_with(
        "/audio/tone-1500ms.mp3",
        &[
            ("range", "bytes=0-9"),
            ("user-agent", "test-agent/1"),
            ("referer", "https://r.example/"),
        ],
    )
    .await;
    edge.get("/audio/missing.mp3").await;
    eventually("both requests logged", || async {
        std::fs::read_to_string(&log).is_ok_and(|t| t.lines().count() >= 2)
    })
    .await;
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    let first = lines[0];
    assert!(first.starts_with("127.0.0.1 - - ["), "{first}");
    assert!(
        first.ends_with("] \"GET /audio/tone-1500ms.mp3 HTTP/1.1\" 206 10 \"https://r.example/\" \"test-agent/1\""),
        "{first}"
    );
    assert!(
        lines[1].contains("\"GET /audio/missing.mp3 HTTP/1.1\" 404 "),
        "{}",
        lines[1]
    );
}

#[tokio::test]
async fn changed_and_deleted_files_are_noticed_within_the_revalidation_interval() {
    for io in IO_MODES {
        let edge = Edge::with(|c| {
            c.io = io;
            c.meta_valid = Duration::from_secs(1);
        })
        .await;
        for name in ["one.mp3", "pattern.mp3"] {
            let first = edge.get(&format!("/audio/{name}")).await;
            assert_eq!(first.status, StatusCode::OK);
            // Replace the file (a new inode, as a deploy or an atomic rename does).
            let replacement = edge.media.dir.path().join("replacement");
            std::fs::write(&replacement, b"replaced content").unwrap();
            std::fs::rename(&replacement, edge.media.path(name)).unwrap();
            tokio::time::sleep(Duration::from_millis(1100)).await;
            let second = edge.get(&format!("/audio/{name}")).await;
            assert_eq!(&second.body[..], b"replaced content", "{io:?} {name}");
            assert_eq!(second.header("content-length"), "16");
            assert_ne!(second.header("etag"), first.header("etag"));
            std::fs::remove_file(edge.media.path(name)).unwrap();
            tokio::time::sleep(Duration::from_millis(1100)).await;
            assert_eq!(
                edge.get(&format!("/audio/{name}")).await.status,
                StatusCode::NOT_FOUND,
                "{io:?} {name}"
            );
        }
    }
}

#[tokio::test]
async fn io_uring_is_used_where_the_kernel_allows_it_and_falls_back_elsewhere() {
    // Probed on a plain thread: a runtime cannot be dropped inside another.
    let available = std::thread::spawn(|| tokio_uring::Runtime::new(&tokio_uring::builder()).is_ok())
        .join()
        .unwrap();
    let edge = Edge::with(|c| c.io = spotik_edge::config::IoMode::Uring).await;
    let json: serde_json::Value = serde_json::from_slice(&edge.get("/health").await.body).unwrap();
    assert_eq!(json["io"], if available { "uring" } else { "buffered" });
    let reply = edge
        .get_with("/audio/pattern.mp3", &[("range", "bytes=1000-300000")])
        .await;
    assert!(reply.body == pattern(PATTERN_LEN)[1000..300_001]);
}

#[tokio::test]
async fn a_client_that_disconnects_stops_the_transfer() {
    for io in IO_MODES {
        disconnect_stops_transfer(io).await;
    }
}

async fn disconnect_stops_transfer(io: spotik_edge::config::IoMode) {
    let edge = Edge::with(|c| c.io = io).await;
    let big = vec![1u8; 64 * 1024 * 1024];
    std::fs::write(edge.media.path("big.mp3"), &big).unwrap();
    let mut stream = TcpStream::connect(edge.addr).await.unwrap();
    stream
        .write_all(b"GET /audio/big.mp3 HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0; 64 * 1024];
    stream.read_exact(&mut buf).await.unwrap();
    drop(stream);
    // Once the server has let the connection go, what it sent is final.
    eventually("the abandoned connection closed", || async {
        let health: serde_json::Value = serde_json::from_slice(&edge.get("/health").await.body).unwrap();
        health["open_connections"] == 1
    })
    .await;
    let sent = edge.metric("edge_bytes_sent_total").await;
    assert!(
        sent < 16.0 * 1024.0 * 1024.0,
        "sent {sent} bytes of 64 MiB after the client left"
    );
    let json: serde_json::Value = serde_json::from_slice(&edge.get("/health").await.body).unwrap();
    assert_eq!(json["open_connections"], 1, "only this request's connection is open");
}

#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_responses_and_stops_accepting() {
    let mut edge = Edge::with(|c| c.io = spotik_edge::config::IoMode::Buffered).await;
    let size = 16 * 1024 * 1024;
    std::fs::write(edge.media.path("long.mp3"), pattern(size)).unwrap();
    let mut stream = TcpStream::connect(edge.addr).await.unwrap();
    stream
        .write_all(b"GET /audio/long.mp3 HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut first = vec![0; 1024];
    stream.read_exact(&mut first).await.unwrap();

    let addr = edge.addr;
    let stopping = tokio::spawn(async move { edge.stop().await });
    eventually("the listener is closed", || async {
        TcpStream::connect(addr).await.is_err()
    })
    .await;

    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).await.unwrap();
    let response = [first, rest].concat();
    let body_start = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(response.len() - body_start, size, "the in-flight response completed");
    stopping.await.unwrap().unwrap();
}

#[tokio::test]
async fn start_up_fails_clearly_without_a_media_root() {
    let mut config = spotik_edge::Config::for_root("/definitely/not/here");
    config.listen = "127.0.0.1:0".parse().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let error = spotik_edge::run(config, listener, std::future::pending())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("/definitely/not/here"), "{error}");
}

#[tokio::test]
async fn promtool_accepts_the_metrics() {
    use std::io::Write;
    let edge = Edge::start().await;
    edge.get("/audio/tone-1500ms.mp3").await;
    edge.get("/audio/missing.mp3").await;
    let text = edge.get("/metrics").await.body;
    // promtool comes with Debian's `prometheus` package, which deploy/test installs.
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool is required (apt-get install prometheus); deploy/test installs it");
    child.stdin.take().unwrap().write_all(&text).unwrap();
    let output = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success() && said.trim().is_empty(),
        "promtool check metrics:\n{said}\n{}",
        String::from_utf8_lossy(&text)
    );
}
