//! Small helpers every handler uses to read its request.

use crate::http::error::{ApiError, ApiResult};
use salvo::http::ParseError;
use salvo::prelude::*;
use serde::de::DeserializeOwned;

/// Whether the client already holds the representation tagged `etag`
/// (`If-None-Match`, on any of its lines; weak tags compare by value).
pub fn holds(req: &Request, etag: &str) -> bool {
    req.headers()
        .get_all(salvo::http::header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == etag || tag == "*")
}

/// A JSON body: malformed → 400, not JSON → 415.
pub async fn json_body<T: DeserializeOwned>(req: &mut Request) -> ApiResult<T> {
    let is_json = req
        .content_type()
        .is_some_and(|m| m.subtype() == "json" || m.suffix().is_some_and(|s| s == "json"));
    if !is_json {
        return Err(ApiError::UnsupportedMediaType(
            "Send a JSON body (Content-Type: application/json)".into(),
        ));
    }
    let bytes = req.payload_with_max_size(64 * 1024).await.map_err(|e| match e {
        ParseError::PayloadTooLarge => ApiError::PayloadTooLarge("The JSON body is too large".into()),
        _ => ApiError::BadRequest("Could not read the request body".into()),
    })?;
    decode_json(bytes)
}

/// The bytes of a JSON body as `T`: not JSON → 400, JSON of another shape → 422.
pub fn decode_json<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    // PostgreSQL cannot store a NUL: refused here, for every body at once.
    if crate::domain::text::has_nul_escape(bytes) && serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok() {
        return Err(crate::domain::text::nul_refused("body").into());
    }
    serde_json::from_slice(bytes).map_err(|e| {
        // serde reports a value of the wrong type before it has read the
        // rest, so `0<garbage>` would look like JSON of another shape.
        let is_json = || serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok();
        if e.is_data() && is_json() {
            ApiError::field("body", e.to_string())
        } else {
            ApiError::BadRequest("Malformed JSON".into())
        }
    })
}

/// Refuses a query string that decodes to a NUL (`?search=%00`) with a
/// 422 before any handler reads it: PostgreSQL cannot store or compare one.
#[handler]
pub async fn refuse_nul_in_query(req: &mut Request, depot: &mut Depot, res: &mut Response, ctrl: &mut FlowCtrl) {
    if req.uri().query().is_some_and(crate::domain::text::has_nul_in_query) {
        ctrl.skip_rest();
        ApiError::from(crate::domain::text::nul_refused("query"))
            .write(req, depot, res)
            .await;
    }
}

/// A whole number from the query within `1..=most`; `default` when absent
/// or empty; anything else a 422 on `name`.
pub fn query_whole(req: &Request, name: &str, default: i64, most: i64) -> ApiResult<i64> {
    match req.query::<String>(name).filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(raw) => raw
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=most).contains(n))
            .ok_or_else(|| ApiError::field(name, format!("The {name} must be a whole number from 1 to {most}."))),
    }
}

/// A keyset page from the query: `limit` (1 to 100, 50 by default) and
/// `before` (a row id, none for the newest).
pub fn keyset_page(req: &Request) -> ApiResult<(i64, Option<i64>)> {
    let limit = query_whole(req, "limit", 50, 100)?;
    let before = match req.query::<String>("before").filter(|v| !v.is_empty()) {
        None => None,
        Some(_) => Some(query_whole(req, "before", i64::MAX, i64::MAX)?),
    };
    Ok((limit, before))
}

/// Whether the request carries a multipart body (as opposed to JSON).
pub fn is_multipart(req: &Request) -> bool {
    req.headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("multipart/form-data"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(serde::Deserialize)]
    struct Credentials {
        #[allow(dead_code)]
        email: String,
    }

    proptest! {
        /// Any bytes: a value, or a 400 for what is not JSON and a 422
        /// for JSON of another shape — the client's fault, never ours.
        #[test]
        fn any_body_is_decoded_or_refused(body in proptest::collection::vec(any::<u8>(), 0..200)) {
            match decode_json::<Credentials>(&body) {
                Ok(_) => prop_assert!(serde_json::from_slice::<serde_json::Value>(&body).is_ok()),
                Err(ApiError::BadRequest(_)) => prop_assert!(serde_json::from_slice::<serde_json::Value>(&body).is_err()),
                Err(ApiError::Validation(_)) => prop_assert!(serde_json::from_slice::<serde_json::Value>(&body).is_ok()),
                Err(other) => prop_assert!(false, "{other:?}"),
            }
        }

        /// JSON of every type where a string is expected: a 422, not a 400.
        #[test]
        fn json_of_another_shape_is_422(email in prop_oneof![
            any::<i64>().prop_map(serde_json::Value::from),
            any::<bool>().prop_map(serde_json::Value::from),
            Just(serde_json::Value::Null),
            Just(serde_json::json!([])),
        ]) {
            let body = serde_json::json!({ "email": email }).to_string();
            prop_assert!(matches!(decode_json::<Credentials>(body.as_bytes()), Err(ApiError::Validation(_))));
        }
    }
}
