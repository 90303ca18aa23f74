//! The OpenAPI 3 document of the REST API, generated from the routes: each
//! handler's answer type, the error type every handler shares, the bearer
//! token of those that take the authenticated caller. Served at
//! `/api/openapi.json` and browsable at `/api/docs`.
//!
//! The real-time protocols (`/ws`, `/app/{key}`, the Pusher HTTP API under
//! `/apps/{app_id}`) are not REST and are described in `docs/realtime.md`;
//! `/api/broadcasting/auth`, which the front end calls, is here.

use salvo::oapi::security::{Http, HttpAuthScheme, SecurityScheme};
use salvo::oapi::{BasicType, Info, KnownFormat, Object, OpenApi, Parameter, ParameterIn, Required, SchemaFormat};
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
        )
        // salvo warns of each route whose path parameters the handler does
        // not declare; they are declared just below, so the warnings are
        // kept out of the log.
    ;
    let mut doc = tracing::subscriber::with_default(tracing::subscriber::NoSubscriber::default(), || {
        doc.merge_router(router)
    });
    declare_path_parameters(&mut doc);
    doc
}

/// Handlers read their path parameters themselves, so the document learns
/// them from the templates: `{genre}` and `{playlist}` are numbers, every
/// other one a UUID.
fn declare_path_parameters(doc: &mut OpenApi) {
    for (path, item) in doc.paths.iter_mut() {
        let names = template_names(path);
        // On each operation: salvo-oapi writes a path item's own
        // `parameters` flattened, which is not JSON it can write.
        for operation in item.operations.values_mut() {
            for name in &names {
                let schema = if matches!(*name, "genre" | "playlist") {
                    Object::with_type(BasicType::Integer).format(SchemaFormat::KnownFormat(KnownFormat::Int64))
                } else {
                    Object::with_type(BasicType::String).format(SchemaFormat::KnownFormat(KnownFormat::Uuid))
                };
                operation.parameters.insert(
                    Parameter::new(*name)
                        .parameter_in(ParameterIn::Path)
                        .required(Required::True)
                        .schema(schema),
                );
            }
        }
    }
}

/// The `{name}`s of a path template, in order.
fn template_names(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_templates_name_their_parameters() {
        assert_eq!(
            template_names("/api/rooms/{room}/tracks/{track}/vote"),
            ["room", "track"]
        );
        assert!(template_names("/api/genres").is_empty());
    }
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
