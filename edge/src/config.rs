//! Edge configuration: every setting is a CLI flag and an environment variable.

use crate::mime::DEFAULT_EXTENSIONS;
use clap::{Parser, ValueEnum};
use spotik_shared::etag::EtagFormat;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// How bytes of files larger than the small-file limit reach the socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IoMode {
    /// Map the file and send zero-copy slices of the mapping.
    Mmap,
    /// `pread` 64 KiB at a time on the blocking pool.
    Buffered,
    /// Read 64 KiB at a time through io_uring (tokio-uring); falls back to
    /// `buffered` where io_uring is unavailable.
    Uring,
}

#[derive(Clone, Debug, Parser)]
#[command(
    name = "spotik-edge",
    version,
    about = "Serves audio files with ranges, validators and signed links"
)]
pub struct Config {
    /// Directory of media files to serve.
    #[arg(long, env = "EDGE_ROOT", default_value = "media")]
    pub root: PathBuf,

    /// Address to listen on.
    #[arg(long, env = "EDGE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// URL prefix under which media files are served.
    #[arg(long, env = "EDGE_PREFIX", default_value = "/audio", value_parser = parse_prefix)]
    pub prefix: String,

    /// ETag format: `md5` (the original backend's) or `nginx`.
    #[arg(long, env = "EDGE_ETAG_FORMAT", default_value = "md5", value_parser = parse_etag_format)]
    pub etag_format: EtagFormat,

    /// I/O for files above the small-file limit.
    #[arg(long = "io", env = "EDGE_IO", value_enum, default_value = "mmap")]
    pub io: IoMode,

    /// Files up to this size are kept whole in memory (suffixes K, M, G).
    #[arg(long, env = "EDGE_SMALL_FILE_MAX", default_value = "10M", value_parser = parse_size)]
    pub small_file_max: u64,

    /// Memory budget of the small-file cache (suffixes K, M, G).
    #[arg(long, env = "EDGE_CACHE_BYTES", default_value = "256M", value_parser = parse_size)]
    pub cache_bytes: u64,

    /// Bytes from the start of a file the kernel is asked to read ahead
    /// (`posix_fadvise(POSIX_FADV_WILLNEED)`, asynchronous) when the edge
    /// opens it; 0 asks nothing. Suffixes K, M, G.
    #[arg(long, env = "EDGE_READAHEAD", default_value = "0", value_parser = parse_size)]
    pub readahead: u64,

    /// Number of files whose metadata is kept.
    #[arg(long, env = "EDGE_META_ENTRIES", default_value_t = 10_000)]
    pub meta_entries: usize,

    /// Seconds after which cached metadata is checked against the disk again.
    #[arg(long, env = "EDGE_META_VALID", default_value = "60", value_parser = parse_secs)]
    pub meta_valid: Duration,

    /// Seconds after which cached metadata is dropped whatever the disk says.
    #[arg(long, env = "EDGE_META_TTL", default_value = "3600", value_parser = parse_secs)]
    pub meta_ttl: Duration,

    /// Secret for nginx `secure_link` signed URLs; unset serves without signatures.
    #[arg(long, env = "EDGE_SIGNING_SECRET", hide_env_values = true)]
    pub signing_secret: Option<String>,

    /// `Cache-Control` of media responses.
    #[arg(long, env = "EDGE_CACHE_CONTROL", default_value = "public, max-age=3600, immutable")]
    pub cache_control: String,

    /// Send CORS headers and answer preflights.
    #[arg(long, env = "EDGE_CORS", default_value_t = true, action = clap::ArgAction::Set)]
    pub cors: bool,

    /// Comma-separated extensions that are served; others are 404.
    #[arg(long, env = "EDGE_EXTENSIONS", default_value = DEFAULT_EXTENSIONS, value_delimiter = ',')]
    pub extensions: Vec<String>,

    /// Most ranges honoured in one request; more get the whole file (nginx `max_ranges`).
    #[arg(long, env = "EDGE_MAX_RANGES", default_value_t = 16)]
    pub max_ranges: usize,

    /// Seconds a client has to send a request's headers.
    #[arg(long, env = "EDGE_HEADER_TIMEOUT", default_value = "10", value_parser = parse_secs)]
    pub header_timeout: Duration,

    /// Seconds a connection may make no progress (idle keep-alive, stalled reader).
    #[arg(long, env = "EDGE_IDLE_TIMEOUT", default_value = "60", value_parser = parse_secs)]
    pub idle_timeout: Duration,

    /// Largest request head accepted (bytes); larger ones get 431.
    #[arg(long, env = "EDGE_MAX_HEADER_BYTES", default_value = "16K", value_parser = parse_size)]
    pub max_header_bytes: u64,

    /// Most connections open at once; further clients wait in the listen backlog.
    #[arg(long, env = "EDGE_MAX_CONNECTIONS", default_value_t = 20_000)]
    pub max_connections: usize,

    /// Each connection's kernel send buffer (`SO_SNDBUF`; 0 leaves the
    /// kernel's autotuning, up to 4 MiB a connection). What the edge copies
    /// ahead of a client that stops reading, and kernel memory a slow or
    /// hostile client can pin; 256 KiB still carries 20 Mbit/s at 100 ms.
    #[arg(long, env = "EDGE_SEND_BUFFER", default_value = "256K", value_parser = parse_size)]
    pub send_buffer: u64,

    /// Send bodies cut from a whole file in memory (the small-file cache or
    /// the mapping) with `sendfile(2)` on HTTP/1.1, without copying them
    /// into the socket (bodies of 128 KiB and more).
    #[arg(long, env = "EDGE_SENDFILE", default_value_t = true, action = clap::ArgAction::Set)]
    pub sendfile: bool,

    /// Seconds in-flight responses get to finish after SIGTERM/SIGINT.
    #[arg(long, env = "EDGE_SHUTDOWN_GRACE", default_value = "10", value_parser = parse_secs)]
    pub shutdown_grace: Duration,

    /// Write an nginx `combined` access log to this file (`-` for stdout).
    #[arg(long, env = "EDGE_ACCESS_LOG")]
    pub access_log: Option<PathBuf>,

    /// Milliseconds the storage check of `/health` may take before it fails.
    #[arg(long, env = "HEALTH_CHECKS_TIMEOUT", default_value_t = 5000)]
    pub health_checks_timeout_ms: u64,

    /// Runtime worker threads (default: one per CPU).
    #[arg(long, env = "EDGE_WORKERS")]
    pub workers: Option<usize>,
}

impl Config {
    /// Defaults for serving `root`, as `spotik-edge --root DIR` would.
    pub fn for_root(root: impl Into<PathBuf>) -> Self {
        let mut config = Self::parse_from(["spotik-edge"]);
        config.root = root.into();
        config
    }
}

fn parse_prefix(raw: &str) -> Result<String, String> {
    let trimmed = raw.trim_end_matches('/');
    if !trimmed.starts_with('/') {
        return Err("the prefix must start with '/'".into());
    }
    Ok(trimmed.to_owned())
}

fn parse_etag_format(raw: &str) -> Result<EtagFormat, String> {
    raw.parse()
}

fn parse_secs(raw: &str) -> Result<Duration, String> {
    raw.trim_end_matches('s')
        .parse::<u64>()
        .map(Duration::from_secs)
        .map_err(|_| format!("{raw:?} is not a number of seconds"))
}

/// Bytes with an optional binary suffix: `65536`, `64K`, `10M`, `1G`.
pub fn parse_size(raw: &str) -> Result<u64, String> {
    let raw = raw.trim();
    let (digits, shift) = match raw.as_bytes().last().map(u8::to_ascii_uppercase) {
        Some(b'K') => (&raw[..raw.len() - 1], 10),
        Some(b'M') => (&raw[..raw.len() - 1], 20),
        Some(b'G') => (&raw[..raw.len() - 1], 30),
        _ => (raw, 0),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .ok_or_else(|| format!("{raw:?} is not a size (e.g. 65536, 64K, 10M)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_binary_suffixes() {
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("64k"), Ok(65536));
        assert_eq!(parse_size("10M"), Ok(10 << 20));
        assert!(parse_size("ten").is_err());
        assert!(parse_size("99999999999G").is_err());
    }

    #[test]
    fn defaults_run_with_no_set_up() {
        let config = Config::for_root("/srv/media");
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.prefix, "/audio");
        assert_eq!(config.small_file_max, 10 << 20);
        assert_eq!(config.meta_valid, Duration::from_secs(60));
        assert!(config.cors);
        assert!(config.extensions.iter().any(|e| e == "opus"));
    }

    #[test]
    fn flags_override_defaults() {
        let config = Config::parse_from([
            "spotik-edge",
            "--root",
            "x",
            "--etag-format",
            "nginx",
            "--io",
            "buffered",
            "--prefix",
            "/media/",
            "--cors",
            "false",
        ]);
        assert_eq!(config.etag_format, EtagFormat::Nginx);
        assert_eq!(config.io, IoMode::Buffered);
        assert_eq!(config.prefix, "/media");
        assert!(!config.cors);
    }

    /// The configuration table of `edge/README.md` has a row for every
    /// setting, and names none that does not exist.
    #[test]
    fn the_readme_names_exactly_the_settings() {
        use clap::CommandFactory;
        let readme = include_str!("../README.md");
        let table: Vec<&str> = readme.lines().filter(|line| line.starts_with("| `--")).collect();
        let command = Config::command();
        let mut flags = Vec::new();
        for argument in command.get_arguments() {
            let (Some(flag), Some(env)) = (argument.get_long(), argument.get_env()) else {
                continue;
            };
            let row = format!("| `--{flag}` | `{}` |", env.to_string_lossy());
            assert!(
                table.iter().any(|line| line.starts_with(&row)),
                "edge/README.md has no row {row}"
            );
            flags.push(format!("| `--{flag}` |"));
        }
        for line in &table {
            assert!(
                flags.iter().any(|flag| line.starts_with(flag.as_str())),
                "edge/README.md documents a setting that does not exist: {line}"
            );
        }
    }
}
