//! The request pipeline: parse the path once, route, answer, account.

use crate::access_log::AccessRecord;
use crate::app::App;
use crate::body::EdgeBody;
use crate::path::{CleanPath, PathError};
use crate::response;
use crate::{media, status};
use http::header::{HeaderValue, REFERER, USER_AGENT};
use http::{Method, Request, Response, StatusCode};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

impl App {
    /// Answers one request; never fails (every error is a response).
    pub async fn handle<B>(&self, request: Request<B>, peer: SocketAddr) -> Response<EdgeBody> {
        let started = Instant::now();
        let mut response = self.route(&request).await;
        let status = response.status();
        self.metrics().observe(status.as_u16(), started.elapsed());
        let record = self
            .access_log()
            .map(|log| (Arc::clone(log), Box::new(record(&request, peer, status))));
        response.body_mut().report_to(Arc::clone(self.metrics()), record);
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
            _ => match path.strip_prefix(self.config().prefix.as_bytes()) {
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
