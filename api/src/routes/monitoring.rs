//! `/api/ping`, `/api/health`, `/api/metrics` and `/api/time`, and the
//! middleware that measures every request.

use crate::hub::HubFigures;
use crate::routes::figures::{Alert, DatabaseFigures, Figures};
use crate::state::from_depot;
use crate::telemetry::history::HistoryAnswer;
use chrono::{SecondsFormat, Utc};
use salvo::http::{header, HeaderValue, StatusCode};
use salvo::oapi::{endpoint, ToSchema};
use salvo::prelude::*;
use serde::Serialize;
use serde_json::Value;
use spotik_shared::system::{slow_check_alert, System};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Measures each request (unless `HTTP_MONITORING_ENABLED` is off); logs
/// slow ones; adds the debug headers when `APP_DEBUG` is on.
#[handler]
pub async fn measure(req: &mut Request, depot: &mut Depot, res: &mut Response, ctrl: &mut FlowCtrl) {
    let Ok(state) = from_depot(depot).cloned() else {
        ctrl.call_next(req, depot, res).await;
        return;
    };
    let switches = &state.config.monitoring;
    if !switches.requests && !switches.debug_headers {
        ctrl.call_next(req, depot, res).await;
        return;
    }
    let started = Instant::now();
    ctrl.call_next(req, depot, res).await;
    let elapsed = started.elapsed();
    if switches.debug_headers {
        debug_headers(res, elapsed);
    }
    if !switches.requests {
        return;
    }
    let status = res.status_code.unwrap_or(StatusCode::OK).as_u16();
    let route = crate::telemetry::request_stats::route_of(req.method().as_str(), req.matched_path());
    let slow = elapsed.as_millis() as u64 > state.config.slow_request_ms;
    if slow {
        tracing::warn!(%route, status, ms = elapsed.as_millis() as u64, "slow request");
    }
    state.requests.record(route, status, elapsed, slow);
}

/// `X-Execution-Time` (ms), `X-Memory-Usage` (bytes the allocator has handed
/// out now) and `X-Peak-Memory` (the process's peak resident set): from the
/// allocator and `getrusage`, no file read on the request path.
fn debug_headers(res: &mut Response, elapsed: Duration) {
    let headers = res.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&format!("{:.3}ms", elapsed.as_secs_f64() * 1000.0)) {
        headers.insert("x-execution-time", value);
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallinfo2 and getrusage only fill the structs they return.
        let (in_use, peak) = unsafe {
            let info = libc::mallinfo2();
            let mut usage: libc::rusage = std::mem::zeroed();
            libc::getrusage(libc::RUSAGE_SELF, &mut usage);
            (info.uordblks + info.hblkhd, usage.ru_maxrss as u64 * 1024)
        };
        headers.insert("x-memory-usage", HeaderValue::from(in_use as u64));
        headers.insert("x-peak-memory", HeaderValue::from(peak));
    }
}

/// What `/api/metrics` answers: the front end's view and every figure.
#[derive(Serialize)]
struct MetricsAnswer<'a> {
    success: bool,
    metrics: DashboardView<'a>,
    data: &'a Figures,
}

/// The figures in the shape the front end's Dashboard reads:
/// `metrics.requests.{total, avg_response_time}`, `metrics.status_codes["200"]`
/// and `metrics.routes[route].count`.
#[derive(Serialize)]
struct DashboardView<'a> {
    requests: RequestsView,
    status_codes: &'a BTreeMap<u16, u64>,
    routes: BTreeMap<&'a str, RouteView>,
    database: &'a DatabaseFigures,
    websocket: &'a HubFigures,
}

#[derive(Serialize)]
struct RequestsView {
    total: u64,
    avg_response_time: f64,
    max_response_time: f64,
    errors_last_minute: usize,
}

#[derive(Serialize)]
struct RouteView {
    count: u64,
    avg_response_time: f64,
    max_response_time: f64,
}

fn dashboard_view(figures: &Figures) -> DashboardView<'_> {
    let requests = &figures.requests;
    DashboardView {
        requests: RequestsView {
            total: requests.total,
            avg_response_time: requests.avg_response_time_ms,
            max_response_time: requests.max_response_time_ms,
            errors_last_minute: requests.errors_last_minute,
        },
        status_codes: &requests.by_status,
        routes: requests
            .by_route
            .iter()
            .map(|(route, r)| {
                let view = RouteView {
                    count: r.count,
                    avg_response_time: r.avg_ms,
                    max_response_time: r.max_ms,
                };
                (route.as_str(), view)
            })
            .collect(),
        database: &figures.database,
        websocket: &figures.websocket,
    }
}

/// What `/api/ping` answers.
#[derive(Serialize, ToSchema)]
pub struct Pong {
    /// Always `ok`.
    status: &'static str,
    timestamp: String,
}

fn now_iso() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Whether the process answers at all: no database, no Redis.
#[endpoint(tags("monitoring"))]
pub async fn ping() -> Json<Pong> {
    Json(Pong {
        status: "ok",
        timestamp: now_iso(),
    })
}

/// The server's clock, for a client's NTP-style offset estimate.
#[derive(Serialize, ToSchema)]
pub struct ServerTime {
    success: bool,
    timestamp: String,
    unix_timestamp: i64,
    unix_ms: i64,
    received_at_ms: i64,
    sent_at_ms: i64,
    timezone: &'static str,
}

/// NTP-style stamps: when the request was received and when the answer left.
#[endpoint(tags("monitoring"))]
pub async fn server_time(res: &mut Response) -> Json<ServerTime> {
    let received = Utc::now();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let sent = Utc::now();
    Json(ServerTime {
        success: true,
        timestamp: sent.to_rfc3339_opts(SecondsFormat::Millis, true),
        unix_timestamp: sent.timestamp(),
        unix_ms: sent.timestamp_millis(),
        received_at_ms: received.timestamp_millis(),
        sent_at_ms: sent.timestamp_millis(),
        timezone: "UTC",
    })
}

/// One dependency's check.
#[derive(Serialize, ToSchema)]
pub struct Check {
    /// `ok` or `failed` (no answer within `HEALTH_CHECKS_TIMEOUT` is a failure).
    status: &'static str,
    /// Milliseconds.
    response_time: f64,
    /// Open real-time connections (the `websocket` check only).
    #[serde(skip_serializing_if = "Option::is_none")]
    connections: Option<u64>,
}

/// Runs one health check within `limit`: whether it passed, and how long it
/// took (a check that does not answer in time has failed).
async fn timed(limit: Duration, check: impl std::future::Future<Output = bool>) -> (bool, Check) {
    let started = Instant::now();
    let ok = tokio::time::timeout(limit, check).await.unwrap_or(false);
    let check = Check {
        status: if ok { "ok" } else { "failed" },
        response_time: started.elapsed().as_secs_f64() * 1000.0,
        connections: None,
    };
    (ok, check)
}

#[derive(Serialize, ToSchema)]
pub struct Checks {
    database: Check,
    redis: Check,
    storage: Check,
    /// The hub's path between replicas: an echo through Redis pub/sub.
    websocket: Check,
}

#[derive(Serialize, ToSchema)]
pub struct UsedPercent {
    used_percent: Option<f64>,
}

#[derive(Serialize, ToSchema)]
pub struct SystemFigures {
    memory: UsedPercent,
    disk: UsedPercent,
    /// The one-minute load average.
    load_average: Option<f64>,
    /// Seconds since this process started.
    uptime: u64,
}

/// What `/api/health` answers: 200 while the database answers, else 503.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `healthy`, `degraded` (Redis, storage or the bus failing, or an
    /// alert) or `unhealthy` (no database).
    status: &'static str,
    timestamp: String,
    checks: Checks,
    system: SystemFigures,
    alerts: Vec<Alert>,
}

/// The process and its dependencies, each check bounded.
#[endpoint(
    tags("monitoring"),
    responses(
        (status_code = 200, description = "Healthy or degraded", body = Health),
        (status_code = 503, description = "Unhealthy: the database does not answer", body = Health),
    )
)]
pub async fn health(depot: &mut Depot, res: &mut Response) {
    let Ok(state) = from_depot(depot) else {
        res.status_code(StatusCode::SERVICE_UNAVAILABLE);
        return;
    };
    // Each check is bounded, and they run side by side: a database that
    // stopped answering makes the answer "unhealthy", never a hung request.
    let limit = state.config.health_checks_timeout;
    let probe_file = state
        .config
        .media_root
        .join(format!(".health-{}", uuid::Uuid::new_v4()));
    let ((database_ok, database), (redis_ok, redis), (storage_ok, storage), (bus_ok, mut websocket)) = tokio::join!(
        timed(limit, async {
            sqlx::query("SELECT 1").execute(&state.db).await.is_ok()
        }),
        timed(limit, async { state.cache.ping().await.is_some() }),
        timed(limit, async {
            tokio::fs::write(&probe_file, b"ok").await.is_ok() && tokio::fs::remove_file(&probe_file).await.is_ok()
        }),
        timed(limit, state.hub.bus_round_trip()),
    );
    websocket.connections = Some(state.hub.stats.connections() as u64);
    // File reads and statvfs can block (a hung network mount): off the
    // worker threads, and bounded like the checks.
    let media_root = state.config.media_root.clone();
    let system = tokio::task::spawn_blocking(move || System::read(&media_root));
    let system = match tokio::time::timeout(limit, system).await {
        Ok(Ok(figures)) => figures,
        _ => System::default(),
    };
    let requests = state.requests.snapshot();
    let mut alerts: Vec<(&str, String)> = system.alerts();
    for (name, check) in [
        ("database", &database),
        ("redis", &redis),
        ("storage", &storage),
        ("websocket", &websocket),
    ] {
        alerts.extend(slow_check_alert(name, check.response_time));
    }
    alerts.extend(crate::telemetry::request_stats::error_alert(&requests));
    let alerts = Alert::all(alerts);
    let status = if !database_ok {
        "unhealthy"
    } else if !redis_ok || !storage_ok || !bus_ok || !alerts.is_empty() {
        "degraded"
    } else {
        "healthy"
    };
    res.status_code(if status == "unhealthy" {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    });
    res.render(Json(Health {
        status,
        timestamp: now_iso(),
        checks: Checks {
            database,
            redis,
            storage,
            websocket,
        },
        system: SystemFigures {
            memory: UsedPercent {
                used_percent: system.memory_used_percent,
            },
            disk: UsedPercent {
                used_percent: system.disk_used_percent,
            },
            load_average: system.load_average,
            uptime: state.started.elapsed().as_secs(),
        },
        alerts,
    }));
}

/// The figures of this replica (`?hours=N` adds every replica's last N
/// hours from Redis); Prometheus text at `/api/metrics/prometheus` or with
/// `Accept: text/plain`. Their fields are described in docs/monitoring.md.
#[endpoint(
    tags("monitoring"),
    parameters(("hours" = Option<u64>, Query)),
    responses(
        (status_code = 200, description = "`{success, metrics, data}`: the dashboard's figures and every figure", body = Value),
        (status_code = 401, description = "No `DASHBOARD_TOKEN` (or a `DASHBOARD_ADMINS` login) given"),
        (status_code = 404, description = "Metrics are off (`METRICS_ENABLED=false`), or the dashboard is"),
    )
)]
pub async fn metrics(req: &mut Request, depot: &mut Depot, res: &mut Response) {
    answer_metrics(req, depot, res).await;
}

/// The same figures as Prometheus text.
#[endpoint(
    tags("monitoring"),
    responses(
        (status_code = 200, description = "Prometheus text exposition (version 0.0.4)", content_type = "text/plain", body = String),
        (status_code = 401, description = "No `DASHBOARD_TOKEN` (or a `DASHBOARD_ADMINS` login) given"),
        (status_code = 404, description = "Metrics are off (`METRICS_ENABLED=false`), or the dashboard is"),
    )
)]
pub async fn prometheus(req: &mut Request, depot: &mut Depot, res: &mut Response) {
    answer_metrics(req, depot, res).await;
}

async fn answer_metrics(req: &mut Request, depot: &mut Depot, res: &mut Response) {
    let Ok(state) = from_depot(depot) else { return };
    if !state.config.monitoring.metrics {
        return crate::http::error::ApiError::NotFound("Metrics are off (METRICS_ENABLED)".into())
            .write(req, depot, res)
            .await;
    }
    // The figures say who uses the service how much: the dashboard's
    // readers only (its token, for a Prometheus scrape).
    if let Err(refused) = crate::routes::dashboard::admitted(state, req).await {
        return refused.write(req, depot, res).await;
    }
    let wants_text = req.uri().path().ends_with("/prometheus")
        || req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/plain"));
    if !wants_text {
        let mut data = crate::routes::figures::all(state);
        // `?hours=N`: the last N hours of every replica, from Redis.
        if let Some(hours) = req.query::<String>("hours") {
            let most = state.config.monitoring.retention.as_secs() / 3600;
            let Some(hours) = hours.parse::<u64>().ok().filter(|h| (1..=most).contains(h)) else {
                return crate::http::error::ApiError::field("hours", format!("hours must be 1 to {most}"))
                    .write(req, depot, res)
                    .await;
            };
            let now_hour = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() / 3600);
            let history = crate::telemetry::history::summary(&state.cache, hours, now_hour).await;
            data.history = Some(match history {
                Some(summed) => HistoryAnswer::Summed(summed),
                None => HistoryAnswer::Unavailable {
                    hours,
                    unavailable: "Redis is unavailable",
                },
            });
        }
        res.render(Json(MetricsAnswer {
            success: true,
            metrics: dashboard_view(&data),
            data: &data,
        }));
        return;
    }
    let text = crate::routes::figures::prometheus(state);
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    res.render(text);
}

/// `/api`: ping, health, metrics, the server's clock.
pub fn router() -> Router {
    Router::new()
        .push(Router::with_path("ping").get(ping))
        .push(Router::with_path("health").get(health))
        .push(
            Router::with_path("metrics")
                .get(metrics)
                .push(Router::with_path("prometheus").get(prometheus)),
        )
        .push(Router::with_path("time").get(server_time))
}
