//! Once PostgreSQL is known to be away, requests are refused at once.
//!
//! Without this, every request during an outage waited the pool's acquire
//! timeout (5 s) before its 503, holding its connection and a task that
//! long, and a client retrying made it worse. The first request that finds
//! the database unavailable marks it down; until a probe connects again,
//! requests that need it are answered 503 with `Retry-After` before their
//! handler runs. The probe opens its own connection, outside the pool, so
//! that a pool merely busy under load is told from a database that is gone:
//! the mark is cleared within a probe's interval when PostgreSQL answers.
//! The refusing and the marking happen in the `deadline` hoop.

use sqlx::postgres::PgConnectOptions;
use sqlx::ConnectOptions;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How often the probe tries while the database is marked down.
const PROBE_EVERY: Duration = Duration::from_millis(500);
/// How long one probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
pub struct DbHealth {
    down: AtomicBool,
    marked: tokio::sync::Notify,
}

impl DbHealth {
    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }

    /// A request found the database unavailable.
    pub fn mark_down(&self) {
        if !self.down.swap(true, Ordering::Relaxed) {
            tracing::error!("database unavailable: refusing requests that need it until it answers");
            self.marked.notify_one();
        }
    }

    /// Clears the mark once a connection of its own succeeds, until `stop`.
    pub async fn probe(&self, options: PgConnectOptions, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = stop.changed() => return,
                _ = self.marked.notified() => {}
            }
            while self.is_down() {
                let attempt = tokio::time::timeout(PROBE_TIMEOUT, async {
                    let mut connection = options.connect().await?;
                    sqlx::query("SELECT 1").execute(&mut connection).await?;
                    sqlx::Connection::close(connection).await
                });
                if matches!(attempt.await, Ok(Ok(()))) {
                    self.down.store(false, Ordering::Relaxed);
                    tracing::info!("database answering again");
                    break;
                }
                tokio::select! {
                    _ = stop.changed() => return,
                    _ = tokio::time::sleep(PROBE_EVERY) => {}
                }
            }
        }
    }
}

/// Whether a request to `path` needs the database: the REST API but for
/// liveness, health (which reports the outage), figures and the clock.
/// Sockets and Pusher's HTTP API do their database work, if any, later.
pub fn needs_database(path: &str) -> bool {
    path.starts_with("/api/")
        && !matches!(
            path.trim_end_matches('/'),
            "/api/ping" | "/api/health" | "/api/metrics" | "/api/metrics/prometheus" | "/api/time"
        )
}
