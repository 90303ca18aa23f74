//! WebSocket clients for the tests: one speaking Pusher protocol 7 as
//! pusher-js does, one speaking the front end's native protocol.

use crate::support::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long a test waits for a frame it expects.
pub const PATIENCE: Duration = Duration::from_secs(5);

pub async fn open(url: &str) -> Socket {
    tokio_tungstenite::connect_async(url)
        .await
        .expect("WebSocket handshake")
        .0
}

/// The next text frame as JSON; None if the socket closed or nothing came in `wait`.
pub async fn next_json(socket: &mut Socket, wait: Duration) -> Option<Value> {
    loop {
        match tokio::time::timeout(wait, socket.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => return Some(serde_json::from_str(&text).expect("frames are JSON")),
            Ok(Some(Ok(Message::Close(_)))) | Ok(None) | Ok(Some(Err(_))) | Err(_) => return None,
            Ok(Some(Ok(_))) => continue,
        }
    }
}

/// The close frame the server sends, skipping anything before it.
pub async fn close_code(socket: &mut Socket) -> Option<u16> {
    loop {
        match tokio::time::timeout(PATIENCE, socket.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => return frame.map(|f: CloseFrame| u16::from(f.code)),
            Ok(Some(Ok(_))) => continue,
            _ => return None,
        }
    }
}

pub struct PusherClient {
    pub socket: Socket,
    pub socket_id: String,
    pub established: Value,
}

impl PusherClient {
    pub async fn connect(app: &TestApp) -> Self {
        let key = &app.state.config.hub.app_key;
        let mut socket = open(&format!(
            "ws://{}/app/{key}?protocol=7&client=js&version=8.4.0",
            app.addr
        ))
        .await;
        let frame = next_json(&mut socket, PATIENCE).await.expect("connection_established");
        assert_eq!(frame["event"], "pusher:connection_established", "{frame}");
        let established: Value = serde_json::from_str(frame["data"].as_str().expect("data is a string")).unwrap();
        Self {
            socket,
            socket_id: established["socket_id"].as_str().unwrap().to_owned(),
            established,
        }
    }

    pub async fn send(&mut self, frame: Value) {
        self.socket.send(Message::text(frame.to_string())).await.unwrap();
    }

    /// The next frame; `data` parsed when it is a JSON string.
    pub async fn next(&mut self, wait: Duration) -> Option<Value> {
        let mut frame = next_json(&mut self.socket, wait).await?;
        if let Some(data) = frame["data"]
            .as_str()
            .and_then(|d| serde_json::from_str::<Value>(d).ok())
        {
            frame["data"] = data;
        }
        Some(frame)
    }

    /// Waits for `event`, skipping others; panics after [`PATIENCE`].
    pub async fn expect(&mut self, event: &str) -> Value {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Some(frame) if frame["event"] == event => return frame,
                Some(_) => continue,
                None => panic!("no {event} within {PATIENCE:?}"),
            }
        }
    }

    /// Asks the API for a signature as pusher-js's authorizer does.
    pub async fn authorize(&self, app: &TestApp, token: &str, channel: &str) -> Answer {
        let response = app
            .client
            .post(app.url("/broadcasting/auth"))
            .bearer_auth(token)
            .form(&[("socket_id", self.socket_id.as_str()), ("channel_name", channel)])
            .send()
            .await
            .unwrap();
        answer(response).await
    }

    /// Authorises and subscribes; returns the `subscription_succeeded` frame.
    pub async fn subscribe(&mut self, app: &TestApp, token: &str, channel: &str) -> Value {
        let auth = self.authorize(app, token, channel).await;
        assert_eq!(auth.status, 200, "{:?}", auth.body);
        self.send(json!({
            "event": "pusher:subscribe",
            "data": { "channel": channel, "auth": auth.body["auth"], "channel_data": auth.body["channel_data"] },
        }))
        .await;
        let frame = self.expect("pusher_internal:subscription_succeeded").await;
        assert_eq!(frame["channel"], channel);
        frame
    }
}

pub struct NativeClient {
    pub socket: Socket,
}

impl NativeClient {
    pub async fn connect(app: &TestApp, token: &str) -> Self {
        let mut socket = open(&format!("ws://{}/ws?token={token}", app.addr)).await;
        let frame = next_json(&mut socket, PATIENCE).await.expect("connection_established");
        assert_eq!(frame["type"], "connection_established", "{frame}");
        Self { socket }
    }

    pub async fn send(&mut self, kind: &str, data: Value) {
        let frame = json!({ "type": kind, "data": data }).to_string();
        self.socket.send(Message::text(frame)).await.unwrap();
    }

    pub async fn expect(&mut self, kind: &str) -> Value {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match next_json(&mut self.socket, left).await {
                Some(frame) if frame["type"] == kind => return frame["data"].clone(),
                Some(_) => continue,
                None => panic!("no {kind} within {PATIENCE:?}"),
            }
        }
    }

    pub async fn join(&mut self, room: &str) -> Value {
        self.send("join_room", json!({ "room_id": room })).await;
        self.expect("room_joined").await
    }
}
