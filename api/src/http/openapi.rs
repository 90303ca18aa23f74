//! The OpenAPI 3 document of every route, generated from the handlers: each
//! one's typed path parameters (`http::path`), query parameters and body,
//! its answer type, the error type every handler shares, the bearer token
//! of those that take the authenticated caller. Served at
//! `/api/openapi.json` and browsable at `/api/docs`.
//!
//! The WebSocket routes (`/ws`, `/app/{key}`) are here as the GET that
//! opens them; their messages are in `docs/realtime.md`.

use salvo::oapi::security::{Http, HttpAuthScheme, SecurityScheme};
use salvo::oapi::{Info, OpenApi};
use salvo::Router;

/// The name of the bearer-token scheme routes refer to.
pub const BEARER: &str = "bearer";

/// The document of every `#[endpoint]` under `router`.
pub fn document(router: &Router) -> OpenApi {
    // Schemas and operations by their own names (`RoomView`, `add_vote`),
    // not their Rust paths; `Listed<RoomView>` as `ListedOfRoomView`, since
    // a component's name may not hold `<`.
    salvo::oapi::naming::set_namer(
        salvo::oapi::naming::FlexNamer::new()
            .short_mode(true)
            .generic_delimiter("Of", ""),
    );
    let info = Info::new("Spotik API", env!("CARGO_PKG_VERSION")).description(
        "Rooms, a vote-ordered queue, synchronised playback, genres and playlists. \
         Every answer is `{success, message, …}`; a failure adds `code` and `error` \
         (or `errors` by field for a 422). Sign in with `POST /api/auth/login` and \
         send `Authorization: Bearer <token>`. The real-time protocols are in \
         docs/realtime.md.",
    );
    let doc = OpenApi::new("Spotik API", env!("CARGO_PKG_VERSION"))
        .info(info)
        .add_security_scheme(
            BEARER,
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer).bearer_format("JWT")),
        );
    // Every path parameter is declared by its handler's typed argument; a
    // handler that did not would leave it out, which tests/api/openapi.rs
    // refuses.
    // salvo-oapi reads `{**name}` as a parameter named `**name` and warns
    // that the handler's `name` is not in the path; the rename below puts
    // it right, so the warning is kept out of the log.
    let mut doc = tracing::subscriber::with_default(tracing::subscriber::NoSubscriber::default(), || {
        doc.merge_router(router)
    });
    // A rest-of-path parameter (`{**name}`) is an ordinary one in OpenAPI.
    let rest: Vec<String> = doc.paths.keys().filter(|path| path.contains("{*")).cloned().collect();
    for path in rest {
        if let Some(item) = doc.paths.remove(&path) {
            doc.paths.insert(path.replace("{**", "{").replace("{*", "{"), item);
        }
    }
    doc
}

/// What the docs page may load and who may frame it: its own scripts and
/// styles (Swagger UI starts from an inline script), the document from
/// this origin, and no frame anywhere (clickjacking a signed-in reader).
const DOCS_POLICY: &str = "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; \
                           img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; \
                           form-action 'none'; frame-ancestors 'none'";

/// Sets [`DOCS_POLICY`] and `X-Frame-Options: DENY` on the docs page.
#[salvo::handler]
pub async fn docs_headers(
    req: &mut salvo::Request,
    depot: &mut salvo::Depot,
    res: &mut salvo::Response,
    ctrl: &mut salvo::FlowCtrl,
) {
    use salvo::http::header::{HeaderValue, CONTENT_SECURITY_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS};
    ctrl.call_next(req, depot, res).await;
    let headers = res.headers_mut();
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(DOCS_POLICY));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
}
