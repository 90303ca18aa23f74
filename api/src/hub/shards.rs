//! Which rooms this replica listens to, for a bus on a Redis Cluster.
//!
//! On a cluster each room's events travel on a sharded channel of their own
//! (`SPUBLISH <prefix>room:<id>`), carried by the one node that owns its
//! slot, and a replica subscribes to it (`SSUBSCRIBE`) only while it has a
//! listener of the room: the bus's work grows with the replicas a room's
//! listeners are on, not with every replica times every room. The hub tells
//! the bus when a room's first local channel opens and its last closes.

use tokio::sync::mpsc;
use uuid::Uuid;

/// A room's channels opened here (`true`) or all closed (`false`).
pub type Change = (Uuid, bool);

pub struct Interest {
    /// Off on a single Redis: every replica hears everything there.
    sharded: bool,
    sender: mpsc::UnboundedSender<Change>,
    receiver: std::sync::Mutex<Option<mpsc::UnboundedReceiver<Change>>>,
}

impl Interest {
    pub fn new(sharded: bool) -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        Self {
            sharded,
            sender,
            receiver: std::sync::Mutex::new(Some(receiver)),
        }
    }

    pub fn sharded(&self) -> bool {
        self.sharded
    }

    /// `channel` has its first subscriber here.
    pub fn opened(&self, channel: &str) {
        self.tell(channel, true);
    }

    /// `channel` has lost its last subscriber here.
    pub fn closed(&self, channel: &str) {
        self.tell(channel, false);
    }

    fn tell(&self, channel: &str, open: bool) {
        // Only the bus on a cluster takes the receiver; without it nothing is
        // queued (the channel would grow without bound).
        if let Some(room) = super::frames::room_of(channel).filter(|_| self.sharded) {
            let _ = self.sender.send((room, open));
        }
    }

    /// The changes, for the bus (once).
    pub fn take(&self) -> Option<mpsc::UnboundedReceiver<Change>> {
        self.receiver.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// The sharded channel of `room`, before the key prefix.
pub fn room_channel(room: Uuid) -> String {
    format!("room:{room}")
}
