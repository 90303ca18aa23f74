//! The edges' figures for the dashboard: each edge's `/metrics` fetched and
//! read (Prometheus' text format), so that the page needs no access of its
//! own to the edges and one place shows both processes.

use serde::Serialize;
use std::time::Duration;

/// How long one edge may take to answer before it is shown as unreachable.
const TIMEOUT: Duration = Duration::from_secs(2);
/// The most of an edge's answer read.
const MOST: usize = 1 << 20;

/// One sample of a metrics text: its name, its labels as written, its value.
pub fn samples(text: &str) -> impl Iterator<Item = (&str, &str, f64)> {
    text.lines().filter(|l| !l.starts_with('#')).filter_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let value = value.parse().ok()?;
        Some(match series.split_once('{') {
            Some((name, labels)) => (name, labels.trim_end_matches('}'), value),
            None => (series, "", value),
        })
    })
}

/// The figures the dashboard draws from one edge's metrics text.
#[derive(Debug, Default, Serialize)]
pub struct EdgeSummary {
    pub requests: f64,
    pub server_errors: f64,
    pub bytes_sent: f64,
    pub open_connections: f64,
    pub cache_hits: f64,
    pub cache_misses: f64,
    /// `[le, cumulative count]`, `+Inf` left out.
    pub latency_buckets: Vec<(f64, f64)>,
}

/// One edge as the dashboard shows it: its figures, or why there are none.
#[derive(Debug, Serialize)]
pub struct EdgeFigures {
    pub url: String,
    pub up: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub figures: Option<EdgeSummary>,
}

pub fn summary(text: &str) -> EdgeSummary {
    let (mut requests, mut errors, mut bytes, mut open, mut hits, mut misses) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    let mut buckets: Vec<(f64, f64)> = Vec::new();
    for (name, labels, value) in samples(text) {
        match name {
            "edge_requests_total" => {
                requests += value;
                if labels.contains("\"5xx\"") {
                    errors += value;
                }
            }
            "edge_bytes_sent_total" => bytes = value,
            "edge_open_connections" => open = value,
            "edge_cache_hits_total" => hits += value,
            "edge_cache_misses_total" => misses += value,
            "edge_response_seconds_bucket" => {
                let le = labels
                    .split("le=\"")
                    .nth(1)
                    .and_then(|l| l.split('"').next())
                    .unwrap_or("");
                // `+Inf` is every request, which `requests` already says.
                if let Some(le) = le.parse::<f64>().ok().filter(|le| le.is_finite()) {
                    buckets.push((le, value));
                }
            }
            _ => {}
        }
    }
    EdgeSummary {
        requests,
        server_errors: errors,
        bytes_sent: bytes,
        open_connections: open,
        cache_hits: hits,
        cache_misses: misses,
        latency_buckets: buckets,
    }
}

/// Every edge's figures, fetched side by side; an edge that does not
/// answer is listed with why.
pub async fn fetch_all(urls: &[String]) -> Vec<EdgeFigures> {
    let fetches = urls.iter().map(|url| async move {
        let (figures, error) = match tokio::time::timeout(TIMEOUT, fetch(url)).await {
            Ok(Ok(text)) => (Some(summary(&text)), None),
            Ok(Err(error)) => (None, Some(error)),
            Err(_) => (None, Some("no answer within 2 s".to_owned())),
        };
        EdgeFigures {
            url: url.clone(),
            up: figures.is_some(),
            error,
            figures,
        }
    });
    futures_util::future::join_all(fetches).await
}

/// `GET url`: the edge's metrics text.
async fn fetch(url: &str) -> Result<String, String> {
    let (status, body) = crate::http::client::get(url, &[], MOST).await?;
    if !(200..300).contains(&status) {
        return Err(format!("answered {status}"));
    }
    String::from_utf8(body.to_vec()).map_err(|_| "metrics are not UTF-8".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_figures_are_read_from_the_text() {
        let text = "# HELP edge_requests_total x\n# TYPE edge_requests_total counter\n\
            edge_requests_total{class=\"2xx\"} 40\nedge_requests_total{class=\"5xx\"} 2\n\
            edge_bytes_sent_total 1000\nedge_open_connections 3\n\
            edge_cache_hits_total{cache=\"small_files\"} 5\nedge_cache_hits_total{cache=\"metadata\"} 7\n\
            edge_response_seconds_bucket{le=\"0.001\"} 30\nedge_response_seconds_bucket{le=\"+Inf\"} 42\n";
        let figures = summary(text);
        assert_eq!(figures.requests, 42.0);
        assert_eq!(figures.server_errors, 2.0);
        assert_eq!(figures.cache_hits, 12.0);
        assert_eq!(figures.open_connections, 3.0);
        assert_eq!(figures.latency_buckets, [(0.001, 30.0)]);
    }
}
