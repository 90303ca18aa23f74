//! A round trip through the bus between replicas: this replica publishes an
//! echo on the Redis channel and waits to hear it come back on its own
//! subscription. It is the path every event raised elsewhere takes to this
//! replica's clients, so the health check times it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use tokio::sync::oneshot;

#[derive(Default)]
pub struct Echoes {
    next: AtomicU64,
    waiting: Mutex<HashMap<u64, oneshot::Sender<()>>>,
}

/// An echo sent and not yet heard; forgotten when dropped.
pub struct Waiting<'a> {
    echoes: &'a Echoes,
    pub nonce: u64,
    heard: oneshot::Receiver<()>,
}

impl Echoes {
    pub fn expect(&self) -> Waiting<'_> {
        let nonce = self.next.fetch_add(1, Ordering::Relaxed);
        let (sender, heard) = oneshot::channel();
        self.waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(nonce, sender);
        Waiting {
            echoes: self,
            nonce,
            heard,
        }
    }

    /// This replica's echo `nonce` came back from the bus.
    pub fn heard(&self, nonce: u64) {
        if let Some(sender) = self.waiting.lock().unwrap_or_else(|e| e.into_inner()).remove(&nonce) {
            let _ = sender.send(());
        }
    }
}

impl Waiting<'_> {
    /// Resolves when the echo comes back (never, if the bus is down: bound it).
    pub async fn heard(&mut self) -> bool {
        (&mut self.heard).await.is_ok()
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.echoes
            .waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.nonce);
    }
}
