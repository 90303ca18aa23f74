//! What every request may need, built once at start-up: configuration,
//! the file store, metrics, the access log. The request pipeline above it
//! (`pipeline.rs`) adds `App::handle`.

use crate::access_log::AccessLog;
use crate::body::DiskReads;
use crate::config::{Config, IoMode};
use crate::headers::{CorsHeaders, MediaHeaders};
use crate::metrics::Metrics;
use crate::store::FileStore;
use http::header::HeaderValue;
use std::io;
use std::sync::Arc;

/// Everything a request may need, built once at start-up.
pub struct App {
    config: Config,
    store: Arc<FileStore>,
    metrics: Arc<Metrics>,
    access_log: Option<Arc<AccessLog>>,
    extensions: Vec<Box<[u8]>>,
    pub(crate) cors: Option<CorsHeaders>,
    pub(crate) disk_reads: DiskReads,
}

impl App {
    pub fn new(mut config: Config) -> io::Result<Self> {
        let disk_reads = disk_reads(&mut config);
        let cache_control = HeaderValue::from_str(&config.cache_control)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "Cache-Control value is not a valid header"))?;
        let cors = config.cors.then(CorsHeaders::default);
        let store = Arc::new(FileStore::new(
            &config,
            MediaHeaders {
                cache_control,
                cors: cors.clone(),
            },
        )?);
        let access_log = match &config.access_log {
            Some(path) => Some(Arc::new(AccessLog::open(path).map_err(|e| {
                io::Error::new(e.kind(), format!("access log {}: {e}", path.display()))
            })?)),
            None => None,
        };
        Ok(Self {
            extensions: config.extensions.iter().map(|e| e.trim().as_bytes().into()).collect(),
            cors,
            store,
            metrics: Arc::default(),
            access_log,
            disk_reads,
            config,
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    pub(crate) fn access_log(&self) -> Option<&Arc<AccessLog>> {
        self.access_log.as_ref()
    }

    /// Whether files with this extension are served (case-insensitive, no allocation).
    pub(crate) fn serves_extension(&self, extension: &[u8]) -> bool {
        self.extensions
            .iter()
            .any(|allowed| allowed.eq_ignore_ascii_case(extension))
    }

    pub(crate) fn store(&self) -> &Arc<FileStore> {
        &self.store
    }
}

/// Starts the io_uring reader when asked for, falling back to blocking reads
/// (and saying so) where the kernel or a sandbox refuses io_uring.
fn disk_reads(config: &mut Config) -> DiskReads {
    if config.io != IoMode::Uring {
        return DiskReads::Blocking;
    }
    match crate::uring::UringReader::start() {
        Ok(ring) => DiskReads::Uring(Arc::new(ring)),
        Err(error) => {
            tracing::warn!(%error, "io_uring unavailable; using buffered reads");
            config.io = IoMode::Buffered;
            DiskReads::Blocking
        }
    }
}
