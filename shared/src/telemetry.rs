//! Logging set-up shared by both binaries: `RUST_LOG` decides, `info` otherwise.

use tracing_subscriber::EnvFilter;

/// Installs a formatting subscriber on stderr. Safe to call twice (the second call is a no-op).
pub fn init(default_directive: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_directive));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
