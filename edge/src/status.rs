//! `/ping`, `/health` and `/metrics`: what operators and load balancers ask.

use crate::app::App;
use crate::body::EdgeBody;
use crate::response;
use crate::store::CacheFigures;
use http::{Response, StatusCode};
use serde_json::json;

pub fn ping(head: bool) -> Response<EdgeBody> {
    response::content(StatusCode::OK, "text/plain; charset=utf-8", "ok", head)
}

/// 200 with `"status": "ok"` while the media directory is readable, 503 otherwise.
pub fn health(app: &App, head: bool) -> Response<EdgeBody> {
    let readable = std::fs::read_dir(app.store().root()).is_ok();
    let metrics = app.metrics();
    let figures = |f: CacheFigures| json!({ "entries": f.entries, "bytes": f.weight, "capacity": f.capacity, "hits": f.hits, "misses": f.misses, "evictions": f.evictions });
    let body = json!({
        "status": if readable { "ok" } else { "degraded" },
        "uptime_seconds": metrics.uptime().as_secs(),
        "open_connections": metrics.open_connections(),
        "media_dir_readable": readable,
        "io": app.config().io,
        "cache": {
            "small_files": figures(app.store().small_file_figures()),
            "metadata": figures(app.store().metadata_figures()),
        },
    });
    let status = if readable {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    response::content(status, "application/json", body.to_string(), head)
}

pub fn metrics(app: &App, head: bool) -> Response<EdgeBody> {
    let text = app
        .metrics()
        .render(&app.store().small_file_figures(), &app.store().metadata_figures());
    response::content(StatusCode::OK, "text/plain; version=0.0.4; charset=utf-8", text, head)
}
