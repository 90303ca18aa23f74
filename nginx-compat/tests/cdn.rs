//! The CDN tier (`cdn/cdn.conf.template`) in real nginx in front of a real
//! spotik-edge: what reaches the edge (its access log counts every request
//! and byte) when listeners arrive together, when links are bad, and when a
//! cached slice grows stale. The answers themselves are compared case by
//! case in the conformance suite (`cdn_tier_answers_like_the_edge_cold_and_warm`).

// The conformance suite's exchange; its comparison helpers are not needed here.
#[path = "conformance/wire.rs"]
#[allow(dead_code)]
mod wire;

use spotik_nginx_compat::{CdnServer, Nginx};
use spotik_shared::signed_link::signed_path;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wire::{exchange, Observed};

const SECRET: &str = "cdn-secret";
const SLICE: usize = 1024 * 1024;
/// Four slices, the last one short.
const BIG_LEN: usize = 3 * SLICE + 12_345;

struct Rig {
    _dir: tempfile::TempDir,
    root: PathBuf,
    edge_log: PathBuf,
    cdn: Nginx,
}

impl Rig {
    async fn start(cache_control: &str) -> Self {
        assert!(
            spotik_nginx_compat::nginx_binary().is_some(),
            "nginx is required (apt-get install nginx-light); deploy/test installs it"
        );
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("media");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(root.join("big.mp3"), big(0)).unwrap();
        std::fs::write(root.join("one.mp3"), b"1").unwrap();
        let edge_log = dir.path().join("edge-access.log");
        let mut config = spotik_edge::Config::for_root(&root);
        config.signing_secret = Some(SECRET.to_owned());
        config.access_log = Some(edge_log.clone());
        config.cache_control = cache_control.to_owned();
        // The edge looks at the disk again on every request, so a replaced
        // file is seen by it at once (its default is once a minute).
        config.meta_valid = Duration::ZERO;
        let app = Arc::new(spotik_edge::App::new(config).unwrap());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let edge = listener.local_addr().unwrap();
        tokio::spawn(spotik_edge::server::serve(app, listener, std::future::pending()));
        let cdn = Nginx::start_cdn(&[CdnServer {
            edges: &[edge],
            signing_secret: Some(SECRET),
        }])
        .expect("the CDN node starts");
        Self {
            _dir: dir,
            root,
            edge_log,
            cdn,
        }
    }

    /// GET `path` from the CDN node with a link of its own, expiring in `ttl` seconds.
    async fn get(&self, path: &str, ttl: i64, range: Option<&str>) -> Observed {
        let expires = (now() as i64 + ttl) as u64;
        let target = signed_path(SECRET, path, expires);
        exchange(self.cdn.addrs[0], get_request(&target, range).as_bytes()).await
    }

    /// The requests the edge has served: (request line, status, body bytes).
    fn edge_saw(&self) -> Vec<(String, u16, usize)> {
        let log = std::fs::read_to_string(&self.edge_log).unwrap_or_default();
        log.lines()
            .map(|line| {
                let request = line.split('"').nth(1).unwrap_or_default().to_owned();
                let mut after = line.split('"').nth(2).unwrap_or_default().split_whitespace();
                let status = after.next().and_then(|s| s.parse().ok()).unwrap_or(0);
                let bytes = after.next().and_then(|s| s.parse().ok()).unwrap_or(0);
                (request, status, bytes)
            })
            .collect()
    }

    fn cached_files(&self) -> usize {
        files_under(&self.cdn.cdn_cache(0))
    }
}

/// `GET target`, with `Range` when given, on a connection closed after it.
fn get_request(target: &str, range: Option<&str>) -> String {
    let range = range.map(|r| format!("Range: {r}\r\n")).unwrap_or_default();
    format!("GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{range}\r\n")
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// The big file's bytes, version `v`.
fn big(v: u8) -> Vec<u8> {
    (0..BIG_LEN).map(|i| ((i * 31) ^ (i >> 9)) as u8 ^ v).collect()
}

fn files_under(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| {
            if entry.path().is_dir() {
                files_under(&entry.path())
            } else {
                1
            }
        })
        .sum()
}

/// The edge writes a log line once a body is finished; the CDN may still be
/// finishing a fill when its listener is answered.
async fn settle(rig: &Rig, lines: usize) {
    for _ in 0..100 {
        if rig.edge_saw().len() >= lines {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listeners_arriving_together_cost_the_edge_one_fill_per_slice() {
    let rig = Arc::new(Rig::start("public, max-age=3600, immutable").await);
    let expected = big(0);
    // The first listener hangs up on its first bytes, as a player does once
    // it has what it needs or when it seeks: the fill it began goes on (nginx
    // finishes a cacheable answer whose client has gone), so the others
    // wait for it instead of fetching the slice again.
    let mut quitter = tokio::net::TcpStream::connect(rig.cdn.addrs[0]).await.unwrap();
    let target = signed_path(SECRET, "/audio/big.mp3", now() + 600);
    quitter.write_all(get_request(&target, None).as_bytes()).await.unwrap();
    let mut first = [0u8; 16];
    quitter.read_exact(&mut first).await.unwrap();
    drop(quitter);
    // 120 listeners at once, each with a link of its own: whole-file plays,
    // a player's first piece, and seeks into every slice and across slice
    // boundaries.
    let ranges = [
        None,
        Some("bytes=0-65535".to_owned()),
        Some(format!("bytes={}-{}", SLICE - 100, SLICE + 100)),
        Some(format!("bytes={}-", 2 * SLICE + 7)),
        Some("bytes=-5000".to_owned()),
    ];
    let tasks: Vec<_> = (0..120)
        .map(|i| {
            let rig = rig.clone();
            let range = ranges[i % ranges.len()].clone();
            tokio::spawn(async move {
                let answer = rig.get("/audio/big.mp3", 600 + i as i64, range.as_deref()).await;
                (range, answer)
            })
        })
        .collect();
    for task in tasks {
        let (range, answer) = task.await.unwrap();
        let (start, end) = match range.as_deref() {
            None => (0, BIG_LEN),
            Some("bytes=-5000") => (BIG_LEN - 5000, BIG_LEN),
            Some(spec) => {
                let (a, b) = spec.trim_start_matches("bytes=").split_once('-').unwrap();
                (a.parse().unwrap(), b.parse::<usize>().map_or(BIG_LEN, |b| b + 1))
            }
        };
        assert_eq!(answer.status, if range.is_none() { 200 } else { 206 }, "{range:?}");
        assert!(answer.body == expected[start..end], "wrong bytes for {range:?}");
    }
    settle(&rig, 4).await;
    let saw = rig.edge_saw();
    assert_eq!(saw.len(), 4, "one fill per slice, the edge saw {saw:#?}");
    assert_eq!(saw.iter().map(|(_, _, bytes)| bytes).sum::<usize>(), BIG_LEN);
    assert!(saw.iter().all(|(_, status, _)| *status == 206), "{saw:#?}");

    // Later listeners are served from the cache alone.
    let again = rig.get("/audio/big.mp3", 60, Some("bytes=100-199")).await;
    assert_eq!(again.body, expected[100..200]);
    assert_eq!(again.header("x-cache-status"), Some("HIT"));
    settle(&rig, 5).await;
    assert_eq!(rig.edge_saw().len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_links_never_reach_the_cache_or_the_edge() {
    let rig = Rig::start("public, max-age=3600, immutable").await;
    let valid = signed_path(SECRET, "/audio/big.mp3", now() + 600);
    let bad = [
        ("expired", signed_path(SECRET, "/audio/big.mp3", now() - 1), 410),
        (
            "forged",
            signed_path("not-the-secret", "/audio/big.mp3", now() + 600),
            403,
        ),
        ("missing", "/audio/big.mp3".to_owned(), 403),
        (
            "for another file",
            signed_path(SECRET, "/audio/one.mp3", now() + 600).replace("one.mp3", "big.mp3"),
            403,
        ),
        ("garbage expiry", valid.replace("expires=", "expires=x"), 403),
    ];
    for (what, target, status) in &bad {
        let answer = exchange(rig.cdn.addrs[0], get_request(target, None).as_bytes()).await;
        assert_eq!(answer.status, *status, "{what} link");
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(rig.edge_saw().is_empty(), "the edge saw {:#?}", rig.edge_saw());
    assert_eq!(rig.cached_files(), 0, "a bad link reached the cache's store");

    // The same node serves a good link (so the refusals above were the link's).
    let good = rig.get("/audio/big.mp3", 600, Some("bytes=0-9")).await;
    assert_eq!(good.status, 206);
    settle(&rig, 1).await;
    assert_eq!(rig.edge_saw().len(), 1);
    assert_eq!(rig.cached_files(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_slice_is_revalidated_by_etag_and_a_changed_file_refetched() {
    // Fresh for one second only, so the test sees revalidation.
    let rig = Rig::start("public, max-age=1").await;
    let first = rig.get("/audio/big.mp3", 600, Some("bytes=0-99")).await;
    assert_eq!(first.header("x-cache-status"), Some("MISS"));
    tokio::time::sleep(Duration::from_millis(2100)).await;

    // Unchanged file: the edge answers 304 without a body, and the stored
    // slice is served.
    let second = rig.get("/audio/big.mp3", 600, Some("bytes=0-99")).await;
    assert_eq!(second.header("x-cache-status"), Some("REVALIDATED"));
    assert_eq!(second.body, big(0)[..100]);
    settle(&rig, 2).await;
    let saw = rig.edge_saw();
    assert_eq!(saw.len(), 2, "{saw:#?}");
    assert_eq!((saw[1].1, saw[1].2), (304, 0), "revalidated without a body: {saw:#?}");
    let third = rig.get("/audio/big.mp3", 600, Some("bytes=0-99")).await;
    assert_eq!(third.header("x-cache-status"), Some("HIT"));

    // A file replaced under the same path (new mtime, so a new ETag; the
    // API never does this, its files are named by UUID): once the slice is
    // stale, the listener gets the new bytes, not the old ones.
    std::fs::write(rig.root.join("big.mp3"), big(0x5a)).unwrap();
    let later = SystemTime::now() + Duration::from_secs(5);
    std::fs::File::options()
        .write(true)
        .open(rig.root.join("big.mp3"))
        .unwrap()
        .set_modified(later)
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let fourth = rig.get("/audio/big.mp3", 600, Some("bytes=0-99")).await;
    assert_eq!(fourth.status, 206);
    assert_eq!(
        fourth.body,
        big(0x5a)[..100],
        "the CDN served the replaced file's old bytes"
    );
    settle(&rig, 3).await;
    let saw = rig.edge_saw();
    assert_eq!(
        (saw.len(), saw[2].1, saw[2].2),
        (3, 206, SLICE),
        "one new slice: {saw:#?}"
    );
}
