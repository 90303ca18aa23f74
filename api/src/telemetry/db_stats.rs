//! Database figures: every query's time by statement kind, connection
//! acquisition waits, and slow queries logged as structured lines.
//!
//! sqlx times every statement and every pool acquisition itself and says so
//! as tracing events (`sqlx::query`, `sqlx::pool::acquire`) at the levels it
//! is told (see [`crate::connect`]). [`layer`] turns those events into
//! these figures, so no query site has to be wrapped. Tracing is
//! process-wide, hence one [`DB_STATS`] for the process; `DB_MONITORING_ENABLED`
//! off tells sqlx to raise no events at all.

use crate::telemetry::histogram::{self, Histogram};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::LazyLock;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, Filter, Layer};
use tracing_subscriber::Registry;

/// Statement kinds counted apart; anything else counts as `OTHER`.
const KINDS: [&str; 6] = ["SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "OTHER"];

pub struct DbStats {
    by_kind: Vec<Histogram>,
    slow_by_kind: Vec<AtomicU64>,
    /// Time from asking the pool for a connection to having one.
    acquire: Histogram,
}

/// The level sqlx is told to raise slow statements at (see `crate::connect`);
/// every other statement is raised at `TRACE`.
pub const SLOW_LEVEL: tracing::Level = tracing::Level::DEBUG;
/// The same as the `log` crate's filter, which sqlx's settings take.
pub const SLOW_LOG_LEVEL: log::LevelFilter = log::LevelFilter::Debug;

/// The statements' figures by kind (only kinds seen), and the wait for a
/// pooled connection.
#[derive(Debug, Serialize)]
pub struct DbFigures {
    pub queries: BTreeMap<&'static str, KindFigures>,
    pub acquire_seconds: histogram::Summary,
}

#[derive(Debug, Serialize)]
pub struct KindFigures {
    #[serde(flatten)]
    pub summary: histogram::Summary,
    /// Statements slower than `DB_SLOW_QUERY_MS`.
    pub slow: u64,
}

pub static DB_STATS: LazyLock<DbStats> = LazyLock::new(|| DbStats {
    by_kind: KINDS.iter().map(|_| Histogram::new(&histogram::SECONDS)).collect(),
    slow_by_kind: KINDS.iter().map(|_| AtomicU64::new(0)).collect(),
    acquire: Histogram::new(&histogram::SECONDS),
});

/// The kind of statement `sql` is, and the table it names first (after
/// `FROM`, `INTO` or `UPDATE`), for the figures and the slow-query log.
pub fn classify(sql: &str) -> (&'static str, Option<&str>) {
    let mut words = sql.split_whitespace();
    let first = words.next().unwrap_or("");
    let kind = KINDS[..KINDS.len() - 1]
        .iter()
        .find(|k| k.eq_ignore_ascii_case(first))
        .copied()
        .unwrap_or("OTHER");
    let mut previous = first;
    let table = words.find_map(|word| {
        let names_table = ["FROM", "INTO", "UPDATE"]
            .iter()
            .any(|k| k.eq_ignore_ascii_case(previous));
        previous = word;
        let name = word.trim_matches(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.'));
        (names_table && !name.is_empty() && !name.eq_ignore_ascii_case("SELECT")).then_some(name)
    });
    (kind, table)
}

impl DbStats {
    /// Counts a statement that took `seconds`.
    pub fn query(&self, kind: &str, seconds: f64, slow: bool) {
        let slot = KINDS.iter().position(|k| *k == kind).unwrap_or(KINDS.len() - 1);
        self.by_kind[slot].observe(seconds);
        if slow {
            self.slow_by_kind[slot].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn summary(&self) -> DbFigures {
        let queries = KINDS
            .iter()
            .zip(&self.by_kind)
            .zip(&self.slow_by_kind)
            .filter(|((_, h), _)| h.count() > 0)
            .map(|((kind, h), slow)| {
                let figures = KindFigures {
                    summary: h.summary(),
                    slow: slow.load(Ordering::Relaxed),
                };
                (*kind, figures)
            })
            .collect();
        DbFigures {
            queries,
            acquire_seconds: self.acquire.summary(),
        }
    }

    pub fn prometheus(&self, out: &mut String) {
        const QUERIES: &str = "spotik_api_db_query_duration_seconds";
        histogram::header(out, QUERIES, "histogram", "Database statements' time, by kind.");
        for (kind, h) in KINDS.iter().zip(&self.by_kind) {
            h.write(out, QUERIES, &format!("kind=\"{kind}\""));
        }
        const SLOW: &str = "spotik_api_db_slow_queries_total";
        histogram::header(
            out,
            SLOW,
            "counter",
            "Statements over DB_SLOW_QUERY_THRESHOLD, by kind.",
        );
        for (kind, slow) in KINDS.iter().zip(&self.slow_by_kind) {
            let _ = writeln!(out, "{SLOW}{{kind=\"{kind}\"}} {}", slow.load(Ordering::Relaxed));
        }
        const ACQUIRE: &str = "spotik_api_db_pool_acquire_seconds";
        histogram::header(
            out,
            ACQUIRE,
            "histogram",
            "Waits for a database connection from the pool.",
        );
        self.acquire.write(out, ACQUIRE, "");
    }
}

/// The fields of sqlx's events this module reads. The statement's text is
/// copied only for a slow one, which the log line names; every other
/// statement costs a look at its first word.
#[derive(Default)]
struct Fields {
    slow: bool,
    kind: &'static str,
    summary: String,
    statement: String,
    seconds: Option<f64>,
    rows: u64,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "summary" => {
                self.kind = classify(value).0;
                if self.slow {
                    self.summary = value.to_owned();
                }
            }
            "db.statement" if self.slow => self.statement = value.trim().to_owned(),
            _ => {}
        }
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        // sqlx spells one of its acquisition fields `aquired_after_secs`.
        if matches!(
            field.name(),
            "elapsed_secs" | "aquired_after_secs" | "acquired_after_secs"
        ) {
            self.seconds = Some(value);
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if matches!(field.name(), "rows_returned" | "rows_affected") {
            self.rows += value;
        }
    }

    fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
}

struct Watch;

impl Layer<Registry> for Watch {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, Registry>) {
        // sqlx raises a slow statement at SLOW_LEVEL, any other at TRACE.
        let mut fields = Fields {
            slow: *event.metadata().level() == SLOW_LEVEL,
            ..Fields::default()
        };
        event.record(&mut fields);
        let Some(seconds) = fields.seconds else { return };
        if event.metadata().target() == "sqlx::pool::acquire" {
            DB_STATS.acquire.observe(seconds);
            return;
        }
        DB_STATS.query(fields.kind, seconds, fields.slow);
        if fields.slow {
            // sqlx gives the whole statement only when it is longer than its summary.
            let sql = if fields.statement.is_empty() {
                &fields.summary
            } else {
                &fields.statement
            };
            slow_query_line(fields.kind, classify(sql).1, seconds, fields.rows, sql);
        }
    }
}

/// One structured line on stderr, beside the log. Written directly: a layer
/// cannot raise tracing events of its own while it handles one.
fn slow_query_line(kind: &str, table: Option<&str>, seconds: f64, rows: u64, sql: &str) {
    let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let statement: String = sql
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(500)
        .collect();
    let line = format!(
        "{at}  WARN spotik_api::db: slow query kind={kind} table={} ms={:.1} rows={rows} statement={statement:?}\n",
        table.unwrap_or("-"),
        seconds * 1000.0
    );
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

struct SqlxTimings;

impl<S> Filter<S> for SqlxTimings {
    fn enabled(&self, meta: &tracing::Metadata<'_>, _: &Context<'_, S>) -> bool {
        matches!(meta.target(), "sqlx::query" | "sqlx::pool::acquire")
    }
}

/// The layer that keeps [`DB_STATS`], for `spotik_shared::telemetry::init_with`.
pub fn layer() -> spotik_shared::telemetry::Watcher {
    Box::new(Watch.with_filter(SqlxTimings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_are_classified_by_kind_and_first_table() {
        assert_eq!(
            classify("SELECT id, name FROM rooms WHERE id = $1"),
            ("SELECT", Some("rooms"))
        );
        assert_eq!(
            classify("insert into track_votes (a) values ($1)"),
            ("INSERT", Some("track_votes"))
        );
        assert_eq!(classify("UPDATE rooms SET event_seq = 1"), ("UPDATE", Some("rooms")));
        assert_eq!(
            classify("DELETE FROM \"users\" WHERE id = $1"),
            ("DELETE", Some("users"))
        );
        assert_eq!(
            classify("WITH room AS (SELECT id FROM rooms WHERE id = $3 FOR UPDATE) SELECT 1"),
            ("WITH", Some("rooms"))
        );
        assert_eq!(classify("SELECT 1"), ("SELECT", None));
        assert_eq!(classify("BEGIN"), ("OTHER", None));
    }
}
