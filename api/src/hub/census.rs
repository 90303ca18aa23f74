//! How many subscriptions each channel has across every replica, asked on
//! demand for Pusher's channel queries.
//!
//! The replica asked publishes a `CensusQuery` on the bus; every other live
//! replica answers with its own counts, and the answers are summed. Replicas
//! that do not answer within [`WAIT`] are left out (the answer is then a lower
//! bound, as it is with Redis down: this replica's counts only).

use super::message::Broadcast;
use super::Hub;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::mpsc;

/// How long the replica asked waits for the others.
const WAIT: Duration = Duration::from_millis(250);

/// Channel name → subscriptions.
pub type Counts = Vec<(String, usize)>;

#[derive(Default)]
pub struct Census {
    next: AtomicU64,
    pending: Mutex<HashMap<u64, mpsc::UnboundedSender<Counts>>>,
}

impl Census {
    /// Another replica asked: answer with this replica's counts.
    pub fn answer(&self, hub: &Hub, asker: &str, request: u64) {
        hub.presence.send(Broadcast::CensusReply {
            origin: hub.origin.clone(),
            to: asker.to_owned(),
            request,
            channels: hub.local_counts(),
        });
    }

    /// An answer arrived (for this replica, or for another: then ignored).
    pub fn received(&self, hub: &Hub, to: &str, request: u64, channels: &Counts) {
        if to != hub.origin {
            return;
        }
        if let Some(waiting) = self.pending.lock().unwrap_or_else(|e| e.into_inner()).get(&request) {
            let _ = waiting.send(channels.clone());
        }
    }

    /// Subscriptions per channel on every replica that answers in time.
    pub async fn gather(&self, hub: &Hub) -> HashMap<String, usize> {
        let mut counts: HashMap<String, usize> = hub.local_counts().into_iter().collect();
        let others = hub.presence.live_nodes();
        if others == 0 || !hub.stats.bus_connected.load(Ordering::Relaxed) {
            return counts;
        }
        let request = self.next.fetch_add(1, Ordering::Relaxed);
        let (sender, mut answers) = mpsc::unbounded_channel();
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(request, sender);
        hub.presence.send(Broadcast::CensusQuery {
            origin: hub.origin.clone(),
            request,
        });
        let deadline = tokio::time::Instant::now() + WAIT;
        for _ in 0..others {
            match tokio::time::timeout_at(deadline, answers.recv()).await {
                Ok(Some(channels)) => {
                    for (name, subscriptions) in channels {
                        *counts.entry(name).or_default() += subscriptions;
                    }
                }
                _ => break,
            }
        }
        self.pending.lock().unwrap_or_else(|e| e.into_inner()).remove(&request);
        counts
    }
}
