//! Redis pub/sub between API replicas.
//!
//! Every replica publishes what it raises on one channel
//! (`<REDIS_PREFIX>hub`) and delivers what the others raise to its own
//! clients; a replica skips its own messages coming back, having delivered
//! them already. When Redis goes away the subscriber reconnects with backoff;
//! clients and their subscriptions live in the replica, so nothing of them is
//! lost, and an event raised meanwhile on another replica shows up as a gap in
//! the room's `seq`, which tells the client to refetch the room.

use super::presence;
use crate::events::RoomEvent;
use crate::state::{AppState, State};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::sync::atomic::Ordering;
use std::time::Duration;
use uuid::Uuid;

/// The Redis channel (after the key prefix).
pub const CHANNEL: &str = "hub";

/// An event from the HTTP publishing API, in Pusher's terms.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PusherEvent {
    pub name: String,
    pub channels: Vec<String>,
    /// Already a string, as Pusher carries it.
    pub data: String,
    /// The publisher's own connection, left out.
    pub socket_id: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Broadcast {
    Room(RoomEvent),
    Pusher(PusherEvent),
    Revoked {
        session: Uuid,
    },
    /// A replica's first connection of a user on a presence channel.
    MemberUp {
        origin: String,
        channel: String,
        user_id: String,
        info: serde_json::Value,
    },
    /// A replica's last connection of a user on a presence channel left.
    MemberDown {
        origin: String,
        channel: String,
        user_id: String,
    },
    /// A replica (re)joined the bus: the others announce their members again.
    Hello {
        origin: String,
    },
    Heartbeat {
        origin: String,
    },
    /// A replica asks the others for their subscription counts.
    CensusQuery {
        origin: String,
        request: u64,
    },
    CensusReply {
        origin: String,
        to: String,
        request: u64,
        channels: Vec<(String, usize)>,
    },
}

#[derive(Serialize)]
struct Outgoing<'a> {
    origin: &'a str,
    message: &'a Broadcast,
}

#[derive(Deserialize)]
struct Incoming {
    origin: String,
    message: Broadcast,
}

/// Sends `message` to the other replicas (best effort: with Redis down, only
/// this replica's clients have it).
pub async fn publish(state: &AppState, message: &Broadcast) {
    let envelope = Outgoing {
        origin: &state.hub.origin,
        message,
    };
    if let Ok(json) = serde_json::to_string(&envelope) {
        if !state.cache.publish(CHANNEL, &json).await {
            tracing::debug!("hub message not fanned out: Redis is unavailable");
        }
    }
}

/// Delivers `message` here and publishes it to the other replicas.
pub async fn broadcast(state: &AppState, message: &Broadcast) {
    state.hub.deliver(message);
    publish(state, message).await;
}

/// Receives the other replicas' messages and publishes this one's presence
/// announcements until `stop`, reconnecting to Redis whenever the
/// subscription breaks.
pub async fn run(state: State, mut stop: tokio::sync::watch::Receiver<bool>) {
    let (Some(client), Some(mut announcements)) = (state.cache.client(), state.hub.presence.take_outgoing()) else {
        return;
    };
    let channel = state.cache.key(CHANNEL);
    let mut backoff = Duration::from_millis(100);
    let mut heartbeat = tokio::time::interval(presence::HEARTBEAT);
    loop {
        let session = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            Ok::<_, redis::RedisError>(pubsub)
        };
        let pubsub = tokio::select! {
            _ = stop.changed() => return,
            connected = tokio::time::timeout(Duration::from_secs(2), session) => connected,
        };
        match pubsub {
            Ok(Ok(pubsub)) => {
                tracing::info!(%channel, "hub subscribed to Redis");
                state.hub.stats.bus_connected.store(true, Ordering::Relaxed);
                state.hub.presence.hello();
                backoff = Duration::from_millis(100);
                let mut messages = pubsub.into_on_message();
                loop {
                    tokio::select! {
                        _ = stop.changed() => return,
                        message = messages.next() => match message {
                            Some(message) => receive(&state, message.get_payload_bytes()),
                            None => break,
                        },
                        Some(announcement) = announcements.recv() => publish(&state, &announcement).await,
                        _ = heartbeat.tick() => {
                            state.hub.presence.heartbeat();
                            state.hub.reap_silent_replicas();
                        }
                    }
                }
                state.hub.stats.bus_connected.store(false, Ordering::Relaxed);
                tracing::warn!("hub lost its Redis subscription; reconnecting");
            }
            Ok(Err(error)) => tracing::warn!(%error, "hub cannot subscribe to Redis; retrying"),
            Err(_) => tracing::warn!("hub's Redis subscription timed out; retrying"),
        }
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(backoff) => {}
        }
        // At most a second between attempts: Redis coming back is noticed
        // within one, as by every other use of it (cache.rs).
        backoff = (backoff * 2).min(Duration::from_secs(1));
    }
}

fn receive(state: &AppState, payload: &[u8]) {
    match serde_json::from_slice::<Incoming>(payload) {
        Ok(envelope) if envelope.origin == state.hub.origin => {}
        Ok(envelope) => {
            state.hub.presence.heard(&envelope.origin);
            state.hub.stats.bus_messages.fetch_add(1, Ordering::Relaxed);
            state.hub.deliver(&envelope.message);
        }
        Err(error) => tracing::warn!(%error, "unreadable message on the hub channel"),
    }
}
