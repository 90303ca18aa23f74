//! `spawn_app()`: a fresh database, a private Redis prefix, a temporary
//! media root and the real server on port 0.

use reqwest::multipart::{Form, Part};
use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};
use spotik_api::{Config, State};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;
use tokio::sync::oneshot;

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures/audio")
        .join(name)
}

/// A database of its own for each test, dropped with the guard.
pub use spotik_shared::test_database::TestDatabase;

/// Removes every Redis key under `prefix` on `redis_url`.
pub fn remove_redis_keys(redis_url: &str, prefix: &str) {
    let _ = Command::new("redis-cli")
        .args(["-u", redis_url, "EVAL"])
        .arg("for _, key in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', key) end return 0")
        .args(["0", &format!("{prefix}*")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub state: State,
    pub media: Arc<TempDir>,
    pub database_url: String,
    pub redis_prefix: String,
    pub client: Client,
    shutdown: Option<oneshot::Sender<()>>,
    /// What this app made for itself (not a replica's shared ones), removed
    /// when it is dropped.
    _database: Option<TestDatabase>,
    owns_redis_prefix: Option<String>,
}

pub struct Options {
    pub redis_url: String,
    pub database_url: Option<String>,
    pub media: Option<Arc<TempDir>>,
    /// Replicas that must hear each other share a Redis prefix.
    pub redis_prefix: Option<String>,
    /// Where the signed audio links point (`EDGE_PUBLIC_URL`).
    pub edge_url: Option<String>,
    /// The nodes of a Redis Cluster to use (`REDIS_CLUSTER_URLS`).
    pub redis_cluster: Option<String>,
    pub tweak: fn(&mut Config),
}

impl Default for Options {
    fn default() -> Self {
        Self {
            redis_url: "redis://127.0.0.1:6379".into(),
            database_url: None,
            media: None,
            redis_prefix: None,
            edge_url: None,
            redis_cluster: None,
            tweak: |_| {},
        }
    }
}

/// A second API process over the same database, media and Redis prefix.
pub async fn replica_of(app: &TestApp, redis_url: &str) -> TestApp {
    spawn_with(Options {
        database_url: Some(app.database_url.clone()),
        media: Some(app.media.clone()),
        redis_url: redis_url.to_owned(),
        redis_prefix: Some(app.redis_prefix.clone()),
        ..Options::default()
    })
    .await
}

/// The real spotik-edge serving `root`, with the API's test signing secret
/// (`edge-secret`); its address.
pub async fn spawn_edge(root: &Path) -> std::net::SocketAddr {
    let mut config = spotik_edge::Config::for_root(root);
    config.signing_secret = Some("edge-secret".into());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let edge = listener.local_addr().unwrap();
    tokio::spawn(spotik_edge::run(config, listener, std::future::pending()));
    edge
}

/// The API and a real edge over one media directory, the API's signed
/// links pointing at the edge.
pub async fn spawn_app_with_edge() -> (TestApp, std::net::SocketAddr) {
    let media = Arc::new(tempfile::tempdir().unwrap());
    let edge = spawn_edge(media.path()).await;
    let app = spawn_with(Options {
        media: Some(media),
        edge_url: Some(format!("http://{edge}")),
        ..Options::default()
    })
    .await;
    (app, edge)
}

pub async fn spawn_app() -> TestApp {
    spawn_with(Options::default()).await
}

pub async fn spawn_with(options: Options) -> TestApp {
    let (database_url, database) = match options.database_url {
        Some(url) => (url, None),
        None => {
            let database = TestDatabase::create();
            (database.url.clone(), Some(database))
        }
    };
    let owns_redis_prefix = options.redis_prefix.is_none().then(|| options.redis_url.clone());
    let media = options.media.unwrap_or_else(|| Arc::new(tempfile::tempdir().unwrap()));
    let prefix = options
        .redis_prefix
        .unwrap_or_else(|| format!("test:{}:", uuid::Uuid::new_v4().simple()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let env = [
        ("API_PUBLIC_URL", format!("http://{addr}")),
        ("DATABASE_URL", database_url.clone()),
        ("REDIS_URL", options.redis_url.clone()),
        ("REDIS_PREFIX", prefix.clone()),
        ("REDIS_CLUSTER_URLS", options.redis_cluster.clone().unwrap_or_default()),
        ("MEDIA_ROOT", media.path().display().to_string()),
        (
            "EDGE_PUBLIC_URL",
            options.edge_url.clone().unwrap_or_else(|| "http://edge.test".into()),
        ),
        ("EDGE_SIGNING_SECRET", "edge-secret".into()),
        ("JWT_SECRET", "test-jwt-secret".into()),
        ("ARGON2_MEMORY_KIB", "256".into()),
        ("LOGIN_LIMIT_PER_IP", "1000".into()),
        ("LOGIN_LIMIT_PER_ACCOUNT", "1000".into()),
        // Every test's clients come from 127.0.0.1.
        ("REGISTER_LIMIT_PER_IP", "100000".into()),
        ("MAX_CONNECTIONS_PER_CLIENT", "100000".into()),
        ("ADVANCE_INTERVAL_MS", "50".into()),
        ("DB_POOL_MAX", "30".into()),
        // Late joiners are told the room's playback this long after joining.
        ("WS_CATCH_UP_DELAY_MS", "100".into()),
        // Uploads are probed by the real binary, as in production.
        ("PROBE_PROGRAM", env!("CARGO_BIN_EXE_spotik-api").into()),
    ];
    let mut config = Config::from_lookup(|name| env.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone())).unwrap();
    (options.tweak)(&mut config);
    let state = spotik_api::connect(config).await.expect("the API starts");
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(spotik_api::run(Arc::clone(&state), listener, async {
        let _ = rx.await;
    }));
    let client = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    TestApp {
        addr,
        state,
        media,
        database_url,
        redis_prefix: prefix,
        client,
        shutdown: Some(tx),
        _database: database,
        owns_redis_prefix,
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(redis_url) = &self.owns_redis_prefix {
            remove_redis_keys(redis_url, &self.redis_prefix);
        }
    }
}

/// A response: status and JSON body.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}/api{path}", self.addr)
    }

    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Answer {
        let mut request = self.client.request(method.clone(), self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = &body {
            request = request.json(body);
        }
        let sent = body.unwrap_or(Value::Null);
        let answer = answer(request.send().await.expect("request sent")).await;
        self.conforms(&method, path, &sent, &answer).await;
        answer
    }

    /// Panics unless `answer` to `method path` is what `/api/openapi.json`
    /// says it is (see `openapi_check`). Only JSON answers are judged.
    pub async fn conforms(&self, method: &Method, path: &str, sent: &Value, answer: &Answer) {
        static DOCUMENT: tokio::sync::OnceCell<crate::openapi_check::Document> = tokio::sync::OnceCell::const_new();
        let document = DOCUMENT
            .get_or_init(|| async {
                let served = self
                    .client
                    .get(self.url("/openapi.json"))
                    .send()
                    .await
                    .expect("the document");
                crate::openapi_check::Document::new(served.json().await.expect("the document is JSON"))
            })
            .await;
        let (route, query) = path.split_once('?').unwrap_or((path, ""));
        let route = format!("/api{route}");
        // A request that was served used only what the document declares:
        // its query parameters and its body (a refused one may carry
        // anything: the security tests' hostile queries).
        let declared = document
            .check_query(method, &route, query)
            .and_then(|()| document.check_request_body(method, &route, sent));
        if let Err(wrong) = declared.or_else(|wrong| if answer.status.is_success() { Err(wrong) } else { Ok(()) }) {
            panic!("a request the OpenAPI document does not describe: {wrong}");
        }
        let is_json = answer
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !is_json {
            return;
        }
        if let Err(wrong) = document.check(method, &route, answer.status.as_u16(), &answer.body) {
            panic!("an answer the OpenAPI document does not describe: {wrong}");
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Answer {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Answer {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    /// Registers `name` and returns (token, user id).
    pub async fn user(&self, name: &str) -> (String, String) {
        let reply = self
            .call(
                Method::POST,
                "/auth/register",
                None,
                Some(json!({ "username": name, "email": format!("{name}@example.com"), "password": "password123", "password_confirmation": "password123" })),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
        (
            reply.body["data"]["token"].as_str().unwrap().to_owned(),
            reply.body["data"]["user"]["id"].as_str().unwrap().to_owned(),
        )
    }

    /// Creates a room administered by `token`'s user; returns its id.
    pub async fn room(&self, token: &str) -> String {
        let reply = self.post("/rooms", token, json!({ "name": "Test room" })).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
        reply.body["data"]["id"].as_str().unwrap().to_owned()
    }

    pub async fn upload_bytes(&self, room: &str, token: &str, name: &str, bytes: Vec<u8>) -> Answer {
        self.try_upload_bytes(room, token, name, bytes)
            .await
            .expect("upload sent")
    }

    /// An upload whose request may be cut short: a server that refuses a
    /// body by its announced length answers and closes while the client is
    /// still sending, and the client may only see the closed connection.
    pub async fn try_upload_bytes(
        &self,
        room: &str,
        token: &str,
        name: &str,
        bytes: Vec<u8>,
    ) -> Result<Answer, reqwest::Error> {
        let form = Form::new().part("audio_file", Part::bytes(bytes).file_name(name.to_owned()));
        self.send_upload(room, token, form).await
    }

    async fn send_upload(&self, room: &str, token: &str, form: Form) -> Result<Answer, reqwest::Error> {
        let response = self
            .client
            .post(self.url(&format!("/rooms/{room}/tracks")))
            .bearer_auth(token)
            // A refused upload is answered before its body is read and the
            // server then closes the connection; it must not go back to the
            // client's pool, or the next request would be sent on a dead one.
            .header("connection", "close")
            .multipart(form)
            .send()
            .await?;
        let answer = answer(response).await;
        self.conforms(&Method::POST, &format!("/rooms/{room}/tracks"), &Value::Null, &answer)
            .await;
        Ok(answer)
    }

    /// How many responses with `status` the server has sent, from `/api/metrics`.
    pub async fn responses_with(&self, status: u16) -> u64 {
        let metrics = answer(self.client.get(self.url("/metrics")).send().await.unwrap()).await;
        metrics.body["data"]["requests"]["by_status"][status.to_string()]
            .as_u64()
            .unwrap_or(0)
    }

    pub async fn upload(&self, room: &str, token: &str, fixture_name: &str) -> Answer {
        self.upload_bytes(room, token, fixture_name, std::fs::read(fixture(fixture_name)).unwrap())
            .await
    }

    /// Every regular file under the media root, temporary uploads included.
    pub fn media_files(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, out);
                } else {
                    out.push(path);
                }
            }
        }
        let mut out = Vec::new();
        walk(self.media.path(), &mut out);
        out
    }

    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&self.state.db)
            .await
            .unwrap()
    }
}

pub async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer { status, body, headers }
}

/// A private redis-server on a free port (never the machine's shared one).
pub struct PrivateRedis {
    child: Child,
    pub port: u16,
}

impl PrivateRedis {
    pub fn start(port: u16) -> Self {
        Self::launch(port, &["--appendonly", "no"])
    }

    /// One that keeps its data in `dir` (append-only file, fsync always):
    /// restarted on the same `dir`, it comes back with what it held.
    pub fn start_keeping(port: u16, dir: &Path) -> Self {
        let dir = dir.display().to_string();
        Self::launch(port, &["--appendonly", "yes", "--appendfsync", "always", "--dir", &dir])
    }

    pub fn launch(port: u16, persistence: &[&str]) -> Self {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", ""])
            .args(persistence)
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is installed (deploy/test installs it)");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, port }
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A real WAV `seconds` long, for tests that need a track still playing
/// when they look (the fixtures last 1.5 s).
pub fn long_wav(seconds: f64) -> Vec<u8> {
    spotik_shared::demo_audio::chord_wav(&[220.0, 277.2, 329.6], seconds)
}

/// A room playing a 30 s track for `played` before anyone else arrives:
/// the administrator's token, the room and the track.
pub async fn playing_room(app: &TestApp, played: Duration) -> (String, String, Value) {
    let (admin, _) = app.user("admin").await;
    let room = app.room(&admin).await;
    let track = app.upload_bytes(&room, &admin, "long.wav", long_wav(30.0)).await.body["track"].clone();
    tokio::time::sleep(played).await;
    (admin, room, track)
}

/// Milliseconds since the epoch of an ISO time in an answer.
pub fn millis(iso: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(iso.as_str().expect("an ISO time"))
        .unwrap()
        .timestamp_millis()
}

pub fn image_fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/images")
            .join(name),
    )
    .unwrap()
}

impl TestApp {
    /// A multipart upload with the front end's fields (`FileUpload.vue`):
    /// `audio_file`, and optionally `cover_image` and `genre_id`.
    pub async fn upload_form(
        &self,
        room: &str,
        token: &str,
        audio: (&str, Vec<u8>),
        cover: Option<(&str, Vec<u8>)>,
        genre_id: Option<&str>,
    ) -> Answer {
        let mut form = Form::new().part("audio_file", Part::bytes(audio.1).file_name(audio.0.to_owned()));
        if let Some((name, bytes)) = cover {
            form = form.part("cover_image", Part::bytes(bytes).file_name(name.to_owned()));
        }
        if let Some(genre) = genre_id {
            form = form.text("genre_id", genre.to_owned());
        }
        self.send_upload(room, token, form).await.expect("upload sent")
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call(Method::PUT, path, Some(token), Some(body)).await
    }
}

/// The real `spotik-api` binary on `port`, killed when dropped.
pub struct ApiProcess {
    pub child: Child,
    pub base: String,
}

impl ApiProcess {
    pub async fn start(database_url: &str, media: &Path, port: u16) -> Self {
        Self::start_with(database_url, media, port, |_| {}).await
    }

    /// `configure` adds to the command (environment, limits) before it runs.
    pub async fn start_with(database_url: &str, media: &Path, port: u16, configure: impl FnOnce(&mut Command)) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_spotik-api"));
        command
            .arg("serve")
            .env("API_LISTEN", format!("127.0.0.1:{port}"))
            .env("DATABASE_URL", database_url)
            .env("MEDIA_ROOT", media)
            .env("REDIS_PREFIX", format!("test:{}:", uuid::Uuid::new_v4().simple()))
            .env("JWT_SECRET", "test-jwt-secret")
            .env("ARGON2_MEMORY_KIB", "256")
            .env("REGISTER_LIMIT_PER_IP", "100000")
            .env("MAX_CONNECTIONS_PER_CLIENT", "100000")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        configure(&mut command);
        let child = command.spawn().expect("the spotik-api binary");
        // Owned at once, so that a failed start is still killed and reaped.
        let process = Self {
            child,
            base: format!("http://127.0.0.1:{port}/api"),
        };
        for _ in 0..300 {
            if reqwest::get(format!("{}/ping", process.base)).await.is_ok() {
                return process;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("spotik-api did not start");
    }

    pub fn kill(&mut self) {
        self.child.kill().unwrap(); // SIGKILL
        self.child.wait().unwrap();
    }
}

impl ApiProcess {
    /// Registers `name` on this process; its token.
    pub async fn user(&self, name: &str) -> String {
        let registered = answer(
            reqwest::Client::new()
                .post(format!("{}/auth/register", self.base))
                .json(&json!({ "username": name, "email": format!("{name}@example.com"), "password": "password123", "password_confirmation": "password123" }))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(registered.status, StatusCode::CREATED, "{:?}", registered.body);
        registered.body["data"]["token"].as_str().unwrap().to_owned()
    }

    /// A room administered by `token`'s user; its id.
    pub async fn room(&self, token: &str) -> String {
        let created = answer(
            reqwest::Client::new()
                .post(format!("{}/rooms", self.base))
                .bearer_auth(token)
                .json(&json!({ "name": "Room" }))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
        created.body["data"]["id"].as_str().unwrap().to_owned()
    }

    /// Uploads `bytes` as `name` to `room`.
    pub async fn upload(&self, room: &str, token: &str, name: &str, bytes: Vec<u8>) -> Answer {
        let form = Form::new().part("audio_file", Part::bytes(bytes).file_name(name.to_owned()));
        answer(
            reqwest::Client::new()
                .post(format!("{}/rooms/{room}/tracks", self.base))
                .bearer_auth(token)
                .multipart(form)
                .send()
                .await
                .expect("upload sent"),
        )
        .await
    }

    /// Whether the process still runs and answers `/api/ping`.
    pub async fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
            && reqwest::get(format!("{}/ping", self.base))
                .await
                .is_ok_and(|r| r.status().is_success())
    }
}

impl Drop for ApiProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A PostgreSQL of its own on a temporary directory (never the machine's
/// shared one), which a test may freeze (SIGSTOP: it stops answering, as a
/// hung or partitioned server does) and thaw. Stopped when dropped.
pub struct PrivatePostgres {
    dir: TempDir,
    bindir: PathBuf,
    pub port: u16,
}

fn as_postgres(program: &Path) -> Command {
    // initdb and postgres refuse to run as root.
    if unsafe { libc::geteuid() } == 0 {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

impl PrivatePostgres {
    pub fn start() -> Self {
        let bindir = Command::new("pg_config").arg("--bindir").output().expect("pg_config");
        let bindir = PathBuf::from(String::from_utf8(bindir.stdout).unwrap().trim());
        let dir = tempfile::tempdir().unwrap();
        if unsafe { libc::geteuid() } == 0 {
            let status = Command::new("chown")
                .arg("postgres:postgres")
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(status.success());
        }
        let data = dir.path().join("data");
        let status = as_postgres(&bindir.join("initdb"))
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "initdb");
        let port = free_port();
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            dir.path().display()
        );
        let status = as_postgres(&bindir.join("pg_ctl"))
            .args(["-w", "-D"])
            .arg(&data)
            .args(["-o", &options, "-l"])
            .arg(dir.path().join("log"))
            .arg("start")
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "pg_ctl start");
        Self { dir, bindir, port }
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The postmaster and every backend it started.
    fn processes(&self) -> Vec<i32> {
        let pid_file = std::fs::read_to_string(self.dir.path().join("data/postmaster.pid")).unwrap_or_default();
        let Some(main) = pid_file.lines().next().and_then(|l| l.trim().parse::<i32>().ok()) else {
            return Vec::new();
        };
        let mut pids = vec![main];
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            let parent = stat
                .rsplit(')')
                .next()
                .and_then(|rest| rest.split_whitespace().nth(1)?.parse::<i32>().ok());
            if parent == Some(main) {
                pids.push(pid);
            }
        }
        pids
    }

    fn signal(&self, signal: i32) {
        for pid in self.processes() {
            unsafe { libc::kill(pid, signal) };
        }
    }

    fn pg_ctl(&self, action: &[&str]) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let status = as_postgres(&self.bindir.join("pg_ctl"))
            .args(["-w", "-D"])
            .arg(self.dir.path().join("data"))
            .args(["-o", &options, "-l"])
            .arg(self.dir.path().join("log"))
            .args(action)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "pg_ctl {action:?}");
    }

    /// Stops the server the way an operator's restart does (`-m fast`:
    /// sessions are ended) and keeps its data.
    pub fn stop(&self) {
        self.pg_ctl(&["-m", "fast", "stop"]);
    }

    pub fn restart(&self) {
        self.pg_ctl(&["start"]);
    }

    pub fn freeze(&self) {
        self.signal(libc::SIGSTOP);
    }

    pub fn thaw(&self) {
        self.signal(libc::SIGCONT);
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        self.thaw();
        let _ = as_postgres(&self.bindir.join("pg_ctl"))
            .args(["-m", "immediate", "-D"])
            .arg(self.dir.path().join("data"))
            .arg("stop")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A `/proc/{pid}/status` figure in KiB (`VmRSS`, `VmHWM`).
pub fn proc_status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} of {pid}"))
}

/// Runs `command` with at most `limit` open files.
pub fn limit_descriptors(command: &mut std::process::Command, limit: u64) {
    use std::os::unix::process::CommandExt;
    // SAFETY: setrlimit only, between fork and exec.
    unsafe {
        command.pre_exec(move || {
            let rlimit = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            match libc::setrlimit(libc::RLIMIT_NOFILE, &rlimit) {
                0 => Ok(()),
                _ => Err(std::io::Error::last_os_error()),
            }
        });
    }
}
