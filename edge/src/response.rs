//! Response building blocks shared by every route.

use crate::body::EdgeBody;
use crate::headers::CorsHeaders;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Response, StatusCode};

pub const ALLOW: HeaderValue = HeaderValue::from_static("GET, HEAD, OPTIONS");

/// `OPTIONS`: a CORS preflight answer (or just `Allow` when CORS is off).
pub fn preflight(cors: Option<&CorsHeaders>) -> Response<EdgeBody> {
    let mut response = with_status(StatusCode::NO_CONTENT, EdgeBody::empty());
    let headers = response.headers_mut();
    headers.insert(header::ALLOW, ALLOW);
    if let Some(cors) = cors {
        cors.apply(headers);
        headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, ALLOW);
        headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, cors.allow_headers.clone());
        headers.insert(header::ACCESS_CONTROL_MAX_AGE, cors.max_age.clone());
    }
    response
}

pub fn method_not_allowed() -> Response<EdgeBody> {
    let mut response = error(StatusCode::METHOD_NOT_ALLOWED);
    response.headers_mut().insert(header::ALLOW, ALLOW);
    response
}

/// A short plain-text error whose body names the status.
pub fn error(status: StatusCode) -> Response<EdgeBody> {
    content(status, "text/plain; charset=utf-8", format!("{status}\n"), false)
}

pub fn with_status(status: StatusCode, body: EdgeBody) -> Response<EdgeBody> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
}

/// A complete in-memory answer; for HEAD, the same headers and no body.
pub fn content(
    status: StatusCode,
    content_type: &'static str,
    text: impl Into<bytes::Bytes>,
    head: bool,
) -> Response<EdgeBody> {
    let bytes = text.into();
    let len = bytes.len() as u64;
    let body = if head {
        EdgeBody::empty()
    } else {
        EdgeBody::memory(bytes)
    };
    let mut response = with_status(status, body);
    set_text(response.headers_mut(), content_type, len);
    response
}

fn set_text(headers: &mut HeaderMap, content_type: &'static str, len: u64) {
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    headers.insert(
        HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
}
