//! A listener of the front end's native protocol, as the load tools open it.

use futures_util::SinkExt;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Connects to `url` (`ws://…/ws?token=…`) and asks to join `room`; the
/// caller reads `room_joined` and what follows.
pub async fn join_room(url: &str, room: &str) -> Socket {
    // A small read buffer: tungstenite zero-fills it on every read.
    let config = WebSocketConfig::default().read_buffer_size(16 * 1024);
    let (mut socket, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), true)
        .await
        .expect("connect");
    let join = serde_json::json!({ "type": "join_room", "data": { "room_id": room } }).to_string();
    socket.send(Message::text(join)).await.expect("join_room");
    socket
}
