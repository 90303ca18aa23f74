//! What `/api/metrics` reports: the requests a client made, by status and
//! route template, in a form Prometheus's own checker accepts.

use crate::support::*;
use serde_json::Value;
use std::io::Write;
use std::process::{Command, Stdio};

/// `promtool check metrics` on `text`: its complaints, if any. promtool
/// comes with Debian's `prometheus` package, which `deploy/test` installs.
pub fn promtool_complaints(text: &str) -> Option<String> {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is required (apt-get install prometheus); deploy/test installs it");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (!output.status.success() || !said.trim().is_empty()).then_some(said)
}

pub async fn prometheus_text(app: &TestApp) -> String {
    app.client
        .get(app.url("/metrics/prometheus"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// `/api/metrics` (JSON) or `/api/metrics/prometheus` (text) of the binary at `base`.
async fn binary_metrics(base: &str) -> Value {
    reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn binary_prometheus(base: &str) -> String {
    reqwest::get(format!("{base}/metrics/prometheus"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Fails with promtool's complaints about `text`, if it has any.
pub fn assert_promtool_accepts(text: &str) {
    if let Some(complaints) = promtool_complaints(text) {
        panic!("promtool check metrics:\n{complaints}\n{text}");
    }
}

fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {series} in\n{text}"))
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn counts_match_the_requests_made_and_promtool_accepts_them() {
    let app = spawn_app().await;
    let (token, _) = app.user("alice").await;
    let room = app.room(&token).await;
    for _ in 0..7 {
        app.get(&format!("/rooms/{room}"), &token).await;
    }
    for _ in 0..3 {
        app.get(&format!("/rooms/{}", uuid::Uuid::new_v4()), &token).await;
    }
    let text = prometheus_text(&app).await;
    let route = "spotik_api_request_duration_seconds_count{route=\"GET /api/rooms/{room}\"}";
    assert_eq!(sample(&text, route), 10.0, "7 found and 3 missing rooms, one template");
    assert!(sample(&text, "spotik_api_requests_total{status=\"404\"}") >= 3.0);
    assert_promtool_accepts(&text);
}

fn routes(text: &str) -> usize {
    text.lines()
        .filter(|l| l.starts_with("spotik_api_request_duration_seconds_count{"))
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scan_of_random_urls_does_not_grow_the_metrics() {
    let app = spawn_app().await;
    app.client.get(app.url("/ping")).send().await.unwrap();
    prometheus_text(&app).await;
    let before = routes(&prometheus_text(&app).await);
    for i in 0..300 {
        let path = match i % 3 {
            0 => format!("/api/wp-admin/{i}x/setup.php"),
            1 => format!("/api/rooms/not-a-room-{i}"),
            _ => format!("/.env{i}"),
        };
        let url = format!("http://{}{path}", app.addr);
        app.client.get(url).send().await.unwrap();
    }
    let text = prometheus_text(&app).await;
    // Two more routes, whatever the paths: the template a third of them
    // matched, and `other` for the rest.
    assert_eq!(routes(&text), before + 2, "300 random paths:\n{text}");
    assert_eq!(
        sample(
            &text,
            "spotik_api_request_duration_seconds_count{route=\"GET /api/rooms/{room}\"}"
        ),
        100.0
    );
    assert_eq!(
        sample(&text, "spotik_api_request_duration_seconds_count{route=\"other\"}"),
        200.0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_switch_is_honoured() {
    // Debug headers on: each answer says its time and the process's memory.
    let debug = spawn_with(Options {
        tweak: |config| config.monitoring.debug_headers = true,
        ..Options::default()
    })
    .await;
    let answer = debug.client.get(debug.url("/ping")).send().await.unwrap();
    let header = |name: &str| answer.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
    assert!(header("x-execution-time").is_some_and(|t| t.ends_with("ms")));
    assert!(header("x-memory-usage")
        .and_then(|m| m.parse::<u64>().ok())
        .is_some_and(|m| m > 0));
    assert!(header("x-peak-memory")
        .and_then(|m| m.parse::<u64>().ok())
        .is_some_and(|m| m > 1 << 20));
    // Off by default.
    let plain = spawn_app().await;
    let answer = plain.client.get(plain.url("/ping")).send().await.unwrap();
    assert!(answer.headers().get("x-execution-time").is_none());

    // Request monitoring off: nothing counted, metrics still answered.
    let quiet = spawn_with(Options {
        tweak: |config| config.monitoring.requests = false,
        ..Options::default()
    })
    .await;
    for _ in 0..5 {
        quiet.client.get(quiet.url("/ping")).send().await.unwrap();
    }
    let text = prometheus_text(&quiet).await;
    assert_eq!(routes(&text), 0, "{text}");

    // Metrics off: 404.
    let dark = spawn_with(Options {
        tweak: |config| config.monitoring.metrics = false,
        ..Options::default()
    })
    .await;
    let answer = dark.client.get(dark.url("/metrics")).send().await.unwrap();
    assert_eq!(answer.status(), reqwest::StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_last_hours_are_summed_over_every_replica() {
    let quick = |config: &mut spotik_api::Config| config.monitoring.flush_every = std::time::Duration::from_millis(100);
    let first = spawn_with(Options {
        tweak: quick,
        ..Options::default()
    })
    .await;
    let second = spawn_with(Options {
        database_url: Some(first.database_url.clone()),
        media: Some(first.media.clone()),
        redis_prefix: Some(first.redis_prefix.clone()),
        tweak: quick,
        ..Options::default()
    })
    .await;
    for _ in 0..4 {
        first.client.get(first.url("/ping")).send().await.unwrap();
    }
    for _ in 0..6 {
        second.client.get(second.url("/ping")).send().await.unwrap();
    }
    let started = std::time::Instant::now();
    let pings = loop {
        let body = answer(first.client.get(first.url("/metrics?hours=24")).send().await.unwrap())
            .await
            .body;
        let pings = body["data"]["history"]["by_route"]["GET /api/ping"]["count"]
            .as_u64()
            .unwrap_or(0);
        if pings >= 10 || started.elapsed() > std::time::Duration::from_secs(5) {
            break pings;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(pings, 10, "4 pings on one replica and 6 on the other");
    let refused = first.client.get(first.url("/metrics?hours=0")).send().await.unwrap();
    assert_eq!(refused.status(), reqwest::StatusCode::UNPROCESSABLE_ENTITY);
}

/// The binary, where sqlx's timing events reach the figures (tracing is
/// process-wide, so only the binary installs the layer that keeps them).
#[tokio::test(flavor = "multi_thread")]
async fn queries_are_timed_by_kind_and_slow_ones_logged_with_their_table() {
    let database = TestDatabase::create();
    let database_url = database.url.clone();
    let media = tempfile::tempdir().unwrap();
    let log = tempfile::NamedTempFile::new().unwrap();
    let stderr = log.reopen().unwrap();
    let api = ApiProcess::start_with(&database_url, media.path(), free_port(), |command| {
        command.env("DB_SLOW_QUERY_THRESHOLD", "0").stderr(stderr);
    })
    .await;
    let client = reqwest::Client::new();
    let register = client
        .post(format!("{}/auth/register", api.base))
        .json(&serde_json::json!({
            "username": "dora", "email": "dora@example.com",
            "password": "secret-password", "password_confirmation": "secret-password"
        }))
        .send()
        .await
        .unwrap();
    assert!(register.status().is_success(), "{}", register.text().await.unwrap());
    let metrics = binary_metrics(&api.base).await;
    let database = &metrics["data"]["database"];
    assert!(
        database["queries"]["INSERT"]["count"].as_u64().unwrap() >= 1,
        "{database}"
    );
    assert!(
        database["queries"]["SELECT"]["count"].as_u64().unwrap() >= 1,
        "{database}"
    );
    assert!(
        database["acquire_seconds"]["count"].as_u64().unwrap() >= 1,
        "{database}"
    );
    let text = binary_prometheus(&api.base).await;
    assert!(sample(&text, "spotik_api_db_slow_queries_total{kind=\"INSERT\"}") >= 1.0);
    assert_promtool_accepts(&text);
    let logged = std::fs::read_to_string(log.path()).unwrap();
    assert!(
        logged.lines().any(
            |l| l.contains("slow query kind=INSERT table=users ms=") && l.contains("statement=\"INSERT INTO users")
        ),
        "{logged}"
    );
    drop(api);

    // DB_MONITORING_ENABLED=false: sqlx raises nothing, nothing is counted or logged.
    let quiet_log = tempfile::NamedTempFile::new().unwrap();
    let stderr = quiet_log.reopen().unwrap();
    let quiet = ApiProcess::start_with(&database_url, media.path(), free_port(), |command| {
        command
            .env("DB_SLOW_QUERY_THRESHOLD", "0")
            .env("DB_MONITORING_ENABLED", "false")
            .stderr(stderr);
    })
    .await;
    let login = client
        .post(format!("{}/auth/login", quiet.base))
        .json(&serde_json::json!({ "email": "dora@example.com", "password": "secret-password" }))
        .send()
        .await
        .unwrap();
    assert!(login.status().is_success());
    let metrics = binary_metrics(&quiet.base).await;
    assert_eq!(
        metrics["data"]["database"]["queries"],
        serde_json::json!({}),
        "{metrics}"
    );
    let logged = std::fs::read_to_string(quiet_log.path()).unwrap();
    assert!(!logged.contains("slow query"), "{logged}");
}

#[tokio::test(flavor = "multi_thread")]
async fn health_times_each_check_and_the_bus_round_trip() {
    let app = spawn_app().await;
    // The hub subscribes to Redis in the background.
    let mut health = Value::Null;
    for _ in 0..50 {
        health = answer(app.client.get(app.url("/health")).send().await.unwrap())
            .await
            .body;
        if health["status"] == "healthy" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(health["status"], "healthy", "{health}");
    for check in ["database", "redis", "storage", "websocket"] {
        assert_eq!(health["checks"][check]["status"], "ok", "{check}: {health}");
        let took = health["checks"][check]["response_time"].as_f64().unwrap();
        assert!(took > 0.0 && took < 1000.0, "{check} took {took} ms");
    }
    assert_eq!(health["checks"]["websocket"]["connections"], 0);
    assert_eq!(health["alerts"], serde_json::json!([]));
}

/// The metric names a query in `text` uses (ours: `spotik_api_*`, `edge_*`).
fn metric_names(text: &str) -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    for (i, _) in text.match_indices(['s', 'e']) {
        let rest = &text[i..];
        if !(rest.starts_with("spotik_api_") || rest.starts_with("edge_")) {
            continue;
        }
        if text[..i].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        names.insert(name);
    }
    names
}

/// Every series the alert rules and the Grafana dashboard query is one the
/// API or the edge exposes: a renamed metric fails here, not silently in
/// an operator's empty panel.
#[tokio::test(flavor = "multi_thread")]
async fn every_metric_the_alerts_and_the_grafana_dashboard_query_exists() {
    let app = spawn_app().await;
    // Route histograms appear with a route's first request.
    app.client.get(app.url("/ping")).send().await.unwrap();
    let media = tempfile::tempdir().unwrap();
    let edge = spawn_edge(media.path()).await;
    let exposed = format!(
        "{}{}",
        prometheus_text(&app).await,
        reqwest::get(format!("http://{edge}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    );
    let samples: std::collections::BTreeSet<&str> = exposed
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .collect();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy");
    let mut queried = 0;
    for file in ["prometheus/spotik.rules.yml", "grafana/spotik.json"] {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        let names = metric_names(&text);
        assert!(names.len() > 5, "{file}: {names:?}");
        for name in names {
            assert!(
                samples.contains(name.as_str()),
                "{file} queries {name}, which nothing exposes"
            );
            queried += 1;
        }
    }
    assert!(queried > 20);
}
