//! Every figure of this process in one place, as JSON (for `/api/metrics`
//! and the dashboard) and in Prometheus' text format: requests, database,
//! cache, WebSocket hub, event delivery and listeners' sync.

use crate::hub::HubFigures;
use crate::state::AppState;
use crate::telemetry::db_stats::DbFigures;
use crate::telemetry::db_stats::DB_STATS;
use crate::telemetry::drift::SyncFigures;
use crate::telemetry::histogram::header;
use crate::telemetry::request_stats::RequestFigures;
use serde::Serialize;
use std::fmt::Write;
use std::sync::atomic::Ordering;

/// A standing alert, as `/api/health` and the dashboard show it.
#[derive(Debug, Serialize, salvo::oapi::ToSchema)]
pub struct Alert {
    /// `warning` or `critical`.
    pub level: String,
    pub message: String,
}

impl Alert {
    /// The alerts of `(level, message)` pairs.
    pub fn all(pairs: Vec<(&str, String)>) -> Vec<Alert> {
        pairs
            .into_iter()
            .map(|(level, message)| Alert {
                level: level.to_owned(),
                message,
            })
            .collect()
    }
}

/// Every figure of the process: `/api/metrics`' `data`, the dashboard's `api`.
#[derive(Debug, Serialize)]
pub struct Figures {
    pub requests: RequestFigures,
    pub database: DatabaseFigures,
    pub cache: CacheFigures,
    pub websocket: HubFigures,
    pub sync: SyncFigures,
    pub votes: crate::store::ballots::VoteFigures,
    /// Warm-ups of the next track on the edges.
    pub warm: crate::files::warm::WarmFigures,
    pub uptime_seconds: u64,
    /// `?hours=N`: every replica's last N hours, from Redis.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<crate::telemetry::history::HistoryAnswer>,
}

#[derive(Debug, Serialize)]
pub struct DatabaseFigures {
    #[serde(flatten)]
    pub statements: DbFigures,
    /// Connections open, idle among them, and allowed (`DB_POOL_MAX`).
    pub pool_size: u32,
    pub idle: usize,
    pub max: u32,
}

#[derive(Debug, Serialize)]
pub struct CacheFigures {
    pub hits: u64,
    pub misses: u64,
    pub hit_ratio: Option<f64>,
    pub errors: u64,
    /// Whether Redis is being skipped after failures.
    pub breaker_open: bool,
}

fn database(state: &AppState) -> DatabaseFigures {
    DatabaseFigures {
        statements: DB_STATS.summary(),
        pool_size: state.db.size(),
        idle: state.db.num_idle(),
        max: state.config.pool.max,
    }
}

fn cache(state: &AppState) -> CacheFigures {
    let stats = &state.cache.stats;
    let (hits, misses) = (stats.hits.load(Ordering::Relaxed), stats.misses.load(Ordering::Relaxed));
    CacheFigures {
        hits,
        misses,
        hit_ratio: (hits + misses > 0).then(|| hits as f64 / (hits + misses) as f64),
        errors: stats.errors.load(Ordering::Relaxed),
        breaker_open: state.cache.breaker_open(),
    }
}

/// The figures of `/api/metrics`' `data`.
pub fn all(state: &AppState) -> Figures {
    Figures {
        requests: state.requests.snapshot(),
        database: database(state),
        cache: cache(state),
        websocket: state.hub.stats.snapshot(),
        sync: state.sync_reports.summary(),
        votes: state.ballots.figures(),
        warm: state.warmer.figures(),
        uptime_seconds: state.started.elapsed().as_secs(),
        history: None,
    }
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
    let votes = state.ballots.figures();
    counter(&mut text, "spotik_api_votes_total", "Votes committed.", votes.votes);
    counter(
        &mut text,
        "spotik_api_vote_commits_total",
        "Commits the votes took: one per batch, which holds the waiting votes of any rooms.",
        votes.commits,
    );
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
