//! spotik-api: the REST API of Spotik over PostgreSQL and Redis.
//!
//! [`connect`] builds the application state from a [`Config`] (pool,
//! migrations, cache); [`run`] serves it on a bound listener until a shutdown
//! future resolves, so `main` and the tests start it the same way.

pub mod auth;
pub mod cache;
pub mod cli;
pub mod config;
pub mod domain;
pub mod files;
pub mod housekeeping;
pub mod http;
pub(crate) mod hub;
pub mod limits;
pub mod realtime;
pub mod routes;
pub mod seed;
pub mod server;
pub mod services;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod views;

pub use config::Config;
pub use state::{AppState, State};

use log::LevelFilter;
use salvo::conn::tcp::TcpAcceptor;
use salvo::http::StatusCode;
use salvo::prelude::*;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::ConnectOptions;
use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Why the API could not start, in words that name what is missing.
#[derive(Debug)]
pub struct StartError(pub String);

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StartError {}

/// The database URL without its password, for messages.
fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            let user = credentials.split(':').next().unwrap_or("");
            format!("{}{user}@{}", &url[..scheme + 3], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// How to reach PostgreSQL, and whether sqlx times each statement for
/// [`db_stats`] (at `trace`, slow ones at `debug`: levels the log leaves out
/// unless `RUST_LOG` asks).
fn db_options(config: &Config) -> Result<PgConnectOptions, StartError> {
    let options = PgConnectOptions::from_str(&config.database_url).map_err(|e| {
        StartError(format!(
            "DATABASE_URL {} is not a PostgreSQL URL: {e}",
            redacted(&config.database_url)
        ))
    })?;
    if !config.monitoring.queries {
        return Ok(options.disable_statement_logging());
    }
    Ok(options.log_statements(LevelFilter::Trace).log_slow_statements(
        telemetry::db_stats::SLOW_LOG_LEVEL,
        Duration::from_millis(config.monitoring.slow_query_ms),
    ))
}

/// Connects to PostgreSQL, applies migrations and prepares the cache.
pub async fn connect(config: Config) -> Result<State, StartError> {
    let options = db_options(&config)?;
    let db = PgPoolOptions::new()
        .min_connections(config.pool.min)
        .max_connections(config.pool.max.max(1))
        .acquire_timeout(config.pool.acquire_timeout)
        .idle_timeout(config.pool.idle_timeout)
        .max_lifetime(config.pool.max_lifetime)
        .acquire_time_level(if config.monitoring.queries {
            LevelFilter::Trace
        } else {
            LevelFilter::Off
        })
        .connect_with(options)
        .await
        .map_err(|e| {
            StartError(format!(
                "cannot reach PostgreSQL at {} (DATABASE_URL): {e}",
                redacted(&config.database_url)
            ))
        })?;
    MIGRATOR
        .run(&db)
        .await
        .map_err(|e| StartError(format!("database migrations failed: {e}")))?;
    std::fs::create_dir_all(&config.media_root)
        .map_err(|e| StartError(format!("cannot create MEDIA_ROOT {}: {e}", config.media_root.display())))?;
    let swept = files::storage::sweep_partial_uploads(&config);
    if swept > 0 {
        tracing::warn!(swept, "partial uploads of an earlier process removed");
    }
    let cache = Arc::new(if config.redis_cluster.is_empty() {
        cache::Cache::new(&config.redis_url, &config.redis_prefix)
    } else {
        cache::Cache::on_cluster(&config.redis_cluster, &config.redis_prefix)
    });
    if cache.ping().await.is_none() {
        tracing::warn!(url = %config.redis_url, "Redis is unreachable (REDIS_URL); running from PostgreSQL until it is back");
    }
    let sync_reports = telemetry::drift::SyncReports::new(config.monitoring.sync_report_every);
    let max_connections = config
        .max_connections
        .unwrap_or_else(|| http::acceptor::default_max_connections(config.pool.max));
    // Plain requests keep a quarter of the places (up to 256) when sockets are full.
    let max_sockets = config
        .hub
        .max_sockets
        .unwrap_or_else(|| max_connections - (max_connections / 4).min(256));
    Ok(Arc::new(AppState {
        db_health: store::db_health::DbHealth::default(),
        connections: http::connections::Connections::new(
            max_connections,
            config.max_connections_per_client,
            config.trusted_proxies.clone(),
        ),
        max_connections,
        sockets: hub::admission::Admission::new(max_sockets, config.hub.max_sockets_per_client),
        login_limiter: limits::login::LoginLimiter::new(config.login_limit.clone(), cache.clone()),
        registrations: limits::registrations::Registrations::new(
            config.quotas.registrations_per_ip,
            config.quotas.registration_window,
        ),
        passwords: auth::hashing::PasswordWork::new(
            config.argon2_memory_kib,
            config.password_hash_budget_mib,
            config.password_hash_wait,
        ),
        ballots: store::ballots::Ballots::new(db.clone()),
        flood: limits::flood::Flood::default(),
        warmer: files::warm::Warmer::new(config.edge_warm_urls.clone(), &config.edge_public_url),
        db,
        events: store::events::Events::default(),
        hub: Arc::new(hub::Hub::new(config.hub.clone(), Arc::clone(&cache))),
        cache,
        requests: telemetry::request_stats::RequestStats::default(),
        prober: files::probe::Prober::new(config.probe.clone()),
        uploads: files::slots::UploadSlots::new(config.quotas.uploads_per_user, config.quotas.uploads_in_progress),
        config,
        started: std::time::Instant::now(),
        sessions: store::recent::Recent::new(state::TRUSTED_FOR),
        members: store::recent::Recent::new(state::TRUSTED_FOR),
        sync_reports,
    }))
}

struct Inject(State);

#[async_trait]
impl Handler for Inject {
    async fn handle(&self, req: &mut Request, depot: &mut Depot, res: &mut Response, ctrl: &mut FlowCtrl) {
        depot.inject(Arc::clone(&self.0));
        ctrl.call_next(req, depot, res).await;
    }
}

/// Errors salvo raises itself (no route, wrong method) in the API's envelope.
#[handler]
async fn json_errors(res: &mut Response, ctrl: &mut FlowCtrl) {
    let status = res.status_code.unwrap_or(StatusCode::NOT_FOUND);
    let (message, code) = match status {
        StatusCode::NOT_FOUND => ("Not found", "not_found"),
        StatusCode::METHOD_NOT_ALLOWED => ("Method not allowed", "method_not_allowed"),
        StatusCode::PAYLOAD_TOO_LARGE => ("The request body is too large", "payload_too_large"),
        StatusCode::FORBIDDEN => ("Forbidden", "forbidden"),
        s if s.is_client_error() => ("Bad request", "bad_request"),
        _ => ("Internal server error", "internal_error"),
    };
    res.render(Json(http::error::envelope(message, code)));
    ctrl.skip_rest();
}

/// Every route, behind the hoops every request passes, and the OpenAPI
/// document of them with its page.
pub fn router() -> Router {
    let routes = Router::new()
        .hoop(server::deadline::bounded)
        .hoop(server::deadline::refuse_while_database_down)
        .hoop(http::request::refuse_nul_in_query)
        .push(routes::router())
        .push(realtime::router())
        .push(routes::dashboard::router())
        .push(routes::web::router());
    // The document describes the routes above; it and its page are served
    // under the same hoops.
    let document = http::openapi::document(&routes);
    routes.push(document.into_router("/api/openapi.json")).push(
        Router::new()
            .hoop(http::openapi::docs_headers)
            .push(salvo::oapi::swagger_ui::SwaggerUi::new("/api/openapi.json").into_router("/api/docs")),
    )
}

pub fn service(state: State) -> Service {
    let origins = Arc::new(state.config.cors_origins.clone());
    // Before routing, so that paths no route matches are counted too (as
    // one route) and preflights are answered.
    let connections = Arc::clone(&state.connections);
    Service::new(router())
        .hoop(http::connections::Activity(connections))
        .hoop(Inject(state))
        .hoop(routes::monitoring::measure)
        .hoop(http::cors::Cors(origins))
        .catcher(salvo::catcher::Catcher::default().hoop(json_errors))
}

/// hyper refuses a read buffer smaller than this.
const MIN_HEAD_BUFFER: usize = 8192;

/// Serves the API on `listener` until `shutdown` resolves, with the
/// background work every replica does (advancing ended tracks).
pub async fn run(
    state: State,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let advancer = tokio::spawn(housekeeping::run(Arc::clone(&state), stop_rx.clone()));
    let stats = Arc::clone(&state);
    let trimmer = tokio::spawn(telemetry::memory::run(
        move || stats.hub.stats.take_peak(),
        stop_rx.clone(),
    ));
    let recorder = Arc::clone(&state);
    let history_stop = stop_rx.clone();
    let history = tokio::spawn(async move {
        let monitoring = &recorder.config.monitoring;
        if monitoring.requests {
            let (retention, every) = (monitoring.retention, monitoring.flush_every);
            telemetry::history::run(&recorder.requests, &recorder.cache, retention, every, history_stop).await;
        }
    });
    let follower = Arc::clone(&state);
    let endings = stop_rx.clone();
    let follow = tokio::spawn(async move { follower.follow_endings(endings).await });
    let departures = tokio::spawn(services::skips::follow_departures(Arc::clone(&state), stop_rx.clone()));
    let prober = Arc::clone(&state);
    let probe_stop = stop_rx.clone();
    let db_probe = tokio::spawn(async move {
        let options = prober.db.connect_options().as_ref().clone();
        prober.db_health.probe(options, probe_stop).await;
    });
    let bus = tokio::spawn(hub::bus::run(Arc::clone(&state.hub), stop_rx));
    let hub_state = Arc::clone(&state);
    let acceptor = http::acceptor::PatientAcceptor::new(
        TcpAcceptor::try_from(listener)?,
        Arc::clone(&state.connections),
        state.config.body_idle_timeout,
    );
    let mut server = Server::new(acceptor);
    // A request head must arrive whole within the deadline, and so must the
    // next one on a kept-alive connection: slow or silent clients cannot
    // hold sockets for ever. Heads larger than the limit are refused (431).
    server
        .http1_mut()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(state.config.header_timeout)
        .max_buf_size(state.config.max_header_bytes.max(MIN_HEAD_BUFFER));
    let handle = server.handle();
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
        hub_state.hub.close_all();
        handle.stop_graceful(Duration::from_secs(10));
    });
    server.serve(service(state)).await;
    let _ = advancer.await;
    let _ = trimmer.await;
    let _ = follow.await;
    let _ = departures.await;
    let _ = history.await;
    let _ = bus.await;
    let _ = db_probe.await;
    Ok(())
}
