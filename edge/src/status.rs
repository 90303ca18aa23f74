//! `/ping`, `/health` and `/metrics`: what operators and load balancers ask.

use crate::app::App;
use crate::body::EdgeBody;
use crate::response;
use crate::store::CacheFigures;
use http::{Response, StatusCode};
use serde_json::json;
use spotik_shared::system::{slow_check_alert, System};

pub fn ping(head: bool) -> Response<EdgeBody> {
    response::content(StatusCode::OK, "text/plain; charset=utf-8", "ok", head)
}

/// Readiness, in the API's shape: the media directory's check with its
/// time, the host's figures, the plan's alerts. `unhealthy` (503) when the
/// media directory cannot be read — nothing could be served — and
/// `degraded` while an alert stands. The reads run off the async workers,
/// bounded by `HEALTH_CHECKS_TIMEOUT` (a hung mount fails the check).
pub async fn health(app: &App, head: bool) -> Response<EdgeBody> {
    let root = app.store().root().to_path_buf();
    let limit = std::time::Duration::from_millis(app.config().health_checks_timeout_ms);
    let started = std::time::Instant::now();
    let read = tokio::task::spawn_blocking(move || (std::fs::read_dir(&root).is_ok(), System::read(&root)));
    let (readable, system) = match tokio::time::timeout(limit, read).await {
        Ok(Ok(figures)) => figures,
        _ => (false, System::default()),
    };
    let took_ms = started.elapsed().as_secs_f64() * 1000.0;
    let mut alerts = system.alerts();
    alerts.extend(slow_check_alert("storage", took_ms));
    let status = match (readable, alerts.is_empty()) {
        (false, _) => "unhealthy",
        (true, false) => "degraded",
        (true, true) => "healthy",
    };
    let metrics = app.metrics();
    let figures = |f: CacheFigures| json!({ "entries": f.entries, "bytes": f.weight, "capacity": f.capacity, "hits": f.hits, "misses": f.misses, "evictions": f.evictions, "loads": f.loads });
    let body = json!({
        "status": status,
        "timestamp": httpdate::fmt_http_date(std::time::SystemTime::now()),
        "checks": {
            "storage": { "status": if readable { "ok" } else { "failed" }, "response_time": took_ms },
        },
        "system": {
            "memory": { "used_percent": system.memory_used_percent },
            "disk": { "used_percent": system.disk_used_percent },
            "load_average": system.load_average,
            "uptime": metrics.uptime().as_secs(),
        },
        "alerts": alerts.into_iter().map(|(level, message)| json!({ "level": level, "message": message })).collect::<Vec<_>>(),
        "uptime_seconds": metrics.uptime().as_secs(),
        "open_connections": metrics.open_connections(),
        "media_dir_readable": readable,
        "io": app.config().io,
        "cache": {
            "small_files": figures(app.store().small_file_figures()),
            "metadata": figures(app.store().metadata_figures()),
        },
    });
    let code = if readable {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    response::content(code, "application/json", body.to_string(), head)
}

pub fn metrics(app: &App, head: bool) -> Response<EdgeBody> {
    let text = app
        .metrics()
        .render(&app.store().small_file_figures(), &app.store().metadata_figures());
    response::content(StatusCode::OK, "text/plain; version=0.0.4; charset=utf-8", text, head)
}
