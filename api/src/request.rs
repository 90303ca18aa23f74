//! Small helpers every handler uses to read its request.

use crate::error::{ApiError, ApiResult};
use crate::state::State;
use salvo::http::ParseError;
use salvo::prelude::*;
use serde::de::DeserializeOwned;
use uuid::Uuid;

pub fn state(depot: &Depot) -> ApiResult<&State> {
    depot
        .obtain::<State>()
        .map_err(|_| ApiError::internal("application state missing from the depot"))
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
    serde_json::from_slice(bytes).map_err(|e| {
        if e.is_data() {
            ApiError::Validation(serde_json::Map::from_iter([(
                "body".to_owned(),
                serde_json::json!([e.to_string()]),
            )]))
        } else {
            ApiError::BadRequest("Malformed JSON".into())
        }
    })
}

/// A UUID path parameter; anything else is a 404 (the resource cannot exist).
pub fn uuid_param(req: &Request, name: &str) -> ApiResult<Uuid> {
    req.param::<String>(name)
        .and_then(|raw| Uuid::parse_str(&raw).ok())
        .ok_or_else(|| ApiError::NotFound("Not found".into()))
}
