//! The request pipeline: parse the path once, route, answer, account.

use crate::access_log::{AccessLog, AccessRecord};
use crate::body::{DiskReads, EdgeBody};
use crate::config::{Config, IoMode};
use crate::headers::{CorsHeaders, MediaHeaders};
use crate::metrics::Metrics;
use crate::path::{CleanPath, PathError};
use crate::response;
use crate::store::FileStore;
use crate::{media, status};
use http::header::{HeaderValue, REFERER, USER_AGENT};
use http::{Method, Request, Response, StatusCode};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

/// Everything a request may need, built once at start-up.
pub struct App {
    config: Config,
    pub(crate) store: Arc<FileStore>,
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

    pub fn metrics(&self) -> Arc<Metrics> {
        Arc::clone(&self.metrics)
    }

    /// Whether files with this extension are served (case-insensitive, no allocation).
    pub(crate) fn serves_extension(&self, extension: &[u8]) -> bool {
        self.extensions
            .iter()
            .any(|allowed| allowed.eq_ignore_ascii_case(extension))
    }

    pub(crate) fn store(&self) -> &FileStore {
        &self.store
    }

    /// Answers one request; never fails (every error is a response).
    pub async fn handle<B>(&self, request: Request<B>, peer: SocketAddr) -> Response<EdgeBody> {
        let started = Instant::now();
        let mut response = self.route(&request).await;
        let status = response.status();
        self.metrics.observe(status.as_u16(), started.elapsed());
        let record = self
            .access_log
            .as_ref()
            .map(|log| (Arc::clone(log), Box::new(record(&request, peer, status))));
        response.body_mut().report_to(self.metrics(), record);
        response
    }

    async fn route<B>(&self, request: &Request<B>) -> Response<EdgeBody> {
        if !host_is_valid(request) {
            return response::error(StatusCode::BAD_REQUEST);
        }
        let path = match CleanPath::parse(request.uri().path()) {
            Ok(path) => path,
            Err(PathError::BadRequest) => return response::error(StatusCode::BAD_REQUEST),
            Err(PathError::NotFound) => return response::error(StatusCode::NOT_FOUND),
        };
        let method = request.method();
        if method == Method::OPTIONS {
            return response::preflight(self.cors.as_ref());
        }
        if method != Method::GET && method != Method::HEAD {
            return response::method_not_allowed();
        }
        let head = method == Method::HEAD;
        match path.as_bytes() {
            b"/ping" => status::ping(head),
            b"/health" => status::health(self, head).await,
            b"/metrics" => status::metrics(self, head),
            _ => match path.strip_prefix(self.config.prefix.as_bytes()) {
                Some(relative) => media::serve(self, request, &path, relative).await,
                None => response::error(StatusCode::NOT_FOUND),
            },
        }
    }
}

/// RFC 9112 §3.2: an HTTP/1.1 request carries exactly one `Host` (an
/// absolute-form target names its host itself); anything else is a 400, as
/// nginx answers. HTTP/1.0 clients may leave it out.
fn host_is_valid<B>(request: &Request<B>) -> bool {
    let mut hosts = request.headers().get_all(http::header::HOST).iter();
    match (hosts.next(), hosts.next()) {
        (_, Some(_)) => false,
        (Some(_), None) => true,
        (None, None) => request.version() != http::Version::HTTP_11 || request.uri().authority().is_some(),
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

fn record<B>(request: &Request<B>, peer: SocketAddr, status: StatusCode) -> AccessRecord {
    let header = |name| {
        request
            .headers()
            .get(name)
            .map(|v: &HeaderValue| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    let target = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
    AccessRecord {
        remote: peer.ip(),
        time: SystemTime::now(),
        request_line: format!("{} {target} {:?}", request.method(), request.version()),
        status: status.as_u16(),
        referer: header(REFERER),
        user_agent: header(USER_AGENT),
    }
}
