//! Cross-origin requests: the front end runs on its own origin (`:3000` in
//! development) and calls the API on another (`:8000`).
//!
//! Only origins named in the configuration (`CORS_ALLOWED_ORIGINS`,
//! `FRONTEND_URL`) are answered with `Access-Control-Allow-Origin`; an origin
//! is never reflected just because it asked. The same list decides which
//! browser pages may open the API's WebSockets (`Origin` on the upgrade),
//! which CORS does not cover. Tokens travel in the `Authorization` header,
//! never in cookies, so credentials are not allowed.

use salvo::http::{header, HeaderValue, Method, StatusCode};
use salvo::prelude::*;
use std::sync::Arc;

/// What the front end sends: axios' `Authorization`, `Content-Type` and
/// `Accept`, the clock sync's `Cache-Control`, laravel-echo's `X-Socket-ID`.
const ALLOWED_HEADERS: &str = "Authorization, Content-Type, Accept, Cache-Control, X-Requested-With, X-Socket-ID";
const ALLOWED_METHODS: &str = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";
/// Headers a page may read from an answer besides the simple ones.
const EXPOSED_HEADERS: &str = "Retry-After, Location";
/// How long a browser may reuse a preflight's answer (seconds).
const MAX_AGE: &str = "86400";

/// The development origins of the Vue front end (Vite on `:3000`, its
/// default `:5173`), used when nothing is configured.
pub const DEFAULT_ORIGINS: [&str; 4] = [
    "http://localhost:3000",
    "http://127.0.0.1:3000",
    "http://localhost:5173",
    "http://127.0.0.1:5173",
];

/// The origins allowed to call the API from a browser.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllowedOrigins(Vec<String>);

impl AllowedOrigins {
    /// Parses comma-separated origins; a path or trailing slash is dropped
    /// (`FRONTEND_URL=http://host:3000/` names the origin `http://host:3000`).
    pub fn parse<'a>(lists: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let mut origins = Vec::new();
        for entry in lists.into_iter().flat_map(|list| list.split(',')) {
            let entry = entry.trim();
            if entry.is_empty() {
                continue;
            }
            let origin = normalise(entry).ok_or_else(|| {
                format!("{entry:?} is not an origin (scheme://host[:port]); a wildcard is not accepted")
            })?;
            if !origins.contains(&origin) {
                origins.push(origin);
            }
        }
        Ok(Self(origins))
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// Whether a page of `origin` may read the API's answers.
    pub fn allows(&self, origin: &str) -> bool {
        normalise(origin).is_some_and(|o| self.0.contains(&o))
    }

    /// Whether a WebSocket may be opened by a request with this `Origin`
    /// (absent for non-browser clients) to a server reached as `host`: a
    /// configured origin, or the page's own server (same origin).
    pub fn allows_socket(&self, origin: Option<&str>, host: Option<&str>) -> bool {
        let Some(origin) = origin else { return true };
        if self.allows(origin) {
            return true;
        }
        let authority = origin.split_once("://").map(|(_, rest)| rest);
        matches!((authority, host), (Some(a), Some(h)) if a.eq_ignore_ascii_case(h))
    }
}

/// `scheme://host[:port]` in lower case, without path; `None` if `raw` is not one.
fn normalise(raw: &str) -> Option<String> {
    let (scheme, rest) = raw.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let authority = rest.split('/').next()?.to_ascii_lowercase();
    let valid = !authority.is_empty()
        && authority
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
    valid.then(|| format!("{scheme}://{authority}"))
}

/// The service-wide middleware: answers preflights itself (they match no
/// route) and marks answers to allowed origins.
pub struct Cors(pub Arc<AllowedOrigins>);

#[async_trait]
impl Handler for Cors {
    async fn handle(&self, req: &mut Request, depot: &mut Depot, res: &mut Response, ctrl: &mut FlowCtrl) {
        let origin = req
            .headers()
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let Some(origin) = origin else {
            ctrl.call_next(req, depot, res).await;
            return;
        };
        let allowed = self.0.allows(&origin);
        let headers = res.headers_mut();
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
        if allowed {
            if let Ok(value) = HeaderValue::from_str(&origin) {
                headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
            }
        }
        let preflight =
            req.method() == Method::OPTIONS && req.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
        if !preflight {
            if allowed {
                res.headers_mut().insert(
                    header::ACCESS_CONTROL_EXPOSE_HEADERS,
                    HeaderValue::from_static(EXPOSED_HEADERS),
                );
            }
            ctrl.call_next(req, depot, res).await;
            return;
        }
        ctrl.skip_rest();
        if !allowed {
            res.status_code(StatusCode::FORBIDDEN);
            return;
        }
        let headers = res.headers_mut();
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(ALLOWED_METHODS),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(ALLOWED_HEADERS),
        );
        headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static(MAX_AGE));
        res.status_code(StatusCode::NO_CONTENT);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> AllowedOrigins {
        AllowedOrigins::parse(DEFAULT_ORIGINS).unwrap()
    }

    #[test]
    fn configured_origins_match_whatever_their_case_or_trailing_slash() {
        let origins = AllowedOrigins::parse(["https://Spotik.example/, http://localhost:3000"]).unwrap();
        assert!(origins.allows("https://spotik.example"));
        assert!(origins.allows("http://localhost:3000"));
        assert!(!origins.allows("http://localhost:3001"));
        assert!(!origins.allows("https://spotik.example.evil.com"));
        assert!(!origins.allows("null"));
    }

    #[test]
    fn wildcards_and_non_origins_are_refused_with_the_entry_named() {
        let error = AllowedOrigins::parse(["*"]).unwrap_err();
        assert!(error.contains("\"*\""), "{error}");
        assert!(AllowedOrigins::parse(["ftp://x"]).is_err());
        assert!(AllowedOrigins::parse(["http://a b"]).is_err());
    }

    #[test]
    fn sockets_from_other_pages_are_refused_but_same_origin_and_tools_pass() {
        let origins = defaults();
        assert!(origins.allows_socket(None, Some("api:8000")));
        assert!(origins.allows_socket(Some("http://localhost:3000"), Some("localhost:8000")));
        assert!(origins.allows_socket(Some("https://api.example"), Some("api.example")));
        assert!(!origins.allows_socket(Some("https://evil.example"), Some("api.example")));
        assert!(!origins.allows_socket(Some("https://evil.example"), None));
    }
}
