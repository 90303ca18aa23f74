//! Every figure of this process in one place, as JSON (for `/api/metrics`
//! and the dashboard) and in Prometheus' text format: requests, database,
//! cache, WebSocket hub, event delivery and listeners' sync.

use crate::state::AppState;
use crate::telemetry::db_stats::DB_STATS;
use crate::telemetry::histogram::header;
use serde_json::{json, Value};
use std::fmt::Write;
use std::sync::atomic::Ordering;

fn database(state: &AppState) -> Value {
    let mut figures = DB_STATS.summary();
    figures["pool_size"] = state.db.size().into();
    figures["idle"] = state.db.num_idle().into();
    figures["max"] = state.config.pool.max.into();
    figures
}

fn cache(state: &AppState) -> Value {
    let stats = &state.cache.stats;
    let (hits, misses) = (stats.hits.load(Ordering::Relaxed), stats.misses.load(Ordering::Relaxed));
    json!({
        "hits": hits,
        "misses": misses,
        "hit_ratio": (hits + misses > 0).then(|| hits as f64 / (hits + misses) as f64),
        "errors": stats.errors.load(Ordering::Relaxed),
        "breaker_open": state.cache.breaker_open(),
    })
}

/// The figures of `/api/metrics`' `data`.
pub fn json(state: &AppState) -> Value {
    json!({
        "requests": state.requests.snapshot(),
        "database": database(state),
        "cache": cache(state),
        "websocket": state.hub.stats.snapshot(),
        "sync": state.sync_reports.summary(),
        "uptime_seconds": state.started.elapsed().as_secs(),
    })
}

pub fn prometheus(state: &AppState) -> String {
    let mut text = state.requests.prometheus();
    let gauge = |text: &mut String, name: &str, help: &str, value: String| {
        header(text, name, "gauge", help);
        let _ = writeln!(text, "{name} {value}");
    };
    let counter = |text: &mut String, name: &str, help: &str, value: u64| {
        header(text, name, "counter", help);
        let _ = writeln!(text, "{name} {value}");
    };
    gauge(
        &mut text,
        "spotik_api_db_pool_connections",
        "Database connections open.",
        state.db.size().to_string(),
    );
    gauge(
        &mut text,
        "spotik_api_db_pool_idle",
        "Database connections open and idle.",
        state.db.num_idle().to_string(),
    );
    gauge(
        &mut text,
        "spotik_api_db_pool_max",
        "Database connections allowed (DB_POOL_MAX).",
        state.config.pool.max.to_string(),
    );
    DB_STATS.prometheus(&mut text);
    let stats = &state.cache.stats;
    header(
        &mut text,
        "spotik_api_cache_reads_total",
        "counter",
        "Cache reads, by whether they found a value.",
    );
    let _ = writeln!(
        text,
        "spotik_api_cache_reads_total{{result=\"hit\"}} {}\nspotik_api_cache_reads_total{{result=\"miss\"}} {}",
        stats.hits.load(Ordering::Relaxed),
        stats.misses.load(Ordering::Relaxed)
    );
    counter(
        &mut text,
        "spotik_api_redis_errors_total",
        "Redis operations that failed or timed out.",
        stats.errors.load(Ordering::Relaxed),
    );
    gauge(
        &mut text,
        "spotik_api_redis_breaker_open",
        "Whether Redis is being left alone after a failure (1) or used (0).",
        u8::from(state.cache.breaker_open()).to_string(),
    );
    text.push_str(&state.hub.stats.prometheus());
    state.sync_reports.prometheus(&mut text);
    gauge(
        &mut text,
        "spotik_api_uptime_seconds",
        "Seconds since this process started.",
        state.started.elapsed().as_secs().to_string(),
    );
    text
}
