//! `/dashboard`: the live operations page, self-contained (its page and
//! script are compiled in; it fetches nothing from elsewhere), and
//! `/dashboard/data`, the figures it polls: this API process's, every
//! edge's (fetched by the API, see [`crate::telemetry::edge_figures`]) and the alerts
//! standing now.
//!
//! Who may see it is [`crate::config::DashboardAccess`]: `DASHBOARD_TOKEN`,
//! the accounts of `DASHBOARD_ADMINS` with their own login token, or anyone
//! on a development machine when neither is set; never open in production
//! by default. The page itself holds no figures; the data it polls is what
//! is guarded.

use crate::http::error::{ApiError, ApiResult};
use crate::routes::figures::{Alert, Figures};
use crate::services::sessions::authenticate_token;
use crate::state::from_depot;
use crate::state::AppState;
use crate::telemetry::edge_figures::EdgeFigures;
use crate::telemetry::request_stats::RequestFigures;
use salvo::http::{header, HeaderValue, StatusCode};
use salvo::oapi::endpoint;
use salvo::prelude::*;
use serde::Serialize;
use spotik_shared::system::System;
use std::time::Duration;

const PAGE: &str = include_str!("../../assets/dashboard.html");
const SCRIPT: &str = include_str!("../../assets/dashboard.js");
/// Scripts only from this origin (no inline script), data only from it.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; \
                      img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn closed(state: &AppState) -> bool {
    let access = &state.config.monitoring.dashboard;
    !access.open && access.token.is_none() && access.admins.is_empty()
}

fn off() -> ApiError {
    ApiError::NotFound("The dashboard is off: set DASHBOARD_TOKEN or DASHBOARD_ADMINS".into())
}

fn asset(res: &mut Response, content_type: &'static str, body: &'static str) {
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    res.write_body(body).ok();
}

/// The live dashboard's page (HTML; its data is guarded, not the page).
#[endpoint(tags("monitoring"), responses((status_code = 200, description = "The dashboard's page (HTML)")))]
pub async fn page(depot: &mut Depot, res: &mut Response) -> ApiResult<()> {
    if closed(from_depot(depot)?) {
        return Err(off());
    }
    asset(res, "text/html; charset=utf-8", PAGE);
    Ok(())
}

/// The dashboard's script.
#[endpoint(tags("monitoring"), responses((status_code = 200, description = "The dashboard's script")))]
pub async fn script(depot: &mut Depot, res: &mut Response) -> ApiResult<()> {
    if closed(from_depot(depot)?) {
        return Err(off());
    }
    asset(res, "text/javascript; charset=utf-8", SCRIPT);
    Ok(())
}

/// Constant-time comparison: the token must not leak through timing.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// Ok for a reader of the dashboard (and of the metrics behind it).
pub(crate) async fn admitted(state: &AppState, req: &Request) -> ApiResult<()> {
    let access = &state.config.monitoring.dashboard;
    if closed(state) {
        return Err(off());
    }
    if access.open {
        return Ok(());
    }
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or("");
    if given.is_empty() {
        return Err(ApiError::Unauthorized("This dashboard needs a token".into()));
    }
    if access.token.as_deref().is_some_and(|token| same(token, given)) {
        return Ok(());
    }
    if !access.admins.is_empty() {
        if let Ok(caller) = authenticate_token(state, given).await {
            if access.admins.contains(&caller.user.email.to_lowercase()) {
                return Ok(());
            }
            return Err(ApiError::Forbidden("This account may not see the dashboard".into()));
        }
    }
    Err(ApiError::Unauthorized("This token does not open the dashboard".into()))
}

/// Alerts standing now: the host's, the API's errors, Redis and the bus,
/// and edges that do not answer.
fn alerts(state: &AppState, system: &System, requests: &RequestFigures, edges: &[EdgeFigures]) -> Vec<Alert> {
    let mut alerts = system.alerts();
    alerts.extend(crate::telemetry::request_stats::error_alert(requests));
    if state.cache.breaker_open() {
        alerts.push(("warning", "Redis is unavailable: serving from PostgreSQL only".into()));
    }
    if state.cache.configured() && !state.hub.stats.bus_connected() {
        alerts.push(("warning", "the bus to other API replicas is down".into()));
    }
    for edge in edges.iter().filter(|e| !e.up) {
        alerts.push((
            "critical",
            format!(
                "edge {} does not answer: {}",
                edge.url,
                edge.error.as_deref().unwrap_or("?")
            ),
        ));
    }
    Alert::all(alerts)
}

/// What the dashboard page polls.
#[derive(Serialize)]
struct DashboardData {
    at_ms: i64,
    api: Figures,
    latency_buckets: Vec<(f64, u64)>,
    /// Each edge's `/metrics`, read.
    edges: Vec<EdgeFigures>,
    system: SystemView,
    alerts: Vec<Alert>,
}

#[derive(Serialize)]
struct SystemView {
    memory_used_percent: Option<f64>,
    disk_used_percent: Option<f64>,
    load_average: Option<f64>,
}

/// The figures the dashboard polls: this process's, the edges', the
/// alerts standing. With `DASHBOARD_TOKEN` or an admin's login token.
#[endpoint(
    tags("monitoring"),
    parameters(("token" = Option<String>, Query, description = "DASHBOARD_TOKEN, when not sent as a bearer token")),
    responses((status_code = 200, description = "The figures (JSON; docs/monitoring.md)"))
)]
pub async fn data(req: &mut Request, depot: &mut Depot, res: &mut Response) -> ApiResult<()> {
    let state = from_depot(depot)?;
    admitted(state, req).await?;
    let media_root = state.config.media_root.clone();
    let system = tokio::task::spawn_blocking(move || System::read(&media_root));
    let (system, edges) = tokio::join!(
        tokio::time::timeout(Duration::from_secs(2), system),
        crate::telemetry::edge_figures::fetch_all(&state.config.monitoring.edge_metrics_urls),
    );
    let system = system.ok().and_then(Result::ok).unwrap_or_default();
    let api = crate::routes::figures::all(state);
    let alerts = alerts(state, &system, &api.requests, &edges);
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res.status_code(StatusCode::OK);
    res.render(Json(DashboardData {
        at_ms: chrono::Utc::now().timestamp_millis(),
        api,
        latency_buckets: state.requests.latency_buckets(),
        edges,
        system: SystemView {
            memory_used_percent: system.memory_used_percent,
            disk_used_percent: system.disk_used_percent,
            load_average: system.load_average,
        },
        alerts,
    }));
    Ok(())
}

/// `/dashboard`: its page, script and data.
pub fn router() -> Router {
    Router::with_path("dashboard")
        .get(page)
        .push(Router::with_path("dashboard.js").get(script))
        .push(Router::with_path("data").get(data))
}
