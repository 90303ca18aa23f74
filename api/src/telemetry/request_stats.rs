//! Request figures of this process: counts, times and errors by status and
//! route, kept for `/api/metrics` (JSON and Prometheus) and the health check.
//!
//! Routes are templates (`GET /api/rooms/{id}`), and there are at most
//! [`MAX_ROUTES`] of them: a path first seen with a routing failure (404,
//! 405) — what a scan of random URLs produces — counts under one route,
//! [`OTHER`], so no client can grow the figures without bound. Every
//! function that depends on the time takes it as an argument, so the tests
//! move the clock instead of sleeping.

use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Distinct routes kept at most; beyond, new ones count as [`OTHER`].
pub const MAX_ROUTES: usize = 200;
/// Where paths that matched no route, and routes beyond the limit, count.
pub const OTHER: &str = "other";
/// Upper bounds of the latency histogram's buckets, in seconds: up to 10 s,
/// so that the alert on a p99 over 5 s can see one.
const BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// The window of the error-rate figure.
const ERROR_WINDOW: Duration = Duration::from_secs(60);

/// Request figures of this process.
#[derive(Default)]
pub struct RequestStats {
    inner: Mutex<Figures>,
}

/// Figures to add to an hour of history.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sums {
    pub count: u64,
    pub errors: u64,
    pub slow: u64,
    pub sum_ms: f64,
    pub max_ms: f64,
}

impl Sums {
    fn one(status: u16, ms: f64, slow: bool) -> Self {
        Self {
            count: 1,
            errors: u64::from(status >= 500),
            slow: u64::from(slow),
            sum_ms: ms,
            max_ms: ms,
        }
    }

    fn add(&mut self, other: &Sums) {
        self.count += other.count;
        self.errors += other.errors;
        self.slow += other.slow;
        self.sum_ms += other.sum_ms;
        self.max_ms = self.max_ms.max(other.max_ms);
    }
}

#[derive(Default)]
struct Figures {
    total: u64,
    total_ms: f64,
    max_ms: f64,
    by_status: BTreeMap<u16, u64>,
    by_route: BTreeMap<String, Route>,
    /// When each server error of the last minute happened, oldest first.
    recent_errors: VecDeque<Instant>,
    /// What happened since the last hand-over to the hourly history, by
    /// (hour since the epoch, route).
    pending: BTreeMap<(u64, String), Sums>,
}

#[derive(Default)]
struct Route {
    count: u64,
    errors: u64,
    sum_ms: f64,
    max_ms: f64,
    /// Requests at or under each of [`BUCKETS`] (not cumulative).
    buckets: [u64; BUCKETS.len()],
}

impl Figures {
    /// Counts a request; the route it was counted under.
    fn count(&mut self, route: String, status: u16, elapsed: Duration, now: Instant) -> String {
        let ms = elapsed.as_secs_f64() * 1000.0;
        self.total += 1;
        self.total_ms += ms;
        self.max_ms = self.max_ms.max(ms);
        *self.by_status.entry(status).or_default() += 1;
        let known = self.by_route.contains_key(&route);
        let unrouted = matches!(status, 404 | 405);
        let route = if known || (!unrouted && self.by_route.len() < MAX_ROUTES) {
            route
        } else {
            OTHER.to_owned()
        };
        let entry = self.by_route.entry(route.clone()).or_default();
        entry.count += 1;
        entry.errors += u64::from(status >= 500);
        entry.sum_ms += ms;
        entry.max_ms = entry.max_ms.max(ms);
        if let Some(bucket) = BUCKETS.iter().position(|le| elapsed.as_secs_f64() <= *le) {
            entry.buckets[bucket] += 1;
        }
        self.forget_old_errors(now);
        if status >= 500 {
            self.recent_errors.push_back(now);
        }
        route
    }

    fn forget_old_errors(&mut self, now: Instant) {
        while self
            .recent_errors
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= ERROR_WINDOW)
        {
            self.recent_errors.pop_front();
        }
    }
}

/// The requests' figures since the process started.
#[derive(Debug, Serialize)]
pub struct RequestFigures {
    pub total: u64,
    pub avg_response_time_ms: f64,
    pub max_response_time_ms: f64,
    pub by_status: BTreeMap<u16, u64>,
    /// By route template (`GET /api/rooms/{room}`); unknown paths as one.
    pub by_route: BTreeMap<String, RouteFigures>,
    /// Answers with a 5xx status in the last minute.
    pub errors_last_minute: usize,
}

#[derive(Debug, Serialize)]
pub struct RouteFigures {
    pub count: u64,
    pub errors: u64,
    pub avg_ms: f64,
    pub max_ms: f64,
}

/// The performance plan's error-rate alert on a [`RequestStats::snapshot`]:
/// more than 5 server errors in the last minute.
pub fn error_alert(snapshot: &RequestFigures) -> Option<(&'static str, String)> {
    (snapshot.errors_last_minute > 5).then(|| ("critical", "more than 5 server errors in the last minute".to_owned()))
}

/// The route of a request: its method and the router's template it matched
/// (`GET /api/rooms/{room}/tracks`, as salvo records it), or [`OTHER`] when
/// no route matched — whatever the path, a preflight of any path included.
pub fn route_of(method: &str, matched: &str) -> String {
    if matched.is_empty() {
        return OTHER.to_owned();
    }
    let matched = matched.trim_start_matches('/');
    format!("{method} /{matched}")
}

impl RequestStats {
    /// Counts a request, and adds it to its hour of history; one lock.
    pub fn record(&self, route: String, status: u16, elapsed: Duration, slow: bool) {
        let hour = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() / 3600);
        let mut f = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let route = f.count(route, status, elapsed, Instant::now());
        let sums = Sums::one(status, elapsed.as_secs_f64() * 1000.0, slow);
        f.pending.entry((hour, route)).or_default().add(&sums);
    }

    /// The figures since the last call, by (hour, route), for the history.
    pub fn take_pending(&self) -> BTreeMap<(u64, String), Sums> {
        std::mem::take(&mut self.inner.lock().unwrap_or_else(|e| e.into_inner()).pending)
    }

    /// Puts back figures the history could not take (Redis away): they go
    /// with the next hand-over.
    pub fn restore_pending(&self, figures: BTreeMap<(u64, String), Sums>) {
        let mut f = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        for (key, sums) in figures {
            f.pending.entry(key).or_default().add(&sums);
        }
    }

    /// Counts a request at `now` (without history); the route it was counted under.
    pub fn record_at(&self, route: String, status: u16, elapsed: Duration, now: Instant) -> String {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .count(route, status, elapsed, now)
    }

    /// The latency histogram of every route together: (bound in seconds,
    /// requests at or under it), cumulative; the rest took longer.
    pub fn latency_buckets(&self) -> Vec<(f64, u64)> {
        let f = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut cumulative = [0u64; BUCKETS.len()];
        for route in f.by_route.values() {
            for (sum, n) in cumulative.iter_mut().zip(route.buckets) {
                *sum += n;
            }
        }
        let mut running = 0;
        BUCKETS
            .iter()
            .zip(cumulative)
            .map(|(le, n)| {
                running += n;
                (*le, running)
            })
            .collect()
    }

    pub fn snapshot(&self) -> RequestFigures {
        self.snapshot_at(Instant::now())
    }

    pub fn snapshot_at(&self, now: Instant) -> RequestFigures {
        let mut f = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        f.forget_old_errors(now);
        let avg = if f.total == 0 { 0.0 } else { f.total_ms / f.total as f64 };
        let by_route = f
            .by_route
            .iter()
            .map(|(r, figures)| {
                let route = RouteFigures {
                    count: figures.count,
                    errors: figures.errors,
                    avg_ms: figures.sum_ms / figures.count as f64,
                    max_ms: figures.max_ms,
                };
                (r.clone(), route)
            })
            .collect();
        RequestFigures {
            total: f.total,
            avg_response_time_ms: avg,
            max_response_time_ms: f.max_ms,
            by_status: f.by_status.clone(),
            by_route,
            errors_last_minute: f.recent_errors.len(),
        }
    }

    /// The figures in Prometheus's text format: requests by status, and a
    /// latency histogram by route.
    pub fn prometheus(&self) -> String {
        let f = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut text = String::from(
            "# HELP spotik_api_requests_total Requests answered, by status.\n# TYPE spotik_api_requests_total counter\n",
        );
        for (status, count) in &f.by_status {
            let _ = writeln!(text, "spotik_api_requests_total{{status=\"{status}\"}} {count}");
        }
        text.push_str(
            "# HELP spotik_api_request_duration_seconds Time to answer, by route.\n\
             # TYPE spotik_api_request_duration_seconds histogram\n",
        );
        for (route, figures) in &f.by_route {
            let label = route.replace('\\', "\\\\").replace('"', "\\\"");
            let mut cumulative = 0;
            for (le, count) in BUCKETS.iter().zip(figures.buckets) {
                cumulative += count;
                let _ = writeln!(
                    text,
                    "spotik_api_request_duration_seconds_bucket{{route=\"{label}\",le=\"{le}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                text,
                "spotik_api_request_duration_seconds_bucket{{route=\"{label}\",le=\"+Inf\"}} {}\n\
                 spotik_api_request_duration_seconds_sum{{route=\"{label}\"}} {}\n\
                 spotik_api_request_duration_seconds_count{{route=\"{label}\"}} {}",
                figures.count,
                figures.sum_ms / 1000.0,
                figures.count
            );
        }
        let _ = write!(
            text,
            "# HELP spotik_api_server_errors_last_minute Answers with a 5xx status in the last minute.\n\
             # TYPE spotik_api_server_errors_last_minute gauge\nspotik_api_server_errors_last_minute {}\n",
            f.recent_errors.len()
        );
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: Duration = Duration::from_millis(3);

    #[test]
    fn routes_are_the_routers_templates() {
        assert_eq!(
            route_of("GET", "api/rooms/{room}/tracks"),
            "GET /api/rooms/{room}/tracks"
        );
        assert_eq!(route_of("OPTIONS", ""), OTHER);
    }

    #[test]
    fn a_scan_of_random_urls_counts_as_one_route() {
        let stats = RequestStats::default();
        stats.record(route_of("GET", "api/rooms"), 200, FAST, false);
        for i in 0..10_000 {
            // A raw path that reached the figures by some other way still
            // counts as one route once it is a routing failure.
            stats.record(format!("GET /scan/{i}x/.env"), 404, FAST, false);
        }
        let snapshot = stats.snapshot();
        let routes = &snapshot.by_route;
        assert_eq!(routes.len(), 2, "{routes:?}");
        assert_eq!(routes[OTHER].count, 10_000);
        assert_eq!(snapshot.total, 10_001);
    }

    #[test]
    fn routes_are_bounded_whatever_their_status() {
        let stats = RequestStats::default();
        for i in 0..(MAX_ROUTES + 50) {
            stats.record(format!("GET /api/x{i}"), 200, FAST, false);
        }
        let snapshot = stats.snapshot();
        assert_eq!(snapshot.by_route.len(), MAX_ROUTES + 1);
        assert_eq!(snapshot.by_route[OTHER].count, 50);
    }

    #[test]
    fn the_error_rate_clears_after_a_quiet_minute() {
        let stats = RequestStats::default();
        let start = Instant::now();
        for i in 0..6 {
            stats.record_at("GET /api/x".into(), 500, FAST, start + Duration::from_secs(i));
        }
        assert_eq!(stats.snapshot_at(start + Duration::from_secs(10)).errors_last_minute, 6);
        // Nothing happens for a minute: the figure falls by itself, no new
        // error needed to prune it.
        assert_eq!(stats.snapshot_at(start + Duration::from_secs(62)).errors_last_minute, 3);
        assert_eq!(stats.snapshot_at(start + Duration::from_secs(66)).errors_last_minute, 0);
        stats.record_at("GET /api/x".into(), 200, FAST, start + Duration::from_secs(70));
        assert_eq!(stats.snapshot_at(start + Duration::from_secs(70)).errors_last_minute, 0);
    }

    #[test]
    fn the_histogram_is_cumulative_and_counts_every_request() {
        let stats = RequestStats::default();
        for ms in [1, 3, 3, 40, 7000] {
            stats.record("GET /api/x".into(), 200, Duration::from_millis(ms), false);
        }
        let text = stats.prometheus();
        let bucket = |le: &str| {
            let prefix = format!("spotik_api_request_duration_seconds_bucket{{route=\"GET /api/x\",le=\"{le}\"}} ");
            text.lines()
                .find_map(|l| l.strip_prefix(&prefix))
                .unwrap_or_else(|| panic!("no bucket {le} in\n{text}"))
                .to_owned()
        };
        assert_eq!(bucket("0.001"), "1");
        assert_eq!(bucket("0.005"), "3");
        assert_eq!(bucket("0.05"), "4");
        assert_eq!(bucket("5"), "4");
        assert_eq!(bucket("10"), "5");
        assert_eq!(bucket("+Inf"), "5");
        assert!(text.contains("spotik_api_request_duration_seconds_count{route=\"GET /api/x\"} 5"));
    }
}
