//! `/api/ping`, `/api/health`, `/api/metrics` and `/api/time`, and the
//! middleware that measures every request.

use crate::state::from_depot;
use chrono::{SecondsFormat, Utc};
use salvo::http::{header, HeaderValue, StatusCode};
use salvo::prelude::*;
use serde_json::{json, Value};
use spotik_shared::system::{slow_check_alert, System};
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

/// The figures in the shape the front end's Dashboard reads:
/// `metrics.requests.{total, avg_response_time}`, `metrics.status_codes["200"]`
/// and `metrics.routes[route].count`.
fn dashboard_view(requests: &Value, database: &Value, websocket: &Value) -> Value {
    let routes: serde_json::Map<String, Value> = requests["by_route"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(route, r)| {
            let figures =
                json!({ "count": r["count"], "avg_response_time": r["avg_ms"], "max_response_time": r["max_ms"] });
            (route.clone(), figures)
        })
        .collect();
    json!({
        "requests": {
            "total": requests["total"],
            "avg_response_time": requests["avg_response_time_ms"],
            "max_response_time": requests["max_response_time_ms"],
            "errors_last_minute": requests["errors_last_minute"],
        },
        "status_codes": requests["by_status"],
        "routes": routes,
        "database": database,
        "websocket": websocket,
    })
}

#[handler]
pub async fn ping() -> Json<Value> {
    Json(json!({ "status": "ok", "timestamp": Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true) }))
}

/// NTP-style stamps: when the request was received and when the answer left.
#[handler]
pub async fn server_time(res: &mut Response) {
    let received = Utc::now();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let sent = Utc::now();
    res.render(Json(json!({
        "success": true,
        "timestamp": sent.to_rfc3339_opts(SecondsFormat::Millis, true),
        "unix_timestamp": sent.timestamp(),
        "unix_ms": sent.timestamp_millis(),
        "received_at_ms": received.timestamp_millis(),
        "sent_at_ms": sent.timestamp_millis(),
        "timezone": "UTC",
    })));
}

fn check(ok: bool, started: Instant) -> Value {
    json!({ "status": if ok { "ok" } else { "failed" }, "response_time": started.elapsed().as_secs_f64() * 1000.0 })
}

/// Runs one health check within `limit`: whether it passed, and how long it
/// took (a check that does not answer in time has failed).
async fn timed(limit: Duration, check: impl std::future::Future<Output = bool>) -> (bool, Value) {
    let started = Instant::now();
    let ok = tokio::time::timeout(limit, check).await.unwrap_or(false);
    (ok, self::check(ok, started))
}

#[handler]
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
        // The hub's path between replicas: an echo through Redis pub/sub.
        timed(limit, state.hub.bus_round_trip()),
    );
    websocket["connections"] = state.hub.stats.connections().into();
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
        alerts.extend(slow_check_alert(name, check["response_time"].as_f64().unwrap_or(0.0)));
    }
    alerts.extend(crate::telemetry::request_stats::error_alert(&requests));
    let alerts: Vec<Value> = alerts
        .into_iter()
        .map(|(level, message)| json!({ "level": level, "message": message }))
        .collect();
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
    res.render(Json(json!({
        "status": status,
        "timestamp": Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        "checks": {
            "database": database,
            "redis": redis,
            "storage": storage,
            "websocket": websocket,
        },
        "system": {
            "memory": { "used_percent": system.memory_used_percent },
            "disk": { "used_percent": system.disk_used_percent },
            "load_average": system.load_average,
            "uptime": state.started.elapsed().as_secs(),
        },
        "alerts": alerts,
    })));
}

#[handler]
pub async fn metrics(req: &mut Request, depot: &mut Depot, res: &mut Response) {
    let Ok(state) = from_depot(depot) else { return };
    if !state.config.monitoring.metrics {
        res.status_code(StatusCode::NOT_FOUND);
        res.render(Json(
            json!({ "success": false, "message": "Metrics are off (METRICS_ENABLED)", "code": "not_found" }),
        ));
        return;
    }
    let wants_text = req.uri().path().ends_with("/prometheus")
        || req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/plain"));
    if !wants_text {
        let mut data = crate::telemetry::figures::json(state);
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
            data["history"] = crate::telemetry::history::summary(&state.cache, hours, now_hour)
                .await
                .unwrap_or_else(|| json!({ "hours": hours, "unavailable": "Redis is unavailable" }));
        }
        res.render(Json(json!({
            "success": true,
            "metrics": dashboard_view(&data["requests"], &data["database"], &data["websocket"]),
            "data": data,
        })));
        return;
    }
    let text = crate::telemetry::figures::prometheus(state);
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    res.render(text);
}
