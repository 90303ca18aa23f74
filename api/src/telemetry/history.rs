//! Hourly request figures in Redis, shared by every replica: each replica
//! adds what it answered to the hour's hash every few seconds (one round
//! trip, never one per request), and `/api/metrics?hours=N` sums the last N
//! hours of all of them. Hashes expire after `METRICS_RETENTION_DAYS`.
//!
//! Fields of `metrics:<hour since the epoch>`: `count`, `errors`, `slow`,
//! `sum_ms`, `max_ms`, and the same per route as `<route>|count`, … With
//! Redis away the figures wait in the process and go with the next hand-over.

use crate::cache::Cache;
use crate::telemetry::request_stats::{RequestStats, Sums};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

const FIELDS: [&str; 5] = ["count", "errors", "slow", "sum_ms", "max_ms"];

/// An hour's hash. The `{metrics}` hash tag keeps every hour in one slot
/// of a Redis Cluster, so that one pipeline reads a span of hours.
fn key(hour: u64) -> String {
    format!("{{metrics}}:{hour}")
}

/// The changes `sums` makes to an hour's hash, for the whole and for `route`.
fn changes(route: &str, sums: &Sums, out: &mut Vec<(&str, String, f64)>) {
    let values = [
        sums.count as f64,
        sums.errors as f64,
        sums.slow as f64,
        sums.sum_ms,
        sums.max_ms,
    ];
    for (field, value) in FIELDS.iter().zip(values) {
        let kind = if *field == "max_ms" { "m" } else { "s" };
        out.push((kind, (*field).to_owned(), value));
        out.push((kind, format!("{route}|{field}"), value));
    }
}

/// Hands what this replica answered over to Redis. False if Redis was
/// away (the figures stay pending).
pub async fn flush(stats: &RequestStats, cache: &Cache, retention: Duration) -> bool {
    let pending = stats.take_pending();
    let mut by_hour: BTreeMap<u64, Vec<(&str, String, f64)>> = BTreeMap::new();
    for ((hour, route), sums) in &pending {
        changes(route, sums, by_hour.entry(*hour).or_default());
    }
    for (hour, changes) in &by_hour {
        if !cache.add_to_hash(&key(*hour), changes, retention).await {
            // This hour and the later ones wait; the earlier ones are in.
            let unsent = pending.into_iter().filter(|((h, _), _)| h >= hour).collect();
            stats.restore_pending(unsent);
            return false;
        }
    }
    true
}

/// Hands the figures over every `every` until `stop`, and once more then.
pub async fn run(
    stats: &RequestStats,
    cache: &Cache,
    retention: Duration,
    every: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => {
                flush(stats, cache, retention).await;
                return;
            }
        }
        flush(stats, cache, retention).await;
    }
}

/// The last `hours` hours (this one included), summed over every replica;
/// `None` with Redis away.
pub async fn summary(cache: &Cache, hours: u64, now_hour: u64) -> Option<History> {
    let keys: Vec<String> = (0..hours).map(|back| key(now_hour.saturating_sub(back))).collect();
    let hashes = cache.hashes(&keys).await?;
    let mut total: BTreeMap<String, f64> = BTreeMap::new();
    let mut routes: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    for hash in hashes {
        for (field, value) in hash {
            let (into, name) = match field.rsplit_once('|') {
                Some((route, name)) => (routes.entry(route.to_owned()).or_default(), name.to_owned()),
                None => (&mut total, field),
            };
            let slot = into.entry(name.clone()).or_default();
            *slot = if name == "max_ms" {
                slot.max(value)
            } else {
                *slot + value
            };
        }
    }
    let shape = |figures: &BTreeMap<String, f64>| {
        let get = |name: &str| figures.get(name).copied().unwrap_or(0.0);
        let count = get("count");
        Totals {
            count: count as u64,
            errors: get("errors") as u64,
            slow: get("slow") as u64,
            avg_ms: if count > 0.0 { get("sum_ms") / count } else { 0.0 },
            max_ms: get("max_ms"),
        }
    };
    Some(History {
        hours,
        totals: shape(&total),
        by_route: routes.iter().map(|(route, f)| (route.clone(), shape(f))).collect(),
    })
}

/// Requests of the last `hours` hours, every replica summed.
#[derive(Debug, Serialize)]
pub struct History {
    pub hours: u64,
    #[serde(flatten)]
    pub totals: Totals,
    pub by_route: BTreeMap<String, Totals>,
}

#[derive(Debug, Serialize)]
pub struct Totals {
    pub count: u64,
    pub errors: u64,
    pub slow: u64,
    pub avg_ms: f64,
    pub max_ms: f64,
}

/// The history, or why there is none.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum HistoryAnswer {
    Summed(History),
    Unavailable { hours: u64, unavailable: &'static str },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_route_adds_to_the_hour_and_to_itself() {
        let mut out = Vec::new();
        let sums = Sums {
            count: 3,
            errors: 1,
            slow: 0,
            sum_ms: 12.0,
            max_ms: 9.0,
        };
        changes("GET /api/ping", &sums, &mut out);
        assert!(out.contains(&("s", "count".into(), 3.0)));
        assert!(out.contains(&("s", "GET /api/ping|count".into(), 3.0)));
        assert!(out.contains(&("m", "GET /api/ping|max_ms".into(), 9.0)));
        assert_eq!(out.len(), 10);
    }
}
