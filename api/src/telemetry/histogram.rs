//! A histogram of fixed buckets recorded with relaxed atomic additions: no
//! lock on the paths that record into one (every frame written to a
//! WebSocket, every query), written out in Prometheus' text format and
//! summarised as percentiles for the JSON figures and the dashboard.

use serde::Serialize;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// Bucket bounds of delivery and query times, in seconds.
pub const SECONDS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Bucket bounds of clock offsets and playback drift, in milliseconds.
pub const MILLISECONDS: [f64; 12] = [
    1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0,
];

pub struct Histogram {
    bounds: &'static [f64],
    /// Observations at or under each bound and over the previous one; the
    /// last slot counts those over every bound.
    counts: Box<[AtomicU64]>,
    /// The sum of observations, in millionths of the unit.
    sum_millionths: AtomicU64,
}

/// A histogram as the JSON figures show it; percentiles are bucket bounds
/// (`null` with no observation), `buckets` pairs `[le, count]` (not cumulative).
#[derive(Debug, Serialize)]
pub struct Summary {
    pub count: u64,
    pub sum: f64,
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    pub buckets: Vec<(f64, u64)>,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_millionths: AtomicU64::new(0),
        }
    }

    /// Records `value` (negative values count as zero).
    pub fn observe(&self, value: f64) {
        let value = if value.is_finite() { value.max(0.0) } else { 0.0 };
        let slot = self
            .bounds
            .iter()
            .position(|le| value <= *le)
            .unwrap_or(self.bounds.len());
        self.counts[slot].fetch_add(1, Ordering::Relaxed);
        self.sum_millionths
            .fetch_add((value * 1e6).min(u64::MAX as f64 / 2.0) as u64, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    /// Counts per slot (not cumulative), the last over every bound.
    fn counts(&self) -> Vec<u64> {
        self.counts.iter().map(|c| c.load(Ordering::Relaxed)).collect()
    }

    /// Count, sum and the 50th, 95th and 99th percentiles (bucket bounds).
    pub fn summary(&self) -> Summary {
        let counts = self.counts();
        let count: u64 = counts.iter().sum();
        Summary {
            count,
            sum: self.sum_millionths.load(Ordering::Relaxed) as f64 / 1e6,
            p50: quantile(self.bounds, &counts, 0.5),
            p95: quantile(self.bounds, &counts, 0.95),
            p99: quantile(self.bounds, &counts, 0.99),
            buckets: self.bounds.iter().copied().zip(counts).collect(),
        }
    }

    /// The `_bucket`, `_sum` and `_count` lines of series `name` with
    /// `labels` (`kind="x"`, or empty).
    pub fn write(&self, out: &mut String, name: &str, labels: &str) {
        self.write_in(out, name, labels, 1.0);
    }

    /// The same with bounds and sum divided by `per_unit` (1000 writes a
    /// histogram of milliseconds in seconds, Prometheus' base unit).
    pub fn write_in(&self, out: &mut String, name: &str, labels: &str, per_unit: f64) {
        let counts = self.counts();
        let comma = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (le, n) in self.bounds.iter().zip(&counts) {
            cumulative += n;
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{comma}le=\"{}\"}} {cumulative}",
                le / per_unit
            );
        }
        cumulative += counts[self.bounds.len()];
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{comma}le=\"+Inf\"}} {cumulative}\n{name}_sum{braces} {}\n{name}_count{braces} {cumulative}",
            self.sum_millionths.load(Ordering::Relaxed) as f64 / 1e6 / per_unit
        );
    }
}

/// The `# HELP` and `# TYPE` lines of a metric.
pub fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// The smallest bound under which `q` of the observations fall (the
/// largest bound's double when they fall over every bound); None when
/// nothing was observed.
fn quantile(bounds: &[f64], counts: &[u64], q: f64) -> Option<f64> {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return None;
    }
    let wanted = (q * total as f64).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (slot, n) in counts.iter().enumerate() {
        seen += n;
        if seen >= wanted {
            return Some(bounds.get(slot).copied().unwrap_or(bounds[bounds.len() - 1] * 2.0));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_the_bounds_the_observations_fall_under() {
        let h = Histogram::new(&MILLISECONDS);
        let quantile = |h: &Histogram, q| quantile(h.bounds, &h.counts(), q);
        assert_eq!(quantile(&h, 0.5), None);
        for v in [0.5, 3.0, 3.0, 40.0, 7000.0] {
            h.observe(v);
        }
        assert_eq!(quantile(&h, 0.5), Some(5.0));
        assert_eq!(quantile(&h, 0.8), Some(50.0));
        assert_eq!(quantile(&h, 0.99), Some(10_000.0), "over every bound");
        assert_eq!(h.count(), 5);
    }

    #[test]
    fn the_text_is_cumulative_and_ends_with_every_observation() {
        let h = Histogram::new(&SECONDS);
        h.observe(0.0004);
        h.observe(0.003);
        h.observe(20.0);
        h.observe(-1.0);
        let mut text = String::new();
        h.write(&mut text, "x", "kind=\"a\"");
        assert!(text.contains("x_bucket{kind=\"a\",le=\"0.0005\"} 2\n"), "{text}");
        assert!(text.contains("x_bucket{kind=\"a\",le=\"0.005\"} 3\n"), "{text}");
        assert!(text.contains("x_bucket{kind=\"a\",le=\"10\"} 3\n"), "{text}");
        assert!(text.contains("x_bucket{kind=\"a\",le=\"+Inf\"} 4\n"), "{text}");
        assert!(text.contains("x_count{kind=\"a\"} 4\n"), "{text}");
        let mut bare = String::new();
        h.write(&mut bare, "y", "");
        assert!(
            bare.contains("y_bucket{le=\"+Inf\"} 4\ny_sum 20.0034\ny_count 4\n"),
            "{bare}"
        );
    }
}
