//! One WebSocket connection's traffic: queued frames out, client messages in,
//! a deadline for liveness and a way for the hub to close it.

use super::outbox::{Closing, Control, Frame};
use super::upgrade::Socket;
use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

/// Frames written in one go before flushing.
const WRITE_BATCH: usize = 64;

pub enum Inbound {
    Text(String),
    /// A frame that proves the client alive but carries nothing (pong, ping, binary).
    Alive,
    /// The liveness deadline passed.
    Deadline,
    /// The hub (or the server shutting down) asked for the connection to close.
    Close(Closing),
    /// The client sent a message over the size limit.
    TooLarge,
    /// The client is gone (closed, reset, or too slow to write to).
    Gone,
}

pub struct Link {
    socket: Socket,
    frames: mpsc::Receiver<Frame>,
    control: Arc<Control>,
    write_timeout: Duration,
}

impl Link {
    pub fn new(socket: Socket, frames: mpsc::Receiver<Frame>, control: Arc<Control>, write_timeout: Duration) -> Self {
        Self {
            socket,
            frames,
            control,
            write_timeout,
        }
    }

    /// Writes queued frames until something needs the session's attention.
    pub async fn next(&mut self, deadline: Instant) -> Inbound {
        loop {
            tokio::select! {
                biased;
                closing = self.control.closed() => return Inbound::Close(closing),
                Some(frame) = self.frames.recv() => {
                    // A client that stops reading blocks this write; the hub
                    // closing it (its queue overflowed) must not wait for it.
                    let control = Arc::clone(&self.control);
                    tokio::select! {
                        written = self.write_queued(frame) => if !written {
                            return Inbound::Gone;
                        },
                        closing = control.closed() => return Inbound::Close(closing),
                    }
                }
                message = self.socket.next() => return match message {
                    Some(Ok(Message::Text(text))) => Inbound::Text(text.as_str().to_owned()),
                    Some(Ok(Message::Close(_))) | None => Inbound::Gone,
                    Some(Ok(_)) => Inbound::Alive,
                    Some(Err(WsError::Capacity(CapacityError::MessageTooLong { .. }))) => Inbound::TooLarge,
                    Some(Err(_)) => Inbound::Gone,
                },
                _ = tokio::time::sleep_until(deadline) => return Inbound::Deadline,
            }
        }
    }

    /// `first` and whatever else is queued, then one flush.
    async fn write_queued(&mut self, first: Frame) -> bool {
        let write = async {
            self.socket.feed(Message::Text(first)).await?;
            for _ in 0..WRITE_BATCH {
                match self.frames.try_recv() {
                    Ok(frame) => self.socket.feed(Message::Text(frame)).await?,
                    Err(_) => break,
                }
            }
            self.socket.flush().await
        };
        matches!(tokio::time::timeout(self.write_timeout, write).await, Ok(Ok(())))
    }

    /// Sends one frame now, ahead of anything queued.
    pub async fn send(&mut self, frame: Frame) -> bool {
        let write = self.socket.send(Message::Text(frame));
        matches!(tokio::time::timeout(self.write_timeout, write).await, Ok(Ok(())))
    }

    pub async fn ping(&mut self) -> bool {
        let write = self.socket.send(Message::Ping(Default::default()));
        matches!(tokio::time::timeout(self.write_timeout, write).await, Ok(Ok(())))
    }

    /// Closes with `code`, waiting briefly for the client's answer.
    pub async fn close(mut self, closing: Closing) {
        let frame = CloseFrame {
            code: CloseCode::from(closing.code),
            reason: closing.reason.into(),
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), self.socket.close(Some(frame))).await;
    }
}
