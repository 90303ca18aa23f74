//! One error type for the whole API, turned into the JSON envelope in one place.

use crate::domain::failure::{Failure, FieldErrors};
use salvo::http::{header, HeaderValue, StatusCode};
use salvo::oapi::{BasicType, Components, EndpointOutRegister, Object, Operation, Response as OapiResponse};
use salvo::prelude::*;
use serde::Serialize;

#[derive(Debug)]
pub enum ApiError {
    /// 422 with per-field messages.
    Validation(FieldErrors),
    BadRequest(String),
    Unauthorized(String),
    Forbidden(String),
    NotFound(String),
    Conflict(String),
    PayloadTooLarge(String),
    /// 408: the body stopped coming.
    RequestTimeout(String),
    UnsupportedMediaType(String),
    TooManyRequests {
        message: String,
        retry_after_secs: u64,
    },
    Unavailable(String),
    /// 503 with `Retry-After`: a bounded resource is in use, come back soon.
    Busy {
        message: String,
        retry_after_secs: u64,
    },
    /// 426: a plain HTTP request to a WebSocket endpoint.
    UpgradeRequired(String),
    /// Anything unexpected: logged in full, answered without detail.
    Internal(String),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// A 422 for one field.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Failure::field(field, message).into()
    }

    pub fn internal(error: impl std::fmt::Display) -> Self {
        Self::Internal(error.to_string())
    }

    fn parts(&self) -> (StatusCode, &str, &'static str) {
        match self {
            Self::Validation(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "The given data was invalid.",
                "validation_failed",
            ),
            Self::BadRequest(m) => (StatusCode::BAD_REQUEST, m, "bad_request"),
            Self::Unauthorized(m) => (StatusCode::UNAUTHORIZED, m, "unauthorized"),
            Self::Forbidden(m) => (StatusCode::FORBIDDEN, m, "forbidden"),
            Self::NotFound(m) => (StatusCode::NOT_FOUND, m, "not_found"),
            Self::Conflict(m) => (StatusCode::CONFLICT, m, "conflict"),
            Self::PayloadTooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, m, "payload_too_large"),
            Self::RequestTimeout(m) => (StatusCode::REQUEST_TIMEOUT, m, "request_timeout"),
            Self::UnsupportedMediaType(m) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, m, "unsupported_media_type"),
            Self::TooManyRequests { message, .. } => (StatusCode::TOO_MANY_REQUESTS, message, "too_many_requests"),
            Self::Unavailable(m) => (StatusCode::SERVICE_UNAVAILABLE, m, "service_unavailable"),
            Self::Busy { message, .. } => (StatusCode::SERVICE_UNAVAILABLE, message, "busy"),
            Self::UpgradeRequired(m) => (StatusCode::UPGRADE_REQUIRED, m, "upgrade_required"),
            Self::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal server error",
                "internal_error",
            ),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Internal(detail) => f.write_str(detail),
            Self::Validation(errors) => write!(f, "validation failed: {errors:?}"),
            other => f.write_str(other.parts().1),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        Failure::database(&error).into()
    }
}

/// How each failure of the layers below is answered.
impl From<Failure> for ApiError {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::Invalid(errors) => Self::Validation(errors),
            Failure::Forbidden(message) => Self::Forbidden(message),
            Failure::NotFound(message) => Self::NotFound(message),
            Failure::Busy {
                message,
                retry_after_secs,
            } => Self::Busy {
                message,
                retry_after_secs,
            },
            Failure::Unavailable(message) => Self::Unavailable(message),
            Failure::Internal(detail) => Self::Internal(detail),
        }
    }
}

/// The depot key set when a request found the database unavailable.
pub const DATABASE_UNAVAILABLE: &str = "spotik.database_unavailable";

/// The failure envelope. The front end shows `error` to the user before
/// `message` (`FileUpload.vue`, `Room.vue`, the stores), so `error` holds the
/// same human sentence; the machine-readable code is `code`. A 422 has the
/// messages of each field in `errors` instead.
#[derive(Serialize)]
pub struct Envelope<'a> {
    success: bool,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<&'a FieldErrors>,
    code: &'a str,
}

/// The failure envelope of `message` with `code`.
pub fn envelope<'a>(message: &'a str, code: &'a str) -> Envelope<'a> {
    Envelope {
        success: false,
        message,
        error: Some(message),
        errors: None,
        code,
    }
}

#[async_trait]
impl Writer for ApiError {
    async fn write(self, _req: &mut Request, depot: &mut Depot, res: &mut Response) {
        // Only the database's absence is `Unavailable` (see `From<sqlx::Error>`):
        // told to the `deadline` hoop, which marks the database down.
        if let Self::Unavailable(_) = &self {
            depot.insert(DATABASE_UNAVAILABLE, true);
        }
        let (status, message, code) = self.parts();
        let body = match &self {
            Self::Validation(errors) => Envelope {
                error: None,
                errors: Some(errors),
                ..envelope(message, code)
            },
            _ => envelope(message, code),
        };
        if let Self::Internal(detail) = &self {
            tracing::error!(%detail, "request failed");
        }
        if let Self::TooManyRequests { retry_after_secs, .. } | Self::Busy { retry_after_secs, .. } = &self {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
        }
        res.status_code(status);
        res.render(Json(body));
    }
}

/// Every failure, whatever its status: `{success: false, message, code}`,
/// with `error` (the same sentence) or, for a 422, `errors` by field.
impl EndpointOutRegister for ApiError {
    fn register(_components: &mut Components, operation: &mut Operation) {
        let text = || Object::with_type(BasicType::String);
        let failure = Object::new()
            .property("success", Object::with_type(BasicType::Boolean).enum_values([false]))
            .required("success")
            .property("message", text())
            .required("message")
            .property("error", text())
            .property(
                "errors",
                Object::new()
                    .additional_properties(text().to_array())
                    .description("422: the messages of each refused field"),
            )
            .property(
                "code",
                text().description("machine-readable: not_found, validation_failed, …"),
            )
            .required("code");
        operation.responses.insert(
            "default",
            OapiResponse::new(
                "A failure: 400, 401 (no valid token), 403, 404, 409, 413, 415, 422, 429 or 503 (with `Retry-After`), 500",
            )
            .add_content("application/json", salvo::oapi::Content::new(failure)),
        );
    }
}
