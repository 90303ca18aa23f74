//! Counters for `/metrics` (Prometheus text format) and `/health`.
//!
//! Plain relaxed atomics: a request costs a handful of uncontended-in-the-
//! common-case increments and no locks.

use crate::store::CacheFigures;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// Upper bounds (nanoseconds) of the time-to-response-head histogram,
/// 100 µs to 5 s.
const BUCKETS: [u64; 14] = [
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    5_000_000_000,
];

pub struct Metrics {
    started: Instant,
    by_class: [AtomicU64; 5],
    bytes_sent: AtomicU64,
    sendfile_bytes: AtomicU64,
    open_connections: AtomicI64,
    accepted: AtomicU64,
    buckets: [AtomicU64; BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_ns: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            by_class: Default::default(),
            bytes_sent: AtomicU64::new(0),
            sendfile_bytes: AtomicU64::new(0),
            open_connections: AtomicI64::new(0),
            accepted: AtomicU64::new(0),
            buckets: Default::default(),
            latency_count: AtomicU64::new(0),
            latency_sum_ns: AtomicU64::new(0),
        }
    }
}

impl Metrics {
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// Records a response by status and the time it took to produce its head.
    pub fn observe(&self, status: u16, elapsed: Duration) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.by_class[class].fetch_add(1, Relaxed);
        let nanos = elapsed.as_nanos() as u64;
        if let Some(bucket) = BUCKETS.iter().position(|&bound| nanos <= bound) {
            self.buckets[bucket].fetch_add(1, Relaxed);
        }
        self.latency_count.fetch_add(1, Relaxed);
        self.latency_sum_ns.fetch_add(nanos, Relaxed);
    }

    pub fn add_bytes_sent(&self, bytes: u64) {
        self.bytes_sent.fetch_add(bytes, Relaxed);
    }

    pub fn add_sendfile_bytes(&self, bytes: u64) {
        self.sendfile_bytes.fetch_add(bytes, Relaxed);
    }

    /// Body bytes sent by `sendfile(2)` so far.
    pub fn sendfile_bytes(&self) -> u64 {
        self.sendfile_bytes.load(Relaxed)
    }

    pub fn connection_opened(&self) {
        self.accepted.fetch_add(1, Relaxed);
        self.open_connections.fetch_add(1, Relaxed);
    }

    pub fn connection_closed(&self) {
        self.open_connections.fetch_sub(1, Relaxed);
    }

    pub fn open_connections(&self) -> i64 {
        self.open_connections.load(Relaxed)
    }

    /// The Prometheus text exposition of every figure.
    pub fn render(&self, small_files: &CacheFigures, metadata: &CacheFigures) -> String {
        let mut out = String::with_capacity(4096);
        family(
            &mut out,
            "edge_requests_total",
            "counter",
            "Responses sent, by status class.",
        );
        for (i, count) in self.by_class.iter().enumerate() {
            let _ = writeln!(
                out,
                "edge_requests_total{{class=\"{}xx\"}} {}",
                i + 1,
                count.load(Relaxed)
            );
        }
        let singles = [
            (
                "edge_bytes_sent_total",
                "counter",
                "Body bytes handed to clients.",
                self.bytes_sent.load(Relaxed) as i64,
            ),
            (
                "edge_sendfile_bytes_total",
                "counter",
                "Body bytes of those sent by sendfile(2), without a copy.",
                self.sendfile_bytes.load(Relaxed) as i64,
            ),
            (
                "edge_open_connections",
                "gauge",
                "Client connections open now.",
                self.open_connections(),
            ),
            (
                "edge_connections_total",
                "counter",
                "Client connections accepted.",
                self.accepted.load(Relaxed) as i64,
            ),
            (
                "edge_uptime_seconds",
                "gauge",
                "Seconds since the server started.",
                self.uptime().as_secs() as i64,
            ),
        ];
        for (name, kind, help, value) in singles {
            family(&mut out, name, kind, help);
            let _ = writeln!(out, "{name} {value}");
        }
        let cache_families: [CacheFamily; 6] = [
            (
                "edge_cache_loads_total",
                "counter",
                "Files read whole into the cache (small_files) or opened (metadata).",
                |f: &CacheFigures| f.loads,
            ),
            (
                "edge_cache_hits_total",
                "counter",
                "Cache lookups that found an entry.",
                |f: &CacheFigures| f.hits,
            ),
            (
                "edge_cache_misses_total",
                "counter",
                "Cache lookups that found nothing.",
                |f: &CacheFigures| f.misses,
            ),
            (
                "edge_cache_evictions_total",
                "counter",
                "Entries evicted to stay within budget.",
                |f: &CacheFigures| f.evictions,
            ),
            ("edge_cache_entries", "gauge", "Entries held.", |f: &CacheFigures| {
                f.entries
            }),
            (
                "edge_cache_weight",
                "gauge",
                "Bytes (small files) or entries (metadata) held.",
                |f: &CacheFigures| f.weight,
            ),
        ];
        for (name, kind, help, read) in cache_families {
            family(&mut out, name, kind, help);
            for (cache, figures) in [("small_files", small_files), ("metadata", metadata)] {
                let _ = writeln!(out, "{name}{{cache=\"{cache}\"}} {}", read(figures));
            }
        }
        family(
            &mut out,
            "edge_response_seconds",
            "histogram",
            "Time from request to response head.",
        );
        let mut cumulative = 0;
        for (bound, count) in BUCKETS.iter().zip(&self.buckets) {
            cumulative += count.load(Relaxed);
            let _ = writeln!(
                out,
                "edge_response_seconds_bucket{{le=\"{}\"}} {cumulative}",
                *bound as f64 / 1e9
            );
        }
        let count = self.latency_count.load(Relaxed);
        let _ = writeln!(out, "edge_response_seconds_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "edge_response_seconds_sum {}",
            self.latency_sum_ns.load(Relaxed) as f64 / 1e9
        );
        let _ = writeln!(out, "edge_response_seconds_count {count}");
        out
    }
}

/// Name, type, help and reader of one cache metric family.
type CacheFamily = (&'static str, &'static str, &'static str, fn(&CacheFigures) -> u64);

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures() -> CacheFigures {
        CacheFigures {
            entries: 1,
            weight: 2,
            capacity: 3,
            hits: 4,
            misses: 5,
            loads: 7,
            evictions: 6,
        }
    }

    #[test]
    fn histogram_is_cumulative_and_counts_every_response() {
        let metrics = Metrics::default();
        metrics.observe(200, Duration::from_micros(50));
        metrics.observe(206, Duration::from_millis(2));
        metrics.observe(404, Duration::from_secs(60));
        let text = metrics.render(&figures(), &figures());
        assert!(text.contains("edge_requests_total{class=\"2xx\"} 2"));
        assert!(text.contains("edge_requests_total{class=\"4xx\"} 1"));
        assert!(text.contains("edge_response_seconds_bucket{le=\"0.0001\"} 1"));
        assert!(text.contains("edge_response_seconds_bucket{le=\"0.0025\"} 2"));
        assert!(text.contains("edge_response_seconds_bucket{le=\"5\"} 2"));
        assert!(text.contains("edge_response_seconds_bucket{le=\"+Inf\"} 3"));
        assert!(text.contains("edge_cache_evictions_total{cache=\"small_files\"} 6"));
    }
}
