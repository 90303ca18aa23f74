//! The web app: its page at `/` and at each of its own routes (so that a
//! link into the app, or a reload, opens it there), and its files under
//! `/assets/<version>/`. Both are compiled into the binary by `build.rs`
//! from `web/`.
//!
//! The page is revalidated on every load (`no-cache` with an ETag: a new
//! release is picked up at once); the files it names are fingerprinted by
//! the version in their path and cached for a year. Every answer carries
//! the app's Content-Security-Policy: scripts and styles only from here,
//! data only from here and the edges, no framing (SECURITY.md).

use crate::http::path::PathText;
use crate::state::{from_depot, AppState};
use salvo::http::{header, HeaderValue, StatusCode};
use salvo::oapi::endpoint;
use salvo::prelude::*;

mod embedded {
    /// One file of the app, as served.
    pub struct Asset {
        pub name: &'static str,
        pub content_type: &'static str,
        pub body: &'static [u8],
        pub gzip: &'static [u8],
        pub etag: &'static str,
    }
    include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));
}

use embedded::{Asset, ASSETS, INDEX, VERSION};

/// The routes of the app that load its page; any other path outside `/api`
/// stays a 404.
pub fn router() -> Router {
    Router::new()
        .get(home_page)
        .push(Router::with_path("login").get(login_page))
        .push(Router::with_path("register").get(register_page))
        .push(Router::with_path("rooms/{room}").get(room_page))
        .push(Router::with_path("playlists").get(playlists_page))
        .push(Router::with_path("playlists/{playlist}").get(playlist_page))
        .push(Router::with_path("search").get(search_page))
        .push(Router::with_path("genres").get(genres_page))
        .push(Router::with_path("assets/{version}/{**name}").get(file))
}

/// `scheme://host[:port]` of a URL, what a CSP source names.
fn origin(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    let host_end = rest.find('/').unwrap_or(rest.len());
    let origin = &url[..scheme.len() + 3 + host_end];
    (host_end > 0 && !origin.contains([' ', ';', ',', '\'', '"'])).then_some(origin)
}

/// The app's policy: its own scripts and styles only (no inline script, so
/// an injected `<script>` or `onerror=` cannot run), data from this origin,
/// the API's public address (covers) and the edges (audio), nothing framed.
pub fn policy(state: &AppState) -> String {
    let config = &state.config;
    let edge = origin(&config.edge_public_url).unwrap_or("");
    let api = origin(&config.api_public_url).unwrap_or("");
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' {api} blob: data:; \
         media-src 'self' {edge} blob:; connect-src 'self' {edge}; manifest-src 'self'; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
}

fn headers(res: &mut Response, state: &AppState, asset: &Asset, cache: &'static str) {
    let policy = HeaderValue::from_str(&policy(state)).unwrap_or(HeaderValue::from_static("default-src 'none'"));
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(header::ETAG, HeaderValue::from_static(asset.etag));
    headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert("referrer-policy", HeaderValue::from_static("same-origin"));
}

fn accepts_gzip(req: &Request) -> bool {
    req.headers()
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
            name.eq_ignore_ascii_case("gzip") && !refused
        })
}

fn serve(req: &Request, res: &mut Response, state: &AppState, asset: &'static Asset, cache: &'static str) {
    headers(res, state, asset, cache);
    if crate::http::request::holds(req, asset.etag) {
        res.status_code(StatusCode::NOT_MODIFIED);
        return;
    }
    let body = if accepts_gzip(req) {
        res.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        asset.gzip
    } else {
        asset.body
    };
    res.write_body(body).ok();
}

/// The app's page, whatever route of the app is asked for: the app then
/// shows that route itself.
fn page(depot: &Depot, req: &Request, res: &mut Response) {
    let Ok(state) = from_depot(depot) else {
        res.status_code(StatusCode::INTERNAL_SERVER_ERROR);
        return;
    };
    serve(req, res, state, &INDEX, "no-cache");
}

/// An endpoint per route of the app (an operation of the OpenAPI document
/// each), all answering its page.
macro_rules! pages {
    ($($name:ident: $summary:literal;)*) => {$(
        #[doc = $summary]
        #[endpoint(tags("web app"), responses((status_code = 200, description = "The web app's page (HTML)")))]
        pub async fn $name(req: &mut Request, depot: &mut Depot, res: &mut Response) {
            page(depot, req, res);
        }
    )*};
}

pages! {
    home_page: "The web app: the rooms.";
    login_page: "The web app, signing in.";
    register_page: "The web app, signing up.";
    playlists_page: "The web app: your playlists.";
    search_page: "The web app: search.";
    genres_page: "The web app: genres.";
}

// The two routes with a parameter are written out: an endpoint's
// extractor arguments cannot come from a `macro_rules!` pattern (the
// endpoint macro binds them at its own call site).

/// The web app in a room (the app itself checks the room).
#[endpoint(tags("web app"), responses((status_code = 200, description = "The web app's page (HTML)")))]
pub async fn room_page(req: &mut Request, depot: &mut Depot, res: &mut Response, _room: PathText) {
    page(depot, req, res);
}

/// The web app: one playlist.
#[endpoint(tags("web app"), responses((status_code = 200, description = "The web app's page (HTML)")))]
pub async fn playlist_page(req: &mut Request, depot: &mut Depot, res: &mut Response, _playlist: PathText) {
    page(depot, req, res);
}

/// A file of the web app; immutable under the current version.
#[endpoint(tags("web app"), responses((status_code = 200, description = "The file (script, style, image)"), (status_code = 404, description = "No such file")))]
pub async fn file(req: &mut Request, depot: &mut Depot, res: &mut Response, version: PathText, name: PathText) {
    let Ok(state) = from_depot(depot) else {
        res.status_code(StatusCode::INTERNAL_SERVER_ERROR);
        return;
    };
    let Some(asset) = ASSETS.iter().find(|a| a.name == name.0) else {
        res.status_code(StatusCode::NOT_FOUND);
        res.render(Text::Plain("No such file of the web app"));
        return;
    };
    // A page of an earlier release asking for its files gets today's, but
    // not for keeps: only the current version's URLs are immutable.
    let current = version.0 == VERSION;
    let cache = if current {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    serve(req, res, state, asset, cache);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_scheme_host_and_port() {
        assert_eq!(origin("http://127.0.0.1:8080"), Some("http://127.0.0.1:8080"));
        assert_eq!(origin("https://cdn.example/audio/x"), Some("https://cdn.example"));
        assert_eq!(origin("nonsense"), None);
        assert_eq!(origin("http://a; script-src *"), None);
    }

    #[test]
    fn the_page_names_its_assets_by_version_and_preloads_its_modules() {
        let html = std::str::from_utf8(INDEX.body).unwrap();
        assert!(html.contains(&format!("/assets/{VERSION}/src/main.js")), "{html}");
        assert!(html.contains("rel=\"modulepreload\""));
        assert!(!html.contains("{{"), "every placeholder is filled");
        assert!(ASSETS.iter().all(|a| a.gzip.len() < a.body.len() + 64));
    }
}
