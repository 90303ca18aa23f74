//! What the hub holds of a connection: a bounded queue of frames and a way to
//! close it.
//!
//! Fan-out never waits on a client: a frame is either queued at once or, when
//! the client's queue is full (it reads slower than events arrive), the
//! connection is told to close with a code that makes the client reconnect
//! later and refetch the room. One slow or dead client therefore costs the
//! others nothing.

use super::delivery::Stamp;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, Notify};
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// A text frame, shared by every recipient of the same event, with the
/// stamp of the room event it tells (for its delivery time).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frame {
    pub text: Utf8Bytes,
    pub stamp: Option<Stamp>,
}

impl Frame {
    pub fn stamped(self, stamp: Option<Stamp>) -> Self {
        Self { stamp, ..self }
    }
}

impl From<String> for Frame {
    fn from(text: String) -> Self {
        Self {
            text: text.into(),
            stamp: None,
        }
    }
}

impl From<&'static str> for Frame {
    fn from(text: &'static str) -> Self {
        Self {
            text: text.into(),
            stamp: None,
        }
    }
}

impl std::ops::Deref for Frame {
    type Target = str;

    fn deref(&self) -> &str {
        self.text.as_str()
    }
}

/// Why and how a connection is to be closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Closing {
    pub code: u16,
    pub reason: &'static str,
}

#[derive(Default)]
pub struct Control {
    closing: Mutex<Option<Closing>>,
    requested: AtomicBool,
    notify: Notify,
}

impl Control {
    /// Asks the connection to close; the first reason given wins.
    pub fn close(&self, closing: Closing) {
        if self.requested.swap(true, Ordering::AcqRel) {
            return;
        }
        *self.closing.lock().unwrap_or_else(|e| e.into_inner()) = Some(closing);
        self.notify.notify_one();
    }

    /// The reason to close, if one was given (a cheap check).
    pub fn requested(&self) -> Option<Closing> {
        if !self.requested.load(Ordering::Acquire) {
            return None;
        }
        self.closing.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Resolves once [`Control::close`] has been called.
    pub async fn closed(&self) -> Closing {
        loop {
            if let Some(closing) = self.closing.lock().unwrap_or_else(|e| e.into_inner()).clone() {
                return closing;
            }
            self.notify.notified().await;
        }
    }
}

#[derive(Clone)]
pub struct Outbox {
    frames: mpsc::Sender<Frame>,
    control: Arc<Control>,
    overflow: Closing,
}

impl Outbox {
    /// A queue of `capacity` frames; `overflow` is how the connection is
    /// closed when it fills up.
    pub fn new(capacity: usize, overflow: Closing) -> (Self, mpsc::Receiver<Frame>, Arc<Control>) {
        let (frames, receiver) = mpsc::channel(capacity.max(1));
        let control = Arc::new(Control::default());
        (
            Self {
                frames,
                control: Arc::clone(&control),
                overflow,
            },
            receiver,
            control,
        )
    }

    /// Queues `frame` without waiting; false if the client is gone or too slow
    /// (it is then being closed).
    pub fn push(&self, frame: &Frame) -> bool {
        match self.frames.try_send(frame.clone()) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                // The connection's task has frames to send, so it is awake or
                // blocked in a write: either way it sees the request.
                self.control.close(self.overflow.clone());
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Asks the connection to close. An empty frame wakes its task if it is
    /// waiting for frames; a task busy writing is woken through [`Control`].
    pub fn close(&self, closing: Closing) {
        self.control.close(closing);
        let _ = self.frames.try_send(Frame::default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_queue_closes_the_connection_instead_of_waiting() {
        let overflow = Closing {
            code: 4100,
            reason: "too slow",
        };
        let (outbox, mut frames, control) = Outbox::new(2, overflow.clone());
        let frame = Frame::from("x");
        assert!(outbox.push(&frame));
        assert!(outbox.push(&frame));
        assert!(!outbox.push(&frame), "the third frame does not fit");
        assert_eq!(control.closed().await, overflow);
        assert_eq!(frames.recv().await.as_deref(), Some("x"));
    }

    #[tokio::test]
    async fn the_first_reason_to_close_wins() {
        let (outbox, _frames, control) = Outbox::new(1, Closing { code: 1, reason: "a" });
        outbox.close(Closing { code: 2, reason: "b" });
        outbox.close(Closing { code: 3, reason: "c" });
        assert_eq!(control.closed().await.code, 2);
    }
}
