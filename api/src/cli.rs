//! The command line: `spotik-api [serve|migrate|seed|openapi] [--flag value …]`.
//!
//! Every setting is an environment variable (the twelve-factor way the
//! deployments use) and, for a person at a terminal, a flag of the same name
//! in lower case with dashes (`DATABASE_URL` → `--database-url`; `API_LISTEN`
//! is `--listen`). A flag wins over the environment. `--help` lists them all.

use crate::config::{Config, ConfigError};
use clap::{Arg, ArgAction, ArgMatches, Command};
use std::ffi::OsString;
use std::path::PathBuf;

/// What the process is asked to do.
#[derive(Debug)]
pub enum Task {
    /// Apply migrations with this configuration, then do the job.
    Run(Job, Box<Config>),
    /// Print the OpenAPI document and exit: no configuration, database or Redis.
    Openapi,
    /// Probe an upload, as the server's limited child (`files::probe`):
    /// nothing else of the server starts.
    ProbeFile(PathBuf),
}

/// What follows the migrations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Job {
    /// Serve (the default).
    Serve,
    /// Exit.
    Migrate,
    /// Add the demo data if absent, and exit.
    Seed,
}

/// Every setting: its environment variable and what it does.
const SETTINGS: &[(&str, &str)] = &[
    ("API_LISTEN", "address to listen on [default: 127.0.0.1:8000]"),
    (
        "DATABASE_URL",
        "PostgreSQL [default: postgres://postgres@127.0.0.1:5432/spotik]",
    ),
    (
        "REDIS_URL",
        "Redis for the cache and the bus between replicas [default: redis://127.0.0.1:6379]",
    ),
    (
        "REDIS_CLUSTER_URLS",
        "comma-separated nodes of a Redis Cluster, used instead of REDIS_URL: caches by key, room events on sharded channels (SPUBLISH/SSUBSCRIBE) [default: none]",
    ),
    ("REDIS_PREFIX", "prefix of every Redis key [default: spotik:]"),
    ("APP_ENV", "`production` refuses development secrets"),
    ("JWT_SECRET", "secret signing access tokens"),
    ("JWT_TTL", "access token lifetime, minutes [default: 60]"),
    ("JWT_REFRESH_TTL", "refresh window, minutes [default: 20160]"),
    (
        "MEDIA_ROOT",
        "directory of the audio files, served by spotik-edge [default: media]",
    ),
    (
        "API_PUBLIC_URL",
        "the API's origin as browsers reach it, before the cover links handed out; empty: relative links [default: http://API_LISTEN]",
    ),
    (
        "EDGE_PUBLIC_URL",
        "base URL of spotik-edge in the links handed out [default: http://127.0.0.1:8080]",
    ),
    (
        "EDGE_SIGNING_SECRET",
        "secret of the edge's signed links (unset: unsigned)",
    ),
    ("EDGE_LINK_TTL", "lifetime of a signed link, seconds [default: 21600]"),
    (
        "STREAM_MODE",
        "`redirect` to the edge, or `x-accel` for nginx in front [default: redirect]",
    ),
    ("UPLOAD_MAX_BYTES", "largest audio upload [default: 52428800]"),
    ("COVER_MAX_BYTES", "largest cover image [default: 5242880]"),
    ("DB_POOL_MIN", "database connections kept open [default: 1]"),
    ("DB_POOL_MAX", "database connections at most [default: 20]"),
    (
        "DB_POOL_ACQUIRE_TIMEOUT",
        "seconds a request waits for a connection before 503 [default: 5]",
    ),
    (
        "DB_POOL_IDLE_TIMEOUT",
        "seconds an idle connection is kept [default: 600]",
    ),
    ("DB_POOL_MAX_LIFETIME", "seconds a connection lives [default: 1800]"),
    (
        "REQUEST_TIMEOUT",
        "seconds after which any request but an upload answers 503 [default: acquire timeout + 1]",
    ),
    (
        "HEALTH_CHECKS_TIMEOUT",
        "milliseconds each health check may take [default: 2000]",
    ),
    (
        "HTTP_HEADER_TIMEOUT",
        "seconds for a request head to arrive, and idle keep-alive [default: 10]",
    ),
    (
        "HTTP_MAX_HEADER_BYTES",
        "largest request head, 431 beyond [default: 16384]",
    ),
    (
        "HTTP_SLOW_REQUEST_THRESHOLD",
        "milliseconds after which a request is logged as slow [default: 2000]",
    ),
    (
        "MONITORING_ENABLED",
        "`false` turns request and query monitoring and /api/metrics off [default: true]",
    ),
    (
        "DB_MONITORING_ENABLED",
        "`false` stops timing database statements [default: true]",
    ),
    (
        "DB_SLOW_QUERY_THRESHOLD",
        "milliseconds after which a statement is logged as slow [default: 1000]",
    ),
    (
        "DASHBOARD_TOKEN",
        "token that opens /dashboard (?token=…); without it or DASHBOARD_ADMINS the dashboard is open in development and closed in production",
    ),
    (
        "DASHBOARD_ADMINS",
        "comma-separated emails of accounts that may open /dashboard with their login",
    ),
    (
        "EDGE_WARM_URLS",
        "comma-separated base URLs of the edges as the API reaches them, asked for the next track's first range when a track starts; none turns it off [default: EDGE_PUBLIC_URL]",
    ),
    (
        "EDGE_METRICS_URLS",
        "comma-separated /metrics URLs of the edges the dashboard shows [default: EDGE_PUBLIC_URL/metrics]",
    ),
    (
        "SYNC_REPORT_INTERVAL_MS",
        "how often one participant may send a room's sync report [default: 5000]",
    ),
    (
        "HTTP_MONITORING_ENABLED",
        "`false` stops timing and counting requests [default: true]",
    ),
    (
        "METRICS_ENABLED",
        "`false` answers /api/metrics with 404 [default: true]",
    ),
    (
        "METRICS_RETENTION_DAYS",
        "days the hourly figures stay in Redis [default: 7]",
    ),
    (
        "METRICS_FLUSH_INTERVAL_MS",
        "how often a replica adds its figures to the hourly ones [default: 10000]",
    ),
    (
        "APP_DEBUG",
        "`true` adds X-Execution-Time, X-Memory-Usage and X-Peak-Memory to every answer [default: false]",
    ),
    ("CACHE_TTL_TRACKS", "seconds a cached queue is kept [default: 300]"),
    (
        "ADVANCE_INTERVAL_MS",
        "how often ended tracks are looked for [default: 200]",
    ),
    (
        "LOGIN_LIMIT_PER_IP",
        "failed logins per address per window [default: 30]",
    ),
    (
        "LOGIN_LIMIT_PER_ACCOUNT",
        "failed logins per account per window [default: 10]",
    ),
    (
        "LOGIN_LIMIT_WINDOW",
        "seconds of the login limit's window [default: 900]",
    ),
    ("ARGON2_MEMORY_KIB", "memory of one password hash [default: 19456]"),
    (
        "MAX_CONNECTIONS",
        "client connections open at most [default: the open-file limit less the pool and 96]",
    ),
    (
        "WS_MAX_CONNECTIONS",
        "WebSockets open at most [default: MAX_CONNECTIONS less room for plain requests]",
    ),
    ("WS_MAX_PER_CLIENT", "WebSockets one client address may hold [default: 256]"),
    (
        "WS_SUBSCRIBE_TIMEOUT",
        "seconds a Pusher socket may hold no channel before it is closed [default: 120]",
    ),
    (
        "BROADCAST_AUTH_WAIT_MS",
        "how long a room channel's authorisation waits for the caller's own join, in flight [default: 3000]",
    ),
    (
        "HTTP_BODY_IDLE_TIMEOUT",
        "seconds a request body may pause between two chunks [default: 15]",
    ),
    ("UPLOAD_TIMEOUT", "seconds a whole upload may take [default: 600]"),
    (
        "UPLOADS_PER_USER",
        "uploads one user may have in progress at once, 429 beyond [default: 2]",
    ),
    (
        "UPLOADS_IN_PROGRESS",
        "uploads in progress on this replica, 503 beyond [default: 64]",
    ),
    ("ROOMS_PER_USER", "rooms one user may administer [default: 20]"),
    ("PLAYLISTS_PER_USER", "playlists one user may own [default: 200]"),
    (
        "REGISTER_LIMIT_PER_IP",
        "accounts one client address may register per window, 429 beyond [default: 10]",
    ),
    (
        "REGISTER_LIMIT_WINDOW",
        "seconds of the registration window [default: 3600]",
    ),
    (
        "MAX_CONNECTIONS_PER_CLIENT",
        "connections one client address may hold open (trusted proxies excepted) [default: 320]",
    ),
    (
        "PASSWORD_HASH_MEMORY_MIB",
        "memory all password hashes at once may hold; sets how many run at once [default: 128]",
    ),
    (
        "PASSWORD_HASH_WAIT_MS",
        "how long a login waits for a free hash before a 503 [default: 2000]",
    ),
    (
        "TRUSTED_PROXIES",
        "comma-separated proxy addresses/ranges whose X-Forwarded-For is believed [default: none]",
    ),
    (
        "PROBE_PROGRAM",
        "binary run as `<it> probe-file <path>` to probe an upload, or `inline` (tests only) [default: this one]",
    ),
    ("PROBE_MEMORY_MIB", "address space of one upload probe, MiB [default: 512]"),
    ("PROBE_CPU_SECONDS", "CPU seconds of one upload probe [default: 20]"),
    ("PROBE_TIMEOUT", "seconds one upload probe may take [default: 30]"),
    ("PROBE_CONCURRENCY", "upload probes running at once [default: 2]"),
    (
        "CORS_ALLOWED_ORIGINS",
        "comma-separated origins allowed to call the API [default: the front end's dev servers]",
    ),
    ("FRONTEND_URL", "the front end's origin, added to the allowed ones"),
    ("PUSHER_APP_ID", "Pusher application id [default: spotik]"),
    ("PUSHER_APP_KEY", "Pusher application key [default: spotik-key]"),
    ("PUSHER_APP_SECRET", "Pusher application secret"),
    (
        "BROADCAST_EVENT_NAMESPACE",
        "laravel-echo namespace of Pusher event names; none sends short names (user.joined) [default: App\\Events]",
    ),
    (
        "WS_ACTIVITY_TIMEOUT",
        "seconds of silence before a WebSocket is pinged [default: 120]",
    ),
    (
        "WS_PONG_TIMEOUT",
        "seconds a pinged WebSocket has to answer [default: 30]",
    ),
    ("WS_MAX_MESSAGE_BYTES", "largest client message [default: 10000]"),
    (
        "WS_CLIENT_BUFFER",
        "frames queued for a client before it is judged too slow [default: 256]",
    ),
    (
        "WS_WRITE_TIMEOUT",
        "seconds one write to a client may take [default: 10]",
    ),
    (
        "WS_CATCH_UP_DELAY_MS",
        "how long after joining a listener is told the room's playback [default: 750]",
    ),
];

/// `API_LISTEN` → `listen`, `DATABASE_URL` → `database-url`. Leaked: clap
/// keeps `'static` names, and the command is built once per process.
fn flag(variable: &str) -> &'static str {
    match variable {
        "API_LISTEN" => "listen",
        other => Box::leak(other.to_ascii_lowercase().replace('_', "-").into_boxed_str()),
    }
}

fn command() -> Command {
    let mut command = Command::new("spotik-api")
        .about("Spotik's REST API, WebSocket hub and background work, over PostgreSQL and Redis")
        .after_help(
            "Every flag can be given as the environment variable shown instead; a flag wins. \
             Give secrets in the environment: other users can read a process's flags.",
        )
        .subcommand(Command::new("serve").about("Apply migrations, then serve (the default)"))
        .subcommand(Command::new("migrate").about("Apply migrations and exit"))
        .subcommand(Command::new("seed").about("Apply migrations, add the demo data if absent, and exit"))
        .subcommand(
            Command::new("openapi")
                .about("Print the REST API's OpenAPI document (as served at /api/openapi.json) and exit"),
        )
        .subcommand(
            Command::new(crate::files::probe::SUBCOMMAND).hide(true).arg(
                Arg::new("path")
                    .required(true)
                    .value_parser(clap::value_parser!(PathBuf)),
            ),
        );
    for (variable, help) in SETTINGS {
        command = command.arg(
            Arg::new(*variable)
                .long(flag(variable))
                .env(*variable)
                // Secrets live in the environment: never echo them in --help.
                .hide_env_values(true)
                .value_name("VALUE")
                .help(*help)
                .action(ArgAction::Set)
                .global(true),
        );
    }
    command
}

/// Parses `args` (without the program name) and, for the tasks that need a
/// configuration, the environment.
pub fn parse<T: Into<OsString>>(args: impl IntoIterator<Item = T>) -> Result<Task, String> {
    let matches = command()
        .try_get_matches_from(std::iter::once(OsString::from("spotik-api")).chain(args.into_iter().map(Into::into)))
        .map_err(|error| error.render().to_string())?;
    let job = match matches.subcommand() {
        Some(("openapi", _)) => return Ok(Task::Openapi),
        Some((name, sub)) if name == crate::files::probe::SUBCOMMAND => {
            return Ok(Task::ProbeFile(
                sub.get_one::<PathBuf>("path").cloned().unwrap_or_default(),
            ));
        }
        Some(("migrate", _)) => Job::Migrate,
        Some(("seed", _)) => Job::Seed,
        _ => Job::Serve,
    };
    let config = configure(&matches).map_err(|error| format!("spotik-api: {error}"))?;
    Ok(Task::Run(job, Box::new(config)))
}

fn configure(matches: &ArgMatches) -> Result<Config, ConfigError> {
    // Subcommands see the global flags in their own matches.
    let scope = matches.subcommand().map_or(matches, |(_, sub)| sub);
    // A variable without a flag (the test below keeps that from happening)
    // still comes from the environment rather than stopping the process.
    Config::from_lookup(|name| match scope.try_get_one::<String>(name) {
        Ok(value) => value.cloned(),
        Err(_) => std::env::var(name).ok(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn the_command_line_is_well_formed() {
        command().debug_assert();
    }

    #[test]
    fn flags_set_what_the_environment_would() {
        let Ok(Task::Run(Job::Serve, config)) =
            parse(args(&["--listen", "127.0.0.1:9999", "--upload-max-bytes", "1024"]))
        else {
            panic!("no flags or subcommand: serve");
        };
        assert_eq!(config.listen.to_string(), "127.0.0.1:9999");
        assert_eq!(config.upload_max_bytes, 1024);
        let Ok(Task::Run(Job::Migrate, config)) =
            parse(args(&["migrate", "--database-url", "postgres://x@127.0.0.1/y"]))
        else {
            panic!("migrate");
        };
        assert_eq!(config.database_url, "postgres://x@127.0.0.1/y");
        assert!(matches!(parse(args(&["seed"])), Ok(Task::Run(Job::Seed, _))));
    }

    /// The tasks without a configuration never read one: a setting the
    /// server would refuse does not stop them.
    #[test]
    fn the_document_and_the_probe_need_no_configuration() {
        assert!(matches!(
            parse(args(&["openapi", "--listen", "nowhere"])),
            Ok(Task::Openapi)
        ));
        let Ok(Task::ProbeFile(path)) = parse(args(&["probe-file", "/tmp/x.part", "--listen", "nowhere"])) else {
            panic!("probe-file");
        };
        assert_eq!(path, PathBuf::from("/tmp/x.part"));
        assert!(parse(args(&["probe-file"])).is_err(), "the probe needs its file");
    }

    #[test]
    fn bad_input_is_refused_with_a_reason() {
        let error = parse(args(&["--listen", "nowhere"])).unwrap_err();
        assert!(error.contains("API_LISTEN"), "{error}");
        let error = parse(args(&["--no-such-flag", "1"])).unwrap_err();
        assert!(error.contains("--no-such-flag"), "{error}");
        let error = parse(args(&["launch"])).unwrap_err();
        assert!(error.contains("launch"), "{error}");
    }

    /// The reference a user reads (`docs/configuration.md`) names every
    /// setting `--help` lists, and nothing `--help` does not.
    #[test]
    fn the_configuration_reference_names_exactly_the_settings() {
        let reference = include_str!("../../docs/configuration.md");
        let api = &reference[..reference.find("## spotik-edge").unwrap_or(reference.len())];
        let known: Vec<&str> = SETTINGS.iter().map(|(v, _)| *v).collect();
        for variable in &known {
            assert!(
                api.contains(&format!("`{variable}`")),
                "{variable} is not in docs/configuration.md"
            );
        }
        for quoted in api.split('`').skip(1).step_by(2) {
            let is_setting = quoted.len() > 3
                && quoted.contains('_')
                && quoted
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
            if is_setting && quoted != "RUST_LOG" {
                assert!(
                    known.contains(&quoted),
                    "docs/configuration.md names {quoted}, which --help does not"
                );
            }
        }
    }

    #[test]
    fn every_setting_the_configuration_reads_has_a_flag() {
        let source = include_str!("config.rs");
        let known: Vec<&str> = SETTINGS.iter().map(|(v, _)| *v).collect();
        let mut rest = source;
        while let Some(at) = rest.find('"') {
            rest = &rest[at + 1..];
            let Some(end) = rest.find('"') else { break };
            let word = &rest[..end];
            rest = &rest[end + 1..];
            let is_variable = word.len() > 3
                && word
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
                && word.contains('_');
            if is_variable {
                assert!(known.contains(&word), "{word} has no flag");
            }
        }
    }
}
