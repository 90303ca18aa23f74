//! Configuration from the environment, with defaults that run locally.

pub mod settings;

use crate::http::cors::{AllowedOrigins, DEFAULT_ORIGINS};
use settings::default_of;
#[cfg(test)]
use settings::{Fallback, SETTINGS};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct Config {
    pub listen: SocketAddr,
    pub database_url: String,
    pub redis_url: String,
    /// Nodes of a Redis Cluster to use instead of `redis_url`
    /// (`REDIS_CLUSTER_URLS`, comma-separated; any of its nodes will do).
    pub redis_cluster: Vec<String>,
    /// Prefix of every Redis key and channel (lets tests and tenants share a server).
    pub redis_prefix: String,
    pub jwt_secret: String,
    pub jwt_ttl: Duration,
    pub jwt_refresh_ttl: Duration,
    pub media_root: PathBuf,
    /// Base URL of the edge as players reach it, e.g. `http://127.0.0.1:8080`.
    pub edge_public_url: String,
    /// The edges as the API reaches them, warmed with the next track when
    /// one starts (`EDGE_WARM_URLS`, comma-separated; `EDGE_PUBLIC_URL` by
    /// default, none with `none`).
    pub edge_warm_urls: Vec<String>,
    /// The API's origin as browsers reach it (`API_PUBLIC_URL`, e.g.
    /// `https://spotik.example`), before the links it hands out such as
    /// `/api/covers/…`; empty leaves them relative.
    pub api_public_url: String,
    pub edge_signing_secret: Option<String>,
    /// How long a signed media URL stays valid.
    pub edge_link_ttl: Duration,
    /// `/tracks/{id}/stream` answers with an `X-Accel-Redirect` for nginx to
    /// follow internally (`STREAM_MODE=x-accel`) instead of a 302.
    pub stream_x_accel: bool,
    pub upload_max_bytes: u64,
    pub pool: PoolConfig,
    pub cache_ttl_tracks: Duration,
    /// How often the server looks for tracks that have ended.
    pub advance_interval: Duration,
    pub login_limit: LoginLimit,
    /// Argon2id memory cost in KiB for new password hashes.
    pub argon2_memory_kib: u32,
    /// Memory all password hashes running at once may hold
    /// (`PASSWORD_HASH_MEMORY_MIB`); it sets how many run at once.
    pub password_hash_budget_mib: u64,
    /// How long a login or registration waits for a hash to be free before
    /// it is answered 503 (`PASSWORD_HASH_WAIT_MS`).
    pub password_hash_wait: Duration,
    /// Proxies whose `X-Forwarded-For` / `X-Real-IP` are believed (`TRUSTED_PROXIES`).
    pub trusted_proxies: crate::http::client_addr::TrustedProxies,
    /// Requests slower than this are logged (`HTTP_SLOW_REQUEST_THRESHOLD`, ms).
    pub slow_request_ms: u64,
    pub monitoring: MonitoringConfig,
    pub production: bool,
    pub hub: HubConfig,
    /// Browser origins allowed to call the API and open its WebSockets
    /// (`CORS_ALLOWED_ORIGINS`, plus `FRONTEND_URL`).
    pub cors_origins: AllowedOrigins,
    /// Largest cover image accepted (`COVER_MAX_BYTES`).
    pub cover_max_bytes: u64,
    /// How long a request head may take to arrive, and a kept-alive
    /// connection may wait for its next request (`HTTP_HEADER_TIMEOUT`, s).
    pub header_timeout: Duration,
    /// Largest request head (`HTTP_MAX_HEADER_BYTES`).
    pub max_header_bytes: usize,
    /// How long each check of `/api/health` may take (`HEALTH_CHECKS_TIMEOUT`, ms).
    pub health_checks_timeout: Duration,
    /// How long any request but an upload may take before it is answered
    /// 503 (`REQUEST_TIMEOUT`, s; default the acquire timeout plus one).
    pub request_timeout: Duration,
    pub probe: ProbeConfig,
    /// Client connections open at most (`MAX_CONNECTIONS`; by default the
    /// open-file limit less what the pool and the process need).
    pub max_connections: Option<usize>,
    /// Longest gap between two chunks of a request body (`HTTP_BODY_IDLE_TIMEOUT`, s).
    pub body_idle_timeout: Duration,
    /// Longest a whole upload may take (`UPLOAD_TIMEOUT`, s).
    pub upload_timeout: Duration,
    /// Connections one client address may hold open (`MAX_CONNECTIONS_PER_CLIENT`;
    /// trusted proxies are not held to it).
    pub max_connections_per_client: usize,
    pub quotas: Quotas,
}

/// What one account, one client address and this replica may hold.
#[derive(Clone, Debug)]
pub struct Quotas {
    /// Uploads one user may have in progress at once (`UPLOADS_PER_USER`).
    pub uploads_per_user: usize,
    /// Uploads in progress on this replica (`UPLOADS_IN_PROGRESS`).
    pub uploads_in_progress: usize,
    /// Rooms one user may administer (`ROOMS_PER_USER`).
    pub rooms_per_user: u64,
    /// Playlists one user may own (`PLAYLISTS_PER_USER`).
    pub playlists_per_user: u64,
    /// Accounts one client address may register per window
    /// (`REGISTER_LIMIT_PER_IP`, `REGISTER_LIMIT_WINDOW`, s).
    pub registrations_per_ip: u32,
    pub registration_window: Duration,
}

/// How uploads are probed: in a child process with these limits (see `probe`).
#[derive(Clone, Debug)]
pub struct ProbeConfig {
    /// The binary run as `<program> probe-file <path>` (`PROBE_PROGRAM`;
    /// this very executable by default).
    pub program: PathBuf,
    /// Address space of one probe (`PROBE_MEMORY_MIB`).
    pub memory_bytes: u64,
    /// CPU seconds one probe may use (`PROBE_CPU_SECONDS`).
    pub cpu_secs: u64,
    /// Wall time one probe may take (`PROBE_TIMEOUT`, s).
    pub timeout: Duration,
    /// Probes running at once (`PROBE_CONCURRENCY`); further uploads wait.
    pub concurrency: usize,
}

/// The real-time hub: the Pusher application it serves and its limits.
#[derive(Clone, Debug)]
pub struct HubConfig {
    pub app_id: String,
    pub app_key: String,
    pub app_secret: String,
    /// laravel-echo's namespace, `App\Events` unless set: event names go
    /// out as `App\Events\user\joined`, what the front end's
    /// `.listen('user.joined')` waits for. `None` (`BROADCAST_EVENT_NAMESPACE=none`)
    /// sends the short names (`user.joined`) to plain pusher-js clients.
    pub event_namespace: Option<String>,
    /// Seconds of silence after which a Pusher client is pinged (sent in `connection_established`).
    pub activity_timeout: Duration,
    /// How long a pinged client has to answer before it is disconnected.
    pub pong_timeout: Duration,
    /// Largest message a client may send.
    pub max_message_bytes: usize,
    /// Frames queued for one connection before it is judged too slow and closed.
    pub client_buffer_frames: usize,
    /// How long one write to a client may take before it is judged dead.
    pub write_timeout: Duration,
    /// How long after subscribing a listener is told the room's playback
    /// (see `hub::catch_up`).
    pub catch_up_delay: Duration,
    /// WebSockets open at most (`WS_MAX_CONNECTIONS`; by default the
    /// connection cap less room for plain requests).
    pub max_sockets: Option<usize>,
    /// WebSockets one client address may hold (`WS_MAX_PER_CLIENT`).
    pub max_sockets_per_client: usize,
    /// How long a Pusher socket may hold no channel before it is closed
    /// (`WS_SUBSCRIBE_TIMEOUT`, s).
    pub subscribe_timeout: Duration,
    /// How long `/broadcasting/auth` waits for a caller's own join to a
    /// room before refusing (`BROADCAST_AUTH_WAIT_MS`; 0 refuses at once).
    pub auth_join_wait: Duration,
}

/// What is measured and shown (`MONITORING_ENABLED`, `HTTP_MONITORING_ENABLED`,
/// `DB_MONITORING_ENABLED`, `METRICS_ENABLED`, `APP_DEBUG`).
#[derive(Clone, Debug)]
pub struct MonitoringConfig {
    /// Every request timed and counted, slow ones logged.
    pub requests: bool,
    /// Every statement timed by kind, slow ones logged (`DB_MONITORING_ENABLED`).
    pub queries: bool,
    /// Statements slower than this are logged (`DB_SLOW_QUERY_THRESHOLD`, ms).
    pub slow_query_ms: u64,
    /// `/api/metrics` answered (404 otherwise).
    pub metrics: bool,
    /// `X-Execution-Time`, `X-Memory-Usage` and `X-Peak-Memory` on every answer.
    pub debug_headers: bool,
    /// How long hourly figures stay in Redis (`METRICS_RETENTION_DAYS`).
    pub retention: Duration,
    /// How often this replica adds its figures to them (`METRICS_FLUSH_INTERVAL_MS`).
    pub flush_every: Duration,
    /// How often one participant may report its sync on one room (`SYNC_REPORT_INTERVAL_MS`).
    pub sync_report_every: Duration,
    /// Who may open `/dashboard`.
    pub dashboard: DashboardAccess,
    /// The edges' `/metrics`, which the dashboard shows beside the API's
    /// (`EDGE_METRICS_URLS`, comma-separated; `EDGE_PUBLIC_URL/metrics` by default).
    pub edge_metrics_urls: Vec<String>,
}

/// Who may see the live dashboard: anyone holding `DASHBOARD_TOKEN`, and
/// the accounts listed in `DASHBOARD_ADMINS` (emails) with their own login.
/// With neither, it is open on a development machine and closed in
/// production (`APP_ENV=production`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DashboardAccess {
    pub open: bool,
    pub token: Option<String>,
    pub admins: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct PoolConfig {
    pub min: u32,
    pub max: u32,
    pub acquire_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_lifetime: Duration,
}

/// Failed logins allowed per window, per client address and per account.
#[derive(Clone, Debug)]
pub struct LoginLimit {
    pub per_ip: u32,
    pub per_account: u32,
    pub window: Duration,
}

/// A setting that is missing or malformed.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

const DEV_JWT_SECRET: &str = "spotik-development-secret-change-me";

impl Config {
    /// Reads the environment through `var` (so tests can pass their own).
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            var(name)
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| default_of(name).to_owned())
        };
        let number = |name: &str| -> Result<u64, ConfigError> {
            get(name)
                .parse()
                .map_err(|_| ConfigError(format!("{name} must be a whole number")))
        };
        let secs = |name: &str| number(name).map(Duration::from_secs);
        let optional_number = |name: &str| -> Result<Option<usize>, ConfigError> {
            match var(name).filter(|v| !v.is_empty()) {
                None => Ok(None),
                Some(v) => v
                    .parse::<usize>()
                    .map(|n| Some(n.max(1)))
                    .map_err(|_| ConfigError(format!("{name} must be a whole number"))),
            }
        };
        let switch = |name: &str| -> Result<bool, ConfigError> {
            match get(name).to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => Ok(true),
                "0" | "false" | "no" | "off" => Ok(false),
                _ => Err(ConfigError(format!("{name} must be true or false"))),
            }
        };
        let production = matches!(get("APP_ENV").as_str(), "production" | "prod");
        let jwt_secret = match var("JWT_SECRET").filter(|s| !s.is_empty()) {
            Some(secret) => secret,
            None if production => return Err(ConfigError("JWT_SECRET must be set in production".into())),
            None => DEV_JWT_SECRET.to_owned(),
        };
        if production && var("PUSHER_APP_SECRET").filter(|s| !s.is_empty()).is_none() {
            return Err(ConfigError("PUSHER_APP_SECRET must be set in production".into()));
        }
        if production && var("EDGE_SIGNING_SECRET").filter(|s| !s.is_empty()).is_none() {
            return Err(ConfigError("EDGE_SIGNING_SECRET must be set in production".into()));
        }
        let listen = get("API_LISTEN");
        let configured_origins = var("CORS_ALLOWED_ORIGINS").filter(|v| !v.trim().is_empty());
        let frontend_url = var("FRONTEND_URL").unwrap_or_default();
        let cors_origins = match &configured_origins {
            Some(list) => AllowedOrigins::parse([list.as_str(), frontend_url.as_str()]),
            None => AllowedOrigins::parse(DEFAULT_ORIGINS.into_iter().chain([frontend_url.as_str()])),
        }
        .map_err(|e| ConfigError(format!("CORS_ALLOWED_ORIGINS / FRONTEND_URL: {e}")))?;
        let listen: SocketAddr = listen
            .parse()
            .map_err(|_| ConfigError(format!("API_LISTEN {listen:?} is not an address")))?;
        // The edge's public URL is the default of the warm-up and metrics URLs too.
        let edge_public_url = get("EDGE_PUBLIC_URL").trim_end_matches('/').to_owned();
        let acquire_timeout = secs("DB_POOL_ACQUIRE_TIMEOUT")?;
        Ok(Self {
            listen,
            api_public_url: match var("API_PUBLIC_URL") {
                Some(url) => url.trim().trim_end_matches('/').to_owned(),
                None => format!("http://{}", reachable(listen)),
            },
            database_url: get("DATABASE_URL"),
            redis_url: get("REDIS_URL"),
            redis_cluster: comma_list(&get("REDIS_CLUSTER_URLS")).collect(),
            redis_prefix: get("REDIS_PREFIX"),
            jwt_secret,
            jwt_ttl: Duration::from_secs(number("JWT_TTL")? * 60),
            jwt_refresh_ttl: Duration::from_secs(number("JWT_REFRESH_TTL")? * 60),
            media_root: PathBuf::from(get("MEDIA_ROOT")),
            edge_public_url: edge_public_url.clone(),
            edge_warm_urls: match var("EDGE_WARM_URLS") {
                Some(urls) if urls.trim() == "none" => Vec::new(),
                Some(urls) => comma_list(&urls).map(|u| u.trim_end_matches('/').to_owned()).collect(),
                None => vec![edge_public_url.clone()],
            },
            edge_signing_secret: var("EDGE_SIGNING_SECRET").filter(|s| !s.is_empty()),
            edge_link_ttl: secs("EDGE_LINK_TTL")?,
            stream_x_accel: match get("STREAM_MODE").as_str() {
                "redirect" => false,
                "x-accel" => true,
                other => {
                    return Err(ConfigError(format!(
                        "STREAM_MODE {other:?} must be redirect or x-accel"
                    )))
                }
            },
            upload_max_bytes: number("UPLOAD_MAX_BYTES")?,
            pool: PoolConfig {
                min: number("DB_POOL_MIN")? as u32,
                max: number("DB_POOL_MAX")? as u32,
                acquire_timeout,
                idle_timeout: secs("DB_POOL_IDLE_TIMEOUT")?,
                max_lifetime: secs("DB_POOL_MAX_LIFETIME")?,
            },
            cache_ttl_tracks: secs("CACHE_TTL_TRACKS")?,
            advance_interval: Duration::from_millis(number("ADVANCE_INTERVAL_MS")?),
            login_limit: LoginLimit {
                per_ip: number("LOGIN_LIMIT_PER_IP")? as u32,
                per_account: number("LOGIN_LIMIT_PER_ACCOUNT")? as u32,
                window: secs("LOGIN_LIMIT_WINDOW")?,
            },
            argon2_memory_kib: number("ARGON2_MEMORY_KIB")? as u32,
            password_hash_budget_mib: number("PASSWORD_HASH_MEMORY_MIB")?,
            password_hash_wait: Duration::from_millis(number("PASSWORD_HASH_WAIT_MS")?),
            trusted_proxies: crate::http::client_addr::TrustedProxies::parse(&get("TRUSTED_PROXIES"))
                .map_err(|e| ConfigError(format!("TRUSTED_PROXIES: {e}")))?,
            slow_request_ms: number("HTTP_SLOW_REQUEST_THRESHOLD")?,
            monitoring: {
                let all = switch("MONITORING_ENABLED")?;
                MonitoringConfig {
                    requests: all && switch("HTTP_MONITORING_ENABLED")?,
                    queries: all && switch("DB_MONITORING_ENABLED")?,
                    slow_query_ms: number("DB_SLOW_QUERY_THRESHOLD")?,
                    metrics: all && switch("METRICS_ENABLED")?,
                    debug_headers: switch("APP_DEBUG")?,
                    retention: Duration::from_secs(number("METRICS_RETENTION_DAYS")?.clamp(1, 366) * 86_400),
                    flush_every: Duration::from_millis(number("METRICS_FLUSH_INTERVAL_MS")?.max(10)),
                    sync_report_every: Duration::from_millis(number("SYNC_REPORT_INTERVAL_MS")?),
                    dashboard: {
                        let token = var("DASHBOARD_TOKEN").filter(|t| !t.is_empty());
                        let admins: Vec<String> =
                            comma_list(&get("DASHBOARD_ADMINS")).map(|e| e.to_lowercase()).collect();
                        DashboardAccess {
                            open: token.is_none() && admins.is_empty() && !production,
                            token,
                            admins,
                        }
                    },
                    edge_metrics_urls: match var("EDGE_METRICS_URLS") {
                        Some(urls) => comma_list(&urls).collect(),
                        None => vec![format!("{edge_public_url}/metrics")],
                    },
                }
            },
            production,
            hub: HubConfig {
                app_id: get("PUSHER_APP_ID"),
                app_key: get("PUSHER_APP_KEY"),
                app_secret: get("PUSHER_APP_SECRET"),
                event_namespace: event_namespace(var("BROADCAST_EVENT_NAMESPACE")),
                activity_timeout: secs("WS_ACTIVITY_TIMEOUT")?.max(Duration::from_secs(1)),
                pong_timeout: secs("WS_PONG_TIMEOUT")?.max(Duration::from_secs(1)),
                max_message_bytes: number("WS_MAX_MESSAGE_BYTES")? as usize,
                client_buffer_frames: (number("WS_CLIENT_BUFFER")? as usize).max(1),
                write_timeout: secs("WS_WRITE_TIMEOUT")?.max(Duration::from_secs(1)),
                catch_up_delay: Duration::from_millis(number("WS_CATCH_UP_DELAY_MS")?),
                max_sockets: optional_number("WS_MAX_CONNECTIONS")?,
                max_sockets_per_client: number("WS_MAX_PER_CLIENT")?.max(1) as usize,
                subscribe_timeout: secs("WS_SUBSCRIBE_TIMEOUT")?.max(Duration::from_secs(1)),
                auth_join_wait: Duration::from_millis(number("BROADCAST_AUTH_WAIT_MS")?),
            },
            cors_origins,
            cover_max_bytes: number("COVER_MAX_BYTES")?,
            header_timeout: secs("HTTP_HEADER_TIMEOUT")?.max(Duration::from_secs(1)),
            max_header_bytes: number("HTTP_MAX_HEADER_BYTES")? as usize,
            health_checks_timeout: Duration::from_millis(number("HEALTH_CHECKS_TIMEOUT")?.max(1)),
            request_timeout: match var("REQUEST_TIMEOUT").filter(|v| !v.is_empty()) {
                Some(_) => secs("REQUEST_TIMEOUT")?.max(Duration::from_secs(1)),
                None => acquire_timeout + Duration::from_secs(1),
            },
            max_connections: optional_number("MAX_CONNECTIONS")?,
            body_idle_timeout: secs("HTTP_BODY_IDLE_TIMEOUT")?.max(Duration::from_secs(1)),
            upload_timeout: secs("UPLOAD_TIMEOUT")?.max(Duration::from_secs(1)),
            max_connections_per_client: number("MAX_CONNECTIONS_PER_CLIENT")?.max(1) as usize,
            quotas: Quotas {
                uploads_per_user: number("UPLOADS_PER_USER")?.max(1) as usize,
                uploads_in_progress: number("UPLOADS_IN_PROGRESS")?.max(1) as usize,
                rooms_per_user: number("ROOMS_PER_USER")?,
                playlists_per_user: number("PLAYLISTS_PER_USER")?,
                registrations_per_ip: number("REGISTER_LIMIT_PER_IP")? as u32,
                registration_window: secs("REGISTER_LIMIT_WINDOW")?,
            },
            probe: ProbeConfig {
                program: match var("PROBE_PROGRAM").filter(|p| !p.is_empty()) {
                    Some(program) => PathBuf::from(program),
                    None => std::env::current_exe()
                        .map_err(|e| ConfigError(format!("PROBE_PROGRAM: cannot find this executable ({e})")))?,
                },
                memory_bytes: number("PROBE_MEMORY_MIB")?.max(64) * 1024 * 1024,
                cpu_secs: number("PROBE_CPU_SECONDS")?.max(1),
                timeout: secs("PROBE_TIMEOUT")?.max(Duration::from_secs(1)),
                concurrency: number("PROBE_CONCURRENCY")?.max(1) as usize,
            },
        })
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }
}

/// The items of a comma-separated setting, trimmed, empty ones left out.
fn comma_list(raw: &str) -> impl Iterator<Item = String> + '_ {
    raw.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
}

/// Where a browser on this machine reaches an API listening on `listen`.
fn reachable(listen: SocketAddr) -> SocketAddr {
    match listen.ip() {
        ip if !ip.is_unspecified() => listen,
        IpAddr::V4(_) => SocketAddr::from((Ipv4Addr::LOCALHOST, listen.port())),
        IpAddr::V6(_) => SocketAddr::from((Ipv6Addr::LOCALHOST, listen.port())),
    }
}

/// laravel-echo's own default unless told otherwise: the front end cannot
/// know about a setting, so its `.listen('user.joined')` must work as
/// shipped. `none` or an empty value asks for the short names.
fn event_namespace(value: Option<String>) -> Option<String> {
    let Some(value) = value else {
        return Some("App\\Events".to_owned());
    };
    let value = value.trim().trim_end_matches('\\');
    (!value.is_empty() && !value.eq_ignore_ascii_case("none")).then(|| value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn with(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    /// Each declared default is the value the configuration takes: giving
    /// every setting its declared value changes nothing, and every setting
    /// the code reads is declared (an undeclared one would read empty and
    /// differ here or fail to parse).
    #[test]
    fn every_declared_default_is_the_one_the_configuration_takes() {
        let declared: Vec<(&str, &str)> = SETTINGS
            .iter()
            .filter_map(|s| match s.default {
                Fallback::Value(value) => Some((s.name, value)),
                Fallback::Said(_) => None,
            })
            .collect();
        let unset = format!("{:?}", with(&[]).unwrap());
        let given = format!("{:?}", with(&declared).unwrap());
        assert_eq!(unset, given);
        let names: std::collections::HashSet<&str> = SETTINGS.iter().map(|s| s.name).collect();
        assert_eq!(names.len(), SETTINGS.len(), "a setting is declared twice");
    }

    #[test]
    fn defaults_run_locally() {
        let config = with(&[]).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:8000");
        assert_eq!(config.jwt_ttl, Duration::from_secs(3600));
        assert_eq!(config.jwt_refresh_ttl, Duration::from_secs(14 * 24 * 3600));
        assert_eq!(config.upload_max_bytes, 50 * 1024 * 1024);
        assert_eq!(config.hub.app_key, "spotik-key");
        assert_eq!(config.hub.event_namespace.as_deref(), Some("App\\Events"));
        assert_eq!(config.api_public_url, "http://127.0.0.1:8000");
    }

    #[test]
    fn the_public_api_url_is_where_a_browser_reaches_the_api() {
        let config = with(&[("API_LISTEN", "0.0.0.0:9000")]).unwrap();
        assert_eq!(config.api_public_url, "http://127.0.0.1:9000");
        let config = with(&[("API_LISTEN", "[::]:9000")]).unwrap();
        assert_eq!(config.api_public_url, "http://[::1]:9000");
        let config = with(&[("API_PUBLIC_URL", "https://spotik.example/")]).unwrap();
        assert_eq!(config.api_public_url, "https://spotik.example");
        assert_eq!(with(&[("API_PUBLIC_URL", "")]).unwrap().api_public_url, "");
    }

    #[test]
    fn cors_origins_default_to_the_front_ends_dev_servers_plus_frontend_url() {
        let config = with(&[("FRONTEND_URL", "https://spotik.example/")]).unwrap();
        assert!(config.cors_origins.allows("http://localhost:3000"));
        assert!(config.cors_origins.allows("https://spotik.example"));
        let config = with(&[("CORS_ALLOWED_ORIGINS", "https://a.example,https://b.example")]).unwrap();
        assert!(!config.cors_origins.allows("http://localhost:3000"));
        assert!(config.cors_origins.allows("https://b.example"));
        assert!(with(&[("CORS_ALLOWED_ORIGINS", "*")])
            .unwrap_err()
            .0
            .contains("CORS_ALLOWED_ORIGINS"));
    }

    #[test]
    fn event_namespace_loses_a_trailing_backslash() {
        let config = with(&[("BROADCAST_EVENT_NAMESPACE", "Acme\\Events\\")]).unwrap();
        assert_eq!(config.hub.event_namespace.as_deref(), Some("Acme\\Events"));
    }

    #[test]
    fn short_event_names_are_chosen_by_none_or_an_empty_namespace() {
        for value in ["none", "NONE", "", " "] {
            let config = with(&[("BROADCAST_EVENT_NAMESPACE", value)]).unwrap();
            assert_eq!(config.hub.event_namespace, None, "{value:?}");
        }
    }

    #[test]
    fn production_requires_its_secrets_by_name() {
        let error = with(&[("APP_ENV", "production")]).unwrap_err();
        assert!(error.0.contains("JWT_SECRET"), "{error}");
        let error = with(&[("APP_ENV", "production"), ("JWT_SECRET", "x")]).unwrap_err();
        assert!(error.0.contains("PUSHER_APP_SECRET"), "{error}");
        let error = with(&[
            ("APP_ENV", "production"),
            ("JWT_SECRET", "x"),
            ("PUSHER_APP_SECRET", "p"),
        ])
        .unwrap_err();
        assert!(error.0.contains("EDGE_SIGNING_SECRET"), "{error}");
        assert!(with(&[
            ("APP_ENV", "production"),
            ("JWT_SECRET", "x"),
            ("PUSHER_APP_SECRET", "p"),
            ("EDGE_SIGNING_SECRET", "y")
        ])
        .is_ok());
    }

    #[test]
    fn malformed_numbers_name_the_variable() {
        assert!(with(&[("JWT_TTL", "soon")]).unwrap_err().0.contains("JWT_TTL"));
        assert!(with(&[("API_LISTEN", "nowhere")]).unwrap_err().0.contains("API_LISTEN"));
    }
}
