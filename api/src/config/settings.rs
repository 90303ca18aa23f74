//! Every setting of spotik-api, declared once: its variable, its default
//! and what it sets.

/// One setting: its environment variable (the flag is the same name in lower
/// case with dashes), its default and what it sets. The command line's
/// `--help`, the configuration reference (docs/configuration.md, checked by
/// a test) and [`super::Config::from_lookup`] all read this one table.
pub struct Setting {
    pub name: &'static str,
    pub default: Fallback,
    pub help: &'static str,
}

/// What a setting is when it is not given.
pub enum Fallback {
    /// This value, read as if it had been given.
    Value(&'static str),
    /// Worked out from other settings or the machine, as described.
    Said(&'static str),
}

impl Fallback {
    /// As `--help` and the reference write it.
    pub fn text(&self) -> &'static str {
        match self {
            Self::Value("") => "none",
            Self::Value(text) | Self::Said(text) => text,
        }
    }
}

use Fallback::{Said, Value};

/// Every setting of spotik-api.
pub const SETTINGS: &[Setting] = &[
    Setting {
        name: "API_LISTEN",
        default: Value("127.0.0.1:8000"),
        help: "address to listen on",
    },
    Setting {
        name: "DATABASE_URL",
        default: Value("postgres://postgres@127.0.0.1:5432/spotik"),
        help: "PostgreSQL",
    },
    Setting {
        name: "REDIS_URL",
        default: Value("redis://127.0.0.1:6379"),
        help: "Redis for the cache and the bus between replicas",
    },
    Setting {
        name: "REDIS_CLUSTER_URLS",
        default: Value(""),
        help: "comma-separated nodes of a Redis Cluster (any of them will do), used instead of REDIS_URL: caches by key; each room's events on a sharded channel of their own (SPUBLISH), subscribed (SSUBSCRIBE) only while a replica has listeners of the room; presence, revocations and joins on one classic channel",
    },
    Setting {
        name: "REDIS_PREFIX",
        default: Value("spotik:"),
        help: "prefix of every Redis key",
    },
    Setting {
        name: "APP_ENV",
        default: Value("local"),
        help: "`production` refuses the development secrets: JWT_SECRET, PUSHER_APP_SECRET and EDGE_SIGNING_SECRET must be set",
    },
    Setting {
        name: "JWT_SECRET",
        default: Said("a development secret"),
        help: "secret signing access tokens",
    },
    Setting {
        name: "JWT_TTL",
        default: Value("60"),
        help: "access token lifetime, minutes",
    },
    Setting {
        name: "JWT_REFRESH_TTL",
        default: Value("20160"),
        help: "refresh window, minutes",
    },
    Setting {
        name: "MEDIA_ROOT",
        default: Value("media"),
        help: "directory of the audio files (the directory the edge serves)",
    },
    Setting {
        name: "API_PUBLIC_URL",
        default: Said("http:// + API_LISTEN"),
        help: "the API's origin as browsers reach it (`127.0.0.1` for `0.0.0.0`); cover links are absolute from it, so a front end served from its own origin without an `/api` proxy shows covers; empty: relative links",
    },
    Setting {
        name: "EDGE_PUBLIC_URL",
        default: Value("http://127.0.0.1:8080"),
        help: "base URL of spotik-edge in the links handed out",
    },
    Setting {
        name: "EDGE_SIGNING_SECRET",
        default: Said("unset: links unsigned"),
        help: "secret of the edge's signed links (unset: unsigned)",
    },
    Setting {
        name: "EDGE_LINK_TTL",
        default: Value("21600"),
        help: "lifetime of a signed link, seconds",
    },
    Setting {
        name: "STREAM_MODE",
        default: Value("redirect"),
        help: "`redirect` (302 to the signed edge link), or `x-accel`: `X-Accel-Redirect: /internal-audio/…` for nginx in front (nginx-compat/front)",
    },
    Setting {
        name: "UPLOAD_MAX_BYTES",
        default: Value("52428800"),
        help: "largest audio upload",
    },
    Setting {
        name: "COVER_MAX_BYTES",
        default: Value("5242880"),
        help: "largest cover image (JPEG, PNG or WebP, at most 8192 px a side and 40 megapixels)",
    },
    Setting {
        name: "DB_POOL_MIN",
        default: Value("1"),
        help: "database connections kept open",
    },
    Setting {
        name: "DB_POOL_MAX",
        default: Value("20"),
        help: "database connections at most",
    },
    Setting {
        name: "DB_POOL_ACQUIRE_TIMEOUT",
        default: Value("5"),
        help: "seconds a request waits for a connection before 503",
    },
    Setting {
        name: "DB_POOL_IDLE_TIMEOUT",
        default: Value("600"),
        help: "seconds an idle connection is kept",
    },
    Setting {
        name: "DB_POOL_MAX_LIFETIME",
        default: Value("1800"),
        help: "seconds a connection lives",
    },
    Setting {
        name: "REQUEST_TIMEOUT",
        default: Said("DB_POOL_ACQUIRE_TIMEOUT + 1"),
        help: "seconds after which any request but an upload is answered 503, so one holding a connection when PostgreSQL stops answering cannot hang",
    },
    Setting {
        name: "HEALTH_CHECKS_TIMEOUT",
        default: Value("2000"),
        help: "milliseconds each check of /api/health (database, Redis, storage, side by side) may take, so health answers 503 in time even when PostgreSQL hangs",
    },
    Setting {
        name: "HTTP_HEADER_TIMEOUT",
        default: Value("10"),
        help: "seconds for a request head to arrive whole, and for a kept-alive connection to wait for its next request",
    },
    Setting {
        name: "HTTP_MAX_HEADER_BYTES",
        default: Value("16384"),
        help: "largest request head, 431 beyond",
    },
    Setting {
        name: "HTTP_SLOW_REQUEST_THRESHOLD",
        default: Value("2000"),
        help: "milliseconds after which a request is logged as slow",
    },
    Setting {
        name: "MONITORING_ENABLED",
        default: Value("true"),
        help: "`false` turns all monitoring off: request and query figures and /api/metrics (docs/monitoring.md)",
    },
    Setting {
        name: "DB_MONITORING_ENABLED",
        default: Value("true"),
        help: "`false` stops timing database statements",
    },
    Setting {
        name: "DB_SLOW_QUERY_THRESHOLD",
        default: Value("1000"),
        help: "milliseconds after which a statement is logged as slow",
    },
    Setting {
        name: "DASHBOARD_TOKEN",
        default: Said("unset"),
        help: "token that opens /dashboard?token=…; without it or DASHBOARD_ADMINS the dashboard is open in development and closed in production",
    },
    Setting {
        name: "DASHBOARD_ADMINS",
        default: Value(""),
        help: "comma-separated emails of accounts that may open /dashboard with their login",
    },
    Setting {
        name: "EDGE_WARM_URLS",
        default: Said("EDGE_PUBLIC_URL"),
        help: "comma-separated base URLs of the edges as the API reaches them; when a track starts each is asked for the next track's first range (the players' signed link), so the track change finds it open and, up to the edge's small-file limit, in memory; `none` turns it off",
    },
    Setting {
        name: "EDGE_METRICS_URLS",
        default: Said("EDGE_PUBLIC_URL/metrics"),
        help: "comma-separated /metrics URLs of the edges the dashboard shows",
    },
    Setting {
        name: "SYNC_REPORT_INTERVAL_MS",
        default: Value("5000"),
        help: "how often one participant may send a room's sync report",
    },
    Setting {
        name: "HTTP_MONITORING_ENABLED",
        default: Value("true"),
        help: "`false` stops timing and counting requests",
    },
    Setting {
        name: "METRICS_ENABLED",
        default: Value("true"),
        help: "`false` answers /api/metrics with 404",
    },
    Setting {
        name: "METRICS_RETENTION_DAYS",
        default: Value("7"),
        help: "days the hourly figures stay in Redis",
    },
    Setting {
        name: "METRICS_FLUSH_INTERVAL_MS",
        default: Value("10000"),
        help: "how often a replica adds its figures to the hourly ones",
    },
    Setting {
        name: "APP_DEBUG",
        default: Value("false"),
        help: "`true` adds X-Execution-Time, X-Memory-Usage and X-Peak-Memory to every answer",
    },
    Setting {
        name: "CACHE_TTL_TRACKS",
        default: Value("300"),
        help: "seconds a cached queue is kept",
    },
    Setting {
        name: "ADVANCE_INTERVAL_MS",
        default: Value("200"),
        help: "how often ended tracks are looked for (on each replica; one advances a room, FOR UPDATE SKIP LOCKED)",
    },
    Setting {
        name: "LOGIN_LIMIT_PER_IP",
        default: Value("30"),
        help: "failed logins per address per window",
    },
    Setting {
        name: "LOGIN_LIMIT_PER_ACCOUNT",
        default: Value("10"),
        help: "failed logins per account per window",
    },
    Setting {
        name: "LOGIN_LIMIT_WINDOW",
        default: Value("900"),
        help: "seconds of the login limit's window",
    },
    Setting {
        name: "ARGON2_MEMORY_KIB",
        default: Value("19456"),
        help: "memory of one password hash, KiB",
    },
    Setting {
        name: "MAX_CONNECTIONS",
        default: Said("the open-file limit less the pool and 96"),
        help: "client connections open at most",
    },
    Setting {
        name: "WS_MAX_CONNECTIONS",
        default: Said("MAX_CONNECTIONS less a quarter of it (at most 256 less)"),
        help: "WebSockets open at most",
    },
    Setting {
        name: "WS_MAX_PER_CLIENT",
        default: Value("256"),
        help: "WebSockets one client address may hold",
    },
    Setting {
        name: "WS_SUBSCRIBE_TIMEOUT",
        default: Value("120"),
        help: "seconds a Pusher socket may hold no channel before it is closed (4200)",
    },
    Setting {
        name: "BROADCAST_AUTH_WAIT_MS",
        default: Value("3000"),
        help: "how long /api/broadcasting/auth for a room channel waits for the caller's own join in flight before refusing (docs/realtime.md)",
    },
    Setting {
        name: "HTTP_BODY_IDLE_TIMEOUT",
        default: Value("15"),
        help: "seconds a request body may pause between two chunks (408); a cover being sent waits as long for its reader to take the next 64 KiB",
    },
    Setting {
        name: "UPLOAD_TIMEOUT",
        default: Value("600"),
        help: "seconds a whole upload may take",
    },
    Setting {
        name: "UPLOADS_PER_USER",
        default: Value("2"),
        help: "uploads (tracks and covers) one user may have in progress at once, 429 beyond",
    },
    Setting {
        name: "UPLOADS_IN_PROGRESS",
        default: Value("64"),
        help: "uploads in progress on this replica, 503 beyond",
    },
    Setting {
        name: "ROOMS_PER_USER",
        default: Value("20"),
        help: "rooms one user may administer, 403 beyond until they delete one",
    },
    Setting {
        name: "PLAYLISTS_PER_USER",
        default: Value("200"),
        help: "playlists one user may own, 403 beyond until they delete one",
    },
    Setting {
        name: "REGISTER_LIMIT_PER_IP",
        default: Value("10"),
        help: "accounts one client address may register per window, 429 + Retry-After beyond",
    },
    Setting {
        name: "REGISTER_LIMIT_WINDOW",
        default: Value("3600"),
        help: "seconds of the registration window",
    },
    Setting {
        name: "MAX_CONNECTIONS_PER_CLIENT",
        default: Value("320"),
        help: "connections one client address may hold open (trusted proxies excepted); at MAX_CONNECTIONS the connection idle longest between two requests is closed to let a newcomer in",
    },
    Setting {
        name: "PASSWORD_HASH_MEMORY_MIB",
        default: Value("128"),
        help: "memory all password hashes at once may hold; sets how many run at once",
    },
    Setting {
        name: "PASSWORD_HASH_WAIT_MS",
        default: Value("2000"),
        help: "how long a login waits for a free hash before 503 + Retry-After",
    },
    Setting {
        name: "TRUSTED_PROXIES",
        default: Value(""),
        help: "comma-separated addresses and CIDR ranges of proxies whose X-Forwarded-For / X-Real-IP is believed (SECURITY.md)",
    },
    Setting {
        name: "PROBE_PROGRAM",
        default: Said("this binary"),
        help: "binary run as `<it> probe-file <path>` to probe each upload in a child process with the limits below, or `inline` (tests only)",
    },
    Setting {
        name: "PROBE_MEMORY_MIB",
        default: Value("512"),
        help: "address space of one upload probe, MiB",
    },
    Setting {
        name: "PROBE_CPU_SECONDS",
        default: Value("20"),
        help: "CPU seconds of one upload probe",
    },
    Setting {
        name: "PROBE_TIMEOUT",
        default: Value("30"),
        help: "seconds one upload probe may take",
    },
    Setting {
        name: "PROBE_CONCURRENCY",
        default: Value("2"),
        help: "upload probes running at once",
    },
    Setting {
        name: "CORS_ALLOWED_ORIGINS",
        default: Said("the front end's development origins: http://localhost:3000, http://127.0.0.1:3000 and Vite's :5173"),
        help: "comma-separated origins allowed to call the API and open its sockets, replacing the default ones; `*` is refused",
    },
    Setting {
        name: "FRONTEND_URL",
        default: Said("unset"),
        help: "the front end's origin, added to the allowed ones",
    },
    Setting {
        name: "PUSHER_APP_ID",
        default: Value("spotik"),
        help: "Pusher application id",
    },
    Setting {
        name: "PUSHER_APP_KEY",
        default: Value("spotik-key"),
        help: "Pusher application key",
    },
    Setting {
        name: "PUSHER_APP_SECRET",
        default: Value("spotik-secret"),
        help: "Pusher application secret",
    },
    Setting {
        name: "BROADCAST_EVENT_NAMESPACE",
        default: Said("App\\Events"),
        help: "laravel-echo namespace of Pusher event names: `App\\Events\\user\\joined` is what the front end's .listen('user.joined') waits for; `none` sends short names (user.joined) to plain pusher-js clients; native /ws always uses its own",
    },
    Setting {
        name: "WS_ACTIVITY_TIMEOUT",
        default: Value("120"),
        help: "seconds of silence before a WebSocket is pinged",
    },
    Setting {
        name: "WS_PONG_TIMEOUT",
        default: Value("30"),
        help: "seconds a pinged WebSocket has to answer",
    },
    Setting {
        name: "WS_MAX_MESSAGE_BYTES",
        default: Value("10000"),
        help: "largest client message; larger ones close the socket with 1009",
    },
    Setting {
        name: "WS_CLIENT_BUFFER",
        default: Value("256"),
        help: "frames queued for a client before it is judged too slow",
    },
    Setting {
        name: "WS_WRITE_TIMEOUT",
        default: Value("10"),
        help: "seconds one write to a client may take",
    },
    Setting {
        name: "WS_CATCH_UP_DELAY_MS",
        default: Value("750"),
        help: "how long after joining a room a listener is told its playback (the front end's player must have mounted)",
    },
];

/// The value `name` takes when it is not given: its declared [`Fallback::Value`],
/// else empty (a setting worked out in [`super::Config::from_lookup`] reads none).
pub(super) fn default_of(name: &str) -> &'static str {
    match SETTINGS
        .iter()
        .find(|setting| setting.name == name)
        .map(|setting| &setting.default)
    {
        Some(Value(value)) => value,
        _ => "",
    }
}
