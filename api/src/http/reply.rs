//! Successful answers in the envelope the front end reads.

use salvo::http::{header, HeaderValue, StatusCode};
use salvo::prelude::*;
use serde_json::{json, Value};

pub struct Reply {
    status: StatusCode,
    body: Value,
    location: Option<String>,
    accel: Option<String>,
}

impl Reply {
    /// `{"success": true, "message": …, "data": …}` with 200.
    pub fn data(message: &str, data: Value) -> Self {
        Self::raw(
            StatusCode::OK,
            json!({ "success": true, "message": message, "data": data }),
        )
    }

    /// The same with 201.
    pub fn created(message: &str, data: Value) -> Self {
        Self::raw(
            StatusCode::CREATED,
            json!({ "success": true, "message": message, "data": data }),
        )
    }

    /// An envelope with extra top-level fields, for the calls the front end
    /// reads at the top level (`tracks`, `track`, `vote_score`…).
    pub fn top_level(status: StatusCode, message: &str, fields: Value) -> Self {
        let mut body = json!({ "success": true, "message": message });
        if let (Value::Object(body), Value::Object(fields)) = (&mut body, fields) {
            body.extend(fields);
        }
        Self::raw(status, body)
    }

    pub fn raw(status: StatusCode, body: Value) -> Self {
        Self {
            status,
            body,
            location: None,
            accel: None,
        }
    }

    /// An empty 200 that nginx replaces with the body of `internal_path`.
    pub fn x_accel(internal_path: String) -> Self {
        Self {
            status: StatusCode::OK,
            body: Value::Null,
            location: None,
            accel: Some(internal_path),
        }
    }

    pub fn redirect(location: String) -> Self {
        Self {
            status: StatusCode::FOUND,
            body: json!({ "success": true, "message": "Redirecting to the audio" }),
            location: Some(location),
            accel: None,
        }
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
        res.render(Json(self.body));
    }
}
