//! Successful answers in the envelope the front end reads.

use salvo::http::{header, HeaderValue, StatusCode};
use salvo::prelude::*;
use serde::Serialize;
use serde_json::json;

/// The envelope of every successful answer: `{"success": true, "message":
/// …, "data": …}`, `data` any serialisable shape.
#[derive(Serialize)]
struct Envelope<'a, T> {
    success: bool,
    message: &'a str,
    data: T,
}

/// The same with the shape's fields at the top level instead of in `data`.
#[derive(Serialize)]
struct TopLevel<'a, T> {
    success: bool,
    message: &'a str,
    #[serde(flatten)]
    fields: T,
}

/// A successful answer, its body serialised once, straight from the typed
/// shape the handler built (no intermediate JSON tree).
pub struct Reply {
    status: StatusCode,
    body: Option<Vec<u8>>,
    location: Option<String>,
    accel: Option<String>,
}

impl Reply {
    /// `{"success": true, "message": …, "data": …}` with 200.
    pub fn data(message: &str, data: impl Serialize) -> Self {
        Self::raw(
            StatusCode::OK,
            Envelope {
                success: true,
                message,
                data,
            },
        )
    }

    /// The same with 201.
    pub fn created(message: &str, data: impl Serialize) -> Self {
        Self::raw(
            StatusCode::CREATED,
            Envelope {
                success: true,
                message,
                data,
            },
        )
    }

    /// An envelope with the fields of `fields` (a struct or a map) at the top
    /// level, for the calls the front end reads there (`tracks`, `track`,
    /// `vote_score`…).
    pub fn top_level(status: StatusCode, message: &str, fields: impl Serialize) -> Self {
        Self::raw(
            status,
            TopLevel {
                success: true,
                message,
                fields,
            },
        )
    }

    /// `body` as it is, with `status`.
    pub fn raw(status: StatusCode, body: impl Serialize) -> Self {
        // Serialising our own shapes fails only for maps with non-string
        // keys, which none has; should one, the answer is an honest 500.
        let (status, body) = match serde_json::to_vec(&body) {
            Ok(body) => (status, body),
            Err(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                br#"{"success":false,"message":"Internal server error","error":"Internal server error","code":"internal_error"}"#.to_vec(),
            ),
        };
        Self {
            status,
            body: Some(body),
            location: None,
            accel: None,
        }
    }

    /// An empty 200 that nginx replaces with the body of `internal_path`.
    pub fn x_accel(internal_path: String) -> Self {
        Self {
            status: StatusCode::OK,
            body: None,
            location: None,
            accel: Some(internal_path),
        }
    }

    pub fn redirect(location: String) -> Self {
        let mut reply = Self::raw(
            StatusCode::FOUND,
            json!({ "success": true, "message": "Redirecting to the audio" }),
        );
        reply.location = Some(location);
        reply
    }
}

#[async_trait]
impl Writer for Reply {
    async fn write(self, _req: &mut Request, _depot: &mut Depot, res: &mut Response) {
        if let Some(location) = self.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
            res.headers_mut().insert(header::LOCATION, location);
        }
        res.status_code(self.status);
        if let Some(accel) = self.accel.and_then(|a| HeaderValue::from_str(&a).ok()) {
            res.headers_mut().insert("x-accel-redirect", accel);
            return;
        }
        if let Some(body) = self.body {
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=utf-8"),
            );
            let _ = res.write_body(body);
        }
    }
}
