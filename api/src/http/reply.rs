//! Successful answers in the envelope the front end reads, typed: a handler
//! returns `Reply<RoomView>`, the body is serialised once from that shape,
//! and the OpenAPI document learns the same shape from the same type (the
//! status is part of the type, so the document states it too).

use salvo::http::{header, HeaderValue, StatusCode};
use salvo::oapi::{
    schema::AllOf, BasicType, Components, EndpointOutRegister, Object, Operation, RefOr, Response as OapiResponse,
    Schema, ToSchema,
};
use salvo::prelude::*;
use serde::Serialize;

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

/// `{"success": true, "message": …, "data": T}` with the status `STATUS`.
pub struct Reply<T, const STATUS: u16 = 200> {
    message: &'static str,
    data: T,
}

/// A [`Reply`] that made something: 201.
pub type Created<T> = Reply<T, 201>;

impl<T> Reply<T> {
    /// With 200.
    pub fn data(message: &'static str, data: T) -> Self {
        Self { message, data }
    }
}

impl<T> Created<T> {
    pub fn created(message: &'static str, data: T) -> Self {
        Self { message, data }
    }
}

/// `{"success": true, "message": …}` with the fields of `T` beside them, for
/// the calls the front end reads there (`tracks`, `track`, `vote_score`…).
pub struct Fields<T, const STATUS: u16 = 200> {
    message: &'static str,
    fields: T,
}

impl<T, const STATUS: u16> Fields<T, STATUS> {
    pub fn new(message: &'static str, fields: T) -> Self {
        Self { message, fields }
    }
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::OK)
}

/// Writes `body` as JSON with `status`. Serialising our own shapes fails
/// only for maps with non-string keys, which none has; should one, the
/// answer is an honest 500.
fn write_json(res: &mut Response, status: StatusCode, body: &impl Serialize) {
    let (status, body) = match serde_json::to_vec(body) {
        Ok(body) => (status, body),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            br#"{"success":false,"message":"Internal server error","error":"Internal server error","code":"internal_error"}"#.to_vec(),
        ),
    };
    res.status_code(status);
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    let _ = res.write_body(body);
}

#[async_trait]
impl<T: Serialize + Send, const STATUS: u16> Writer for Reply<T, STATUS> {
    async fn write(self, _req: &mut Request, _depot: &mut Depot, res: &mut Response) {
        let body = Envelope {
            success: true,
            message: self.message,
            data: self.data,
        };
        write_json(res, status(STATUS), &body);
    }
}

#[async_trait]
impl<T: Serialize + Send, const STATUS: u16> Writer for Fields<T, STATUS> {
    async fn write(self, _req: &mut Request, _depot: &mut Depot, res: &mut Response) {
        let body = TopLevel {
            success: true,
            message: self.message,
            fields: self.fields,
        };
        write_json(res, status(STATUS), &body);
    }
}

/// `{success: true, message: string}`, what every successful answer has.
fn success_schema() -> Object {
    Object::new()
        .property("success", Object::with_type(BasicType::Boolean).enum_values([true]))
        .required("success")
        .property("message", Object::with_type(BasicType::String))
        .required("message")
}

fn register(operation: &mut Operation, code: u16, schema: impl Into<RefOr<Schema>>) {
    let description = status(code).canonical_reason().unwrap_or("Success");
    operation.responses.insert(
        code.to_string(),
        OapiResponse::new(description).add_content("application/json", salvo::oapi::Content::new(schema)),
    );
}

impl<T: ToSchema, const STATUS: u16> EndpointOutRegister for Reply<T, STATUS> {
    fn register(components: &mut Components, operation: &mut Operation) {
        let data = T::to_schema(components);
        register(
            operation,
            STATUS,
            success_schema().property("data", data).required("data"),
        );
    }
}

impl<T: ToSchema, const STATUS: u16> EndpointOutRegister for Fields<T, STATUS> {
    fn register(components: &mut Components, operation: &mut Operation) {
        let fields = T::to_schema(components);
        register(operation, STATUS, AllOf::new().item(success_schema()).item(fields));
    }
}

/// An answer that is not the envelope: the Pusher HTTP API's bodies, and
/// the audio's redirect to the edge or to nginx.
pub struct Raw {
    status: StatusCode,
    body: Option<Vec<u8>>,
    location: Option<String>,
    accel: Option<String>,
}

impl Raw {
    /// `body` as it is, with `status`.
    pub fn json(status: StatusCode, body: impl Serialize) -> Self {
        let (status, body) = match serde_json::to_vec(&body) {
            Ok(body) => (status, body),
            Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, b"{}".to_vec()),
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

    /// A 302 to `location`, with a body saying so.
    pub fn redirect(location: String) -> Self {
        #[derive(Serialize)]
        struct Redirecting {
            success: bool,
            message: &'static str,
        }
        let mut raw = Self::json(
            StatusCode::FOUND,
            Redirecting {
                success: true,
                message: "Redirecting to the audio",
            },
        );
        raw.location = Some(location);
        raw
    }
}

#[async_trait]
impl Writer for Raw {
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

/// The audio's answer: a redirect (302) to where it is served.
impl EndpointOutRegister for Raw {
    fn register(_components: &mut Components, operation: &mut Operation) {
        operation.responses.insert(
            "302",
            OapiResponse::new("Found: `Location` names the signed audio URL on the edge"),
        );
    }
}

/// `data: null`, for answers that only say something was done.
pub struct Nothing;

impl Serialize for Nothing {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_none()
    }
}

impl ToSchema for Nothing {
    fn to_schema(_components: &mut Components) -> RefOr<Schema> {
        Object::with_type(BasicType::Null).into()
    }
}

/// A JSON value built elsewhere (an event's payload, sent to listeners as
/// it is answered) in the shape `S` it was serialised from; the document
/// states `S`, and the tests check every such answer against it.
pub struct Shaped<S> {
    value: serde_json::Value,
    shape: std::marker::PhantomData<fn() -> S>,
}

impl<S> Shaped<S> {
    pub fn new(value: serde_json::Value) -> Self {
        Self {
            value,
            shape: std::marker::PhantomData,
        }
    }
}

impl<S> Serialize for Shaped<S> {
    fn serialize<Z: serde::Serializer>(&self, serializer: Z) -> Result<Z::Ok, Z::Error> {
        self.value.serialize(serializer)
    }
}

impl<S: ToSchema> ToSchema for Shaped<S> {
    fn to_schema(components: &mut Components) -> RefOr<Schema> {
        S::to_schema(components)
    }
}
