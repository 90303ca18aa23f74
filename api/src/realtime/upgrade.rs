//! The WebSocket handshake on a salvo request.
//!
//! Done here rather than with salvo's `WebSocketUpgrade`, which panics in its
//! spawned task when a client goes away before the upgrade completes — with
//! `panic = "abort"` that would take the whole API down.

use crate::http::cors::AllowedOrigins;
use crate::http::error::ApiError;
use salvo::http::headers::{HeaderMapExt, SecWebsocketAccept, SecWebsocketKey};
use salvo::http::StatusCode;
use salvo::hyper::upgrade::OnUpgrade;
use salvo::prelude::*;
use salvo::rt::tokio::TokioIo;
use std::future::Future;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;

/// Read buffer per connection: client messages (`join_room`, pings,
/// subscriptions) are a few dozen bytes, a larger one is read in several
/// goes, and every idle connection holds this much (measured with
/// `idle-sockets`: 4096 → 512 took an idle WebSocket from ~10.5 to ~7.1 KB).
const READ_BUFFER_BYTES: usize = 512;

pub type Socket = WebSocketStream<TokioIo<salvo::hyper::upgrade::Upgraded>>;

fn header_has_token(req: &Request, name: &str, token: &str) -> bool {
    req.headers()
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| v.trim().eq_ignore_ascii_case(token))
}

/// The 503 a handshake is answered with when no socket may be admitted.
pub fn full(full: crate::hub::admission::Full) -> ApiError {
    let message = match full {
        crate::hub::admission::Full::Server => "The server holds all the WebSockets it can, try again shortly",
        crate::hub::admission::Full::Client => "Too many WebSockets from this address (WS_MAX_PER_CLIENT)",
    };
    ApiError::Busy {
        message: message.into(),
        retry_after_secs: 5,
    }
}

/// Answers `101 Switching Protocols` and returns the socket to come, or
/// refuses a request that is not a WebSocket handshake (`426`).
pub fn accept(
    req: &mut Request,
    res: &mut Response,
    origins: &AllowedOrigins,
    max_message_bytes: usize,
) -> Result<impl Future<Output = Option<Socket>> + Send + 'static, ApiError> {
    // Browsers let any page open a WebSocket anywhere; CORS does not apply.
    let origin = req.headers().get("origin").and_then(|v| v.to_str().ok());
    let host = req.headers().get("host").and_then(|v| v.to_str().ok());
    if !origins.allows_socket(origin, host) {
        return Err(ApiError::Forbidden(
            "This origin may not open a WebSocket here (CORS_ALLOWED_ORIGINS)".into(),
        ));
    }
    let is_handshake = header_has_token(req, "connection", "upgrade")
        && header_has_token(req, "upgrade", "websocket")
        && req
            .headers()
            .get("sec-websocket-version")
            .is_some_and(|v| v.as_bytes() == b"13");
    let key = req.headers().typed_get::<SecWebsocketKey>();
    let (Some(key), true) = (key, is_handshake) else {
        return Err(ApiError::UpgradeRequired(
            "This endpoint speaks WebSocket (version 13) only".into(),
        ));
    };
    let on_upgrade = req
        .extensions_mut()
        .remove::<OnUpgrade>()
        .ok_or_else(|| ApiError::UpgradeRequired("This connection cannot be upgraded".into()))?;
    res.status_code(StatusCode::SWITCHING_PROTOCOLS);
    res.headers_mut()
        .insert("connection", "upgrade".parse().expect("static"));
    res.headers_mut()
        .insert("upgrade", "websocket".parse().expect("static"));
    res.headers_mut().typed_insert(SecWebsocketAccept::from(key));
    // tungstenite zero-fills its read buffer up to this size on every read
    // attempt (128 KiB by default, which profiled at 43 % of a fan-out's CPU
    // time); client messages here are small.
    let config = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_BYTES)
        .max_message_size(Some(max_message_bytes))
        .max_frame_size(Some(max_message_bytes));
    Ok(async move {
        match on_upgrade.await {
            Ok(upgraded) => {
                Some(WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await)
            }
            Err(error) => {
                tracing::debug!(%error, "client left before the WebSocket upgrade completed");
                None
            }
        }
    })
}
