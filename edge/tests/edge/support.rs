//! A media folder, a running server and clients to talk to it.

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode, Version};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use spotik_edge::config::IoMode;
use spotik_edge::Config;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Size of `pattern.mp3`: above the small-file limit tests use, odd on purpose.
pub const PATTERN_LEN: usize = 3 * 1024 * 1024 + 17;
/// The small-file limit of [`Edge::start`], so that `pattern.mp3` is served from disk.
pub const TEST_SMALL_FILE_MAX: u64 = 1024 * 1024;

/// Deterministic, non-repeating-looking content, so misplaced bytes show.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(31) ^ (i >> 8) ^ (i >> 16)) as u8)
        .collect()
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures/audio")
        .join(name)
}

/// A temporary media root, with a sibling directory outside it.
pub struct Media {
    pub dir: TempDir,
}

impl Media {
    pub fn new() -> Self {
        // Under the target directory, on disk: `/tmp` may be a tmpfs, whose
        // pages cannot leave the page cache (the read-ahead test needs that).
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir");
        let root = dir.path().join("media");
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(root.join("sub/dir")).unwrap();
        std::fs::create_dir_all(root.join("folder.mp3")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        for name in [
            "tone-1500ms.mp3",
            "tone-1500ms.m4a",
            "tone-1500ms.wav",
            "tone-1500ms.flac",
            "tone-1500ms.ogg",
            "tone-1500ms.opus",
        ] {
            std::fs::copy(fixture(name), root.join(name)).unwrap();
        }
        std::fs::write(root.join("pattern.mp3"), pattern(PATTERN_LEN)).unwrap();
        std::fs::write(root.join("empty.mp3"), b"").unwrap();
        std::fs::write(root.join("one.mp3"), b"x").unwrap();
        std::fs::write(root.join("sub/dir/deep.ogg"), pattern(5000)).unwrap();
        std::fs::write(root.join("a b+c%.mp3"), b"odd name").unwrap();
        std::fs::write(root.join(".hidden.mp3"), b"hidden").unwrap();
        std::fs::write(root.join("notes.txt"), b"not audio").unwrap();
        std::fs::write(outside.join("secret.mp3"), b"SECRET OUTSIDE THE ROOT").unwrap();
        std::os::unix::fs::symlink(outside.join("secret.mp3"), root.join("escape.mp3")).unwrap();
        std::os::unix::fs::symlink("../outside", root.join("outlink")).unwrap();
        std::os::unix::fs::symlink("tone-1500ms.mp3", root.join("alias.mp3")).unwrap();
        Self { dir }
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("media")
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.root().join(name)
    }

    pub fn bytes(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).unwrap()
    }
}

/// A running spotik-edge over its own media folder.
pub struct Edge {
    pub addr: SocketAddr,
    pub media: Media,
    /// The server's own counters, read in place (no request needed).
    pub metrics: std::sync::Arc<spotik_edge::metrics::Metrics>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

/// A test that asks for io_uring runs on io_uring, or fails: the edge
/// falls back to buffered reads where io_uring is refused, which would let
/// every "io_uring" test pass without running `uring.rs`. A run on such a
/// machine says so with `SPOTIK_SKIP_URING=1`, and the fallback is then
/// reported on stderr instead.
pub fn require_asked_io(asked: IoMode, running: IoMode) {
    if asked == running {
        return;
    }
    if std::env::var_os("SPOTIK_SKIP_URING").is_some() {
        eprintln!("io_uring refused here: running {running:?} instead (SPOTIK_SKIP_URING)");
        return;
    }
    panic!("{asked:?} was asked for but the edge runs {running:?}: io_uring is refused here; set SPOTIK_SKIP_URING=1 to run without it");
}

impl Edge {
    /// Defaults, except a 1 MiB small-file limit.
    pub async fn start() -> Self {
        Self::with(|_| {}).await
    }

    pub async fn with(configure: impl FnOnce(&mut Config)) -> Self {
        let media = Media::new();
        let mut config = Config::for_root(media.root());
        config.small_file_max = TEST_SMALL_FILE_MAX;
        configure(&mut config);
        Self::serve(media, config).await
    }

    pub async fn serve(media: Media, config: Config) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let asked = config.io;
        // Built before spawning so that the server is ready when this returns.
        let app = std::sync::Arc::new(spotik_edge::App::new(config).expect("valid test configuration"));
        require_asked_io(asked, app.config().io);
        let metrics = std::sync::Arc::clone(app.metrics());
        let task = tokio::spawn(spotik_edge::server::serve(app, listener, async {
            let _ = rx.await;
        }));
        Self {
            addr,
            media,
            metrics,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Signals shutdown and waits for the server to return.
    pub async fn stop(&mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task.take().expect("stopped once").await.expect("server task")
    }

    pub async fn get(&self, path: &str) -> Reply {
        send(Version::HTTP_11, "GET", &self.url(path), &[]).await
    }

    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        send(Version::HTTP_11, "GET", &self.url(path), headers).await
    }

    pub async fn request(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
        send(Version::HTTP_11, method, &self.url(path), headers).await
    }

    pub async fn h2(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        send(Version::HTTP_2, "GET", &self.url(path), headers).await
    }

    /// The value of one series (name and labels) in `/metrics`.
    pub async fn metric(&self, series: &str) -> f64 {
        let text = String::from_utf8(self.get("/metrics").await.body.to_vec()).unwrap();
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("no {series} in {text}"))
            .parse()
            .unwrap()
    }

    /// `edge_cache_<name>{cache="small_files"}`.
    pub async fn small_file_figure(&self, name: &str) -> u64 {
        self.metric(&format!("edge_cache_{name}{{cache=\"small_files\"}}"))
            .await as u64
    }

    /// Waits until the small-file cache holds `entries` files.
    pub async fn until_cached(&self, entries: u64) {
        eventually(&format!("the small-file cache held {entries} files"), || async {
            self.small_file_figure("entries").await == entries
        })
        .await;
    }

    /// Writes `request` verbatim on a new connection and reads until the server closes it.
    pub async fn raw(&self, request: &[u8]) -> RawReply {
        let mut stream = TcpStream::connect(self.addr).await.unwrap();
        stream.write_all(request).await.unwrap();
        let mut out = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out)).await;
        RawReply(out)
    }
}

impl Drop for Edge {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A complete response, body collected.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub version: Version,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    /// The value of `name`, panicking with the headers if absent.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
            .to_str()
            .unwrap()
    }

    pub fn has(&self, name: &str) -> bool {
        self.headers.contains_key(name)
    }
}

pub async fn send(version: Version, method: &str, url: &str, headers: &[(&str, &str)]) -> Reply {
    let client = Client::builder(TokioExecutor::new())
        .http2_only(version == Version::HTTP_2)
        .build_http::<Empty<Bytes>>();
    let mut request = Request::builder().method(method).uri(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = client
        .request(request.body(Empty::new()).unwrap())
        .await
        .expect("request failed");
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    Reply {
        status: parts.status,
        version: parts.version,
        headers: parts.headers,
        body,
    }
}

/// The bytes a server sent on a raw connection.
pub struct RawReply(pub Vec<u8>);

impl RawReply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0).into_owned()
    }

    /// The status code of the first response.
    pub fn status(&self) -> Option<u16> {
        let text = self.text();
        let line = text.lines().next()?;
        line.split(' ').nth(1)?.parse().ok()
    }
}

/// Every I/O path a file can take beyond the small-file cache.
pub const IO_MODES: [IoMode; 3] = [IoMode::Mmap, IoMode::Buffered, IoMode::Uring];

/// Polls `condition` every 20 ms until it holds; panics with `what` after 5 s.
/// Tests wait on the thing itself, not on a fixed sleep.
pub async fn eventually<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while !condition().await {
        assert!(tokio::time::Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
