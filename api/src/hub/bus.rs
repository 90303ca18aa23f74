//! Redis pub/sub between API replicas.
//!
//! Every replica publishes what it raises on one channel
//! (`<REDIS_PREFIX>hub`) and delivers what the others raise to its own
//! clients; a replica skips its own messages coming back, having delivered
//! them already. When Redis goes away the subscriber reconnects with backoff;
//! clients and their subscriptions live in the replica, so nothing of them is
//! lost, and an event raised meanwhile on another replica shows up as a gap in
//! the room's `seq`, which tells the client to refetch the room.

use super::message::{Broadcast, Incoming};
use super::{presence, Hub, CHANNEL};
use futures_util::StreamExt;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// Receives the other replicas' messages and publishes this one's presence
/// announcements until `stop`, reconnecting to Redis whenever the
/// subscription breaks.
pub async fn run(hub: Arc<Hub>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let (Some(client), Some(mut announcements)) = (hub.redis.client(), hub.presence.take_outgoing()) else {
        return;
    };
    let channel = hub.redis.key(CHANNEL);
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
                hub.stats.bus_connected.store(true, Ordering::Relaxed);
                hub.presence.hello();
                backoff = Duration::from_millis(100);
                let mut messages = pubsub.into_on_message();
                loop {
                    tokio::select! {
                        _ = stop.changed() => return,
                        message = messages.next() => match message {
                            Some(message) => receive(&hub, message.get_payload_bytes()),
                            None => break,
                        },
                        Some(announcement) = announcements.recv() => hub.publish(&announcement).await,
                        _ = heartbeat.tick() => {
                            hub.presence.heartbeat();
                            hub.reap_silent_replicas();
                        }
                    }
                }
                hub.stats.bus_connected.store(false, Ordering::Relaxed);
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

fn receive(hub: &Hub, payload: &[u8]) {
    match serde_json::from_slice::<Incoming>(payload) {
        Ok(envelope) if envelope.origin == hub.origin => {
            if let Broadcast::Echo { nonce } = envelope.message {
                hub.echoes.heard(nonce);
            }
        }
        Ok(envelope) => {
            hub.presence.heard(&envelope.origin);
            hub.stats.bus_messages.fetch_add(1, Ordering::Relaxed);
            hub.deliver(&envelope.message);
        }
        Err(error) => tracing::warn!(%error, "unreadable message on the hub channel"),
    }
}
