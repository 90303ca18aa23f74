//! One WebSocket connection's traffic: queued frames out, client messages in,
//! a deadline for liveness and a way for the hub to close it.

use super::upgrade::Socket;
use crate::config::HubConfig;
use crate::hub::delivery::{now_us, DeliveryLatency, Stamp};
use crate::hub::outbox::{Closing, Control, Frame, Outbox};
use crate::hub::HubStats;
use futures_util::{SinkExt, StreamExt};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::{Instant, Sleep};
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

/// When a client has last shown signs of life, and whether it has been pinged since.
pub struct Liveness {
    quiet: Duration,
    answer_within: Duration,
    deadline: Instant,
    pinged: bool,
}

impl Liveness {
    /// Ping after `quiet` without a message; give up `answer_within` later.
    pub fn new(quiet: Duration, answer_within: Duration) -> Self {
        Self {
            quiet,
            answer_within,
            deadline: Instant::now() + quiet,
            pinged: false,
        }
    }

    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    pub fn alive(&mut self) {
        self.pinged = false;
        self.deadline = Instant::now() + self.quiet;
    }

    /// The deadline passed: true if the client is to be pinged now, false
    /// if it was pinged already and never answered.
    pub fn ping_now(&mut self) -> bool {
        if self.pinged {
            return false;
        }
        self.pinged = true;
        self.deadline = Instant::now() + self.answer_within;
        true
    }
}

pub struct Link {
    socket: Socket,
    frames: mpsc::Receiver<Frame>,
    control: Arc<Control>,
    write_timeout: Duration,
    delivery: Arc<DeliveryLatency>,
    /// One timer for the liveness deadline, moved rather than re-created on
    /// every wake-up.
    deadline: Pin<Box<Sleep>>,
}

/// Writes `first` and whatever else is queued (skipping the empty wake-up
/// frames of [`crate::hub::outbox::Outbox::close`]), then flushes once.
/// The frames that tell room events are recorded in `delivery` once flushed.
async fn write_batch(
    socket: &mut Socket,
    frames: &mut mpsc::Receiver<Frame>,
    first: Frame,
    delivery: &DeliveryLatency,
) -> Result<(), WsError> {
    let mut stamps: Vec<Stamp> = Vec::new();
    let mut feed = async |socket: &mut Socket, frame: Frame| {
        stamps.extend(frame.stamp);
        socket.feed(Message::Text(frame.text)).await
    };
    if !first.is_empty() {
        feed(socket, first).await?;
    }
    for _ in 0..WRITE_BATCH {
        match frames.try_recv() {
            Ok(frame) if frame.is_empty() => {}
            Ok(frame) => feed(socket, frame).await?,
            Err(_) => break,
        }
    }
    socket.flush().await?;
    if !stamps.is_empty() {
        delivery.written(&stamps, now_us());
    }
    Ok(())
}

impl Link {
    fn new(
        socket: Socket,
        frames: mpsc::Receiver<Frame>,
        control: Arc<Control>,
        write_timeout: Duration,
        delivery: Arc<DeliveryLatency>,
    ) -> Self {
        Self {
            socket,
            frames,
            control,
            write_timeout,
            delivery,
            deadline: Box::pin(tokio::time::sleep(Duration::from_secs(3600))),
        }
    }

    /// Writes queued frames until something needs the session's attention.
    pub async fn next(&mut self, deadline: Instant) -> Inbound {
        if self.deadline.deadline() != deadline {
            self.deadline.as_mut().reset(deadline);
        }
        loop {
            if let Some(closing) = self.control.requested() {
                return Inbound::Close(closing);
            }
            tokio::select! {
                biased;
                Some(frame) = self.frames.recv() => {
                    if let Err(inbound) = self.write_queued(frame).await {
                        return inbound;
                    }
                }
                message = self.socket.next() => return match message {
                    Some(Ok(Message::Text(text))) => Inbound::Text(text.as_str().to_owned()),
                    Some(Ok(Message::Close(_))) | None => Inbound::Gone,
                    Some(Ok(_)) => Inbound::Alive,
                    Some(Err(WsError::Capacity(CapacityError::MessageTooLong { .. }))) => Inbound::TooLarge,
                    Some(Err(_)) => Inbound::Gone,
                },
                _ = &mut self.deadline => return Inbound::Deadline,
            }
        }
    }

    /// Writes `first` and what else is queued. Usually the socket takes it at
    /// once; only a write that has to wait is given a timeout and raced
    /// against the hub closing the connection (a client that stopped reading).
    async fn write_queued(&mut self, first: Frame) -> Result<(), Inbound> {
        let mut write = std::pin::pin!(write_batch(&mut self.socket, &mut self.frames, first, &self.delivery));
        let at_once = std::future::poll_fn(|cx| Poll::Ready(write.as_mut().poll(cx))).await;
        let outcome = match at_once {
            Poll::Ready(outcome) => outcome,
            Poll::Pending => tokio::select! {
                outcome = tokio::time::timeout(self.write_timeout, write) => match outcome {
                    Ok(outcome) => outcome,
                    Err(_) => return Err(Inbound::Gone),
                },
                closing = self.control.closed() => return Err(Inbound::Close(closing)),
            },
        };
        outcome.map_err(|_| Inbound::Gone)
    }

    /// A new connection's link, and the outbox through which the hub queues
    /// its frames (closed with `overflow` when it fills up).
    pub fn open(
        socket: Socket,
        config: &HubConfig,
        overflow: Closing,
        delivery: Arc<DeliveryLatency>,
    ) -> (Outbox, Self) {
        let (outbox, frames, control) = Outbox::new(config.client_buffer_frames, overflow);
        (
            outbox,
            Self::new(socket, frames, control, config.write_timeout, delivery),
        )
    }

    /// Says why in one frame, then closes.
    pub async fn refuse(mut self, why: Frame, closing: Closing) {
        self.send(why).await;
        self.close(closing).await;
    }

    /// Sends one frame now, ahead of anything queued.
    pub async fn send(&mut self, frame: Frame) -> bool {
        let write = self.socket.send(Message::Text(frame.text));
        matches!(tokio::time::timeout(self.write_timeout, write).await, Ok(Ok(())))
    }

    pub async fn ping(&mut self) -> bool {
        let write = self.socket.send(Message::Ping(Default::default()));
        matches!(tokio::time::timeout(self.write_timeout, write).await, Ok(Ok(())))
    }

    /// Ends the connection for the terminal `inbound` (close request, oversized
    /// message, client gone); `overflow` is how the hub closes slow clients.
    pub async fn end(self, inbound: Inbound, overflow: &Closing, stats: &HubStats) {
        match inbound {
            Inbound::Close(closing) => {
                if &closing == overflow {
                    stats.slow_client_closed();
                }
                self.close(closing).await;
            }
            Inbound::TooLarge => {
                self.close(Closing {
                    code: 1009,
                    reason: "Message too large",
                })
                .await
            }
            _ => {}
        }
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

#[cfg(test)]
mod tests {
    use super::Liveness;
    use std::time::Duration;

    #[test]
    fn a_quiet_client_is_pinged_once_then_given_up_on() {
        let mut liveness = Liveness::new(Duration::from_secs(120), Duration::from_secs(30));
        let first = liveness.deadline();
        assert!(liveness.ping_now(), "first deadline: ping");
        assert!(liveness.deadline() < first + Duration::from_secs(31));
        assert!(!liveness.ping_now(), "no answer to the ping: give up");
        liveness.alive();
        assert!(liveness.ping_now(), "any message starts over");
    }
}
