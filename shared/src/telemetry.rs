//! Logging set-up shared by both binaries: `RUST_LOG` decides, `info` otherwise.

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

/// A layer that watches events of its own beside the log (it filters them itself).
pub type Watcher = Box<dyn Layer<Registry> + Send + Sync>;

/// Installs a formatting subscriber on stderr. Safe to call twice (the second call is a no-op).
pub fn init(default_directive: &str) {
    init_with(default_directive, None);
}

/// The same, with `watcher` seeing the events it enables, whatever `RUST_LOG`
/// lets through to the log.
pub fn init_with(default_directive: &str, watcher: Option<Watcher>) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_directive));
    let log = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(filter);
    let _ = tracing_subscriber::registry().with(watcher).with(log).try_init();
}
