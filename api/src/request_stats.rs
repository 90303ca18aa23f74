//! Request figures of this process: counts, times and errors by status and
//! route, kept for `/api/metrics` and the health check.

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Request figures of this process.
#[derive(Default)]
pub struct RequestStats {
    inner: Mutex<Figures>,
}

#[derive(Default)]
struct Figures {
    total: u64,
    total_ms: f64,
    max_ms: f64,
    by_status: BTreeMap<u16, u64>,
    by_route: BTreeMap<String, (u64, f64, f64)>,
    errors_last_minute: Vec<Instant>,
}

impl RequestStats {
    pub fn record(&self, route: String, status: u16, elapsed: Duration) {
        let ms = elapsed.as_secs_f64() * 1000.0;
        let mut f = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        f.total += 1;
        f.total_ms += ms;
        f.max_ms = f.max_ms.max(ms);
        *f.by_status.entry(status).or_default() += 1;
        let entry = f.by_route.entry(route).or_default();
        entry.0 += 1;
        entry.1 += ms;
        entry.2 = entry.2.max(ms);
        if status >= 500 {
            let now = Instant::now();
            f.errors_last_minute
                .retain(|t| now.duration_since(*t) < Duration::from_secs(60));
            f.errors_last_minute.push(now);
        }
    }

    pub fn snapshot(&self) -> Value {
        let f = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let avg = if f.total == 0 { 0.0 } else { f.total_ms / f.total as f64 };
        let routes: BTreeMap<&String, Value> = f
            .by_route
            .iter()
            .map(|(r, (n, sum, max))| (r, json!({ "count": n, "avg_ms": sum / *n as f64, "max_ms": max })))
            .collect();
        json!({
            "total": f.total,
            "avg_response_time_ms": avg,
            "max_response_time_ms": f.max_ms,
            "by_status": f.by_status,
            "by_route": routes,
            "errors_last_minute": f.errors_last_minute.len(),
        })
    }
}
