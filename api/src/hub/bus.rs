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
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// Receives the other replicas' messages and publishes this one's presence
/// announcements until `stop`, reconnecting to Redis whenever the
/// subscription breaks.
pub async fn run(hub: Arc<Hub>, stop: tokio::sync::watch::Receiver<bool>) {
    if let Some(nodes) = hub.redis.cluster_nodes().map(<[String]>::to_vec) {
        return run_on_cluster(hub, nodes, stop).await;
    }
    run_on_one(hub, stop).await;
}

async fn run_on_one(hub: Arc<Hub>, mut stop: tokio::sync::watch::Receiver<bool>) {
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
        if !wait_to_retry(&mut stop, &mut backoff).await {
            return;
        }
    }
}

/// The same on a Redis Cluster: the common channel (`SUBSCRIBE`, which a
/// cluster carries to every node) and the sharded channel of each room this
/// replica has listeners of (`SSUBSCRIBE`, one node each). The cluster
/// connection reconnects and subscribes again by itself after a node
/// restarts or a slot moves; the messages arrive as RESP3 pushes.
async fn run_on_cluster(hub: Arc<Hub>, nodes: Vec<String>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let (Some(mut announcements), Some(mut interest)) = (hub.presence.take_outgoing(), hub.interest.take()) else {
        return;
    };
    let common = hub.redis.key(CHANNEL);
    let channel_of = |room: uuid::Uuid| hub.redis.key(&super::shards::room_channel(room));
    // Local channels per room (a room has a private and a presence one).
    let mut rooms: HashMap<uuid::Uuid, usize> = HashMap::new();
    let mut backoff = Duration::from_millis(100);
    let mut heartbeat = tokio::time::interval(presence::HEARTBEAT);
    // The cluster connection reconnects to a node, and subscribes there
    // again, only when a request to it fails: a PING to every node each
    // second is that request, so a restarted node's channels come back
    // within about a second.
    let mut liveness = tokio::time::interval(Duration::from_secs(1));
    let mut unwell = false;
    loop {
        let (pushed, mut pushes) = tokio::sync::mpsc::unbounded_channel();
        let rooms_now: Vec<String> = rooms.keys().map(|room| channel_of(*room)).collect();
        let session = async {
            let client = redis::cluster::ClusterClientBuilder::new(nodes.clone())
                .use_protocol(redis::ProtocolVersion::RESP3)
                .push_sender(pushed)
                .build()?;
            let mut connection = client.get_async_connection().await?;
            connection.subscribe(&common).await?;
            for channel in &rooms_now {
                connection.ssubscribe(channel).await?;
            }
            Ok::<_, redis::RedisError>(connection)
        };
        let connected = tokio::select! {
            _ = stop.changed() => return,
            connected = tokio::time::timeout(Duration::from_secs(2), session) => connected,
        };
        match connected {
            Ok(Ok(mut connection)) => {
                tracing::info!(%common, "hub subscribed to the Redis Cluster");
                hub.stats.bus_connected.store(true, Ordering::Relaxed);
                hub.presence.hello();
                backoff = Duration::from_millis(100);
                loop {
                    tokio::select! {
                        _ = stop.changed() => return,
                        push = pushes.recv() => match push {
                            Some(push) => {
                                if let (redis::PushKind::Message | redis::PushKind::SMessage, Some(redis::Value::BulkString(payload))) =
                                    (&push.kind, push.data.get(1))
                                {
                                    receive(&hub, payload);
                                } else if push.kind == redis::PushKind::Disconnection {
                                    // A node's connection dropped (a restart):
                                    // the client's own re-subscription may come
                                    // too early, and a PING it retried onto the
                                    // new connection never fails, so ask for
                                    // the channels again once all nodes answer.
                                    unwell = true;
                                }
                            }
                            None => break,
                        },
                        Some((room, open)) = interest.recv() => {
                            let count = rooms.entry(room).or_default();
                            let before = *count;
                            *count = if open { before + 1 } else { before.saturating_sub(1) };
                            let after = *count;
                            if after == 0 {
                                rooms.remove(&room);
                            }
                            let changed = match (before, after) {
                                (0, 1) => connection.ssubscribe(channel_of(room)).await,
                                (1, 0) => connection.sunsubscribe(channel_of(room)).await,
                                _ => Ok(()),
                            };
                            if let Err(error) = changed {
                                tracing::warn!(%error, %room, "the room's sharded channel could not be (un)subscribed");
                            }
                        }
                        Some(announcement) = announcements.recv() => hub.publish(&announcement).await,
                        _ = heartbeat.tick() => {
                            hub.presence.heartbeat();
                            hub.reap_silent_replicas();
                        }
                        _ = liveness.tick() => {
                            let ping = redis::cmd("PING");
                            let asked = ping.query_async::<redis::Value>(&mut connection);
                            let up = matches!(tokio::time::timeout(Duration::from_millis(500), asked).await, Ok(Ok(_)));
                            // The client's own subscribing again after a
                            // reconnection is tried once, and may reach a
                            // node not yet ready: once every node answers
                            // again, this replica's channels are asked for
                            // again (a repeated subscription is a no-op).
                            if !up {
                                unwell = true;
                            } else if std::mem::take(&mut unwell) {
                                let mut again = connection.subscribe(&common).await;
                                for room in rooms.keys() {
                                    again = again.and(connection.ssubscribe(channel_of(*room)).await);
                                }
                                if let Err(error) = again {
                                    tracing::warn!(%error, "the hub's channels could not be subscribed again");
                                    unwell = true;
                                }
                            }
                        }
                    }
                }
                hub.stats.bus_connected.store(false, Ordering::Relaxed);
                tracing::warn!("hub lost its Redis Cluster connection; reconnecting");
            }
            Ok(Err(error)) => tracing::warn!(%error, "hub cannot subscribe to the Redis Cluster; retrying"),
            Err(_) => tracing::warn!("hub's Redis Cluster subscription timed out; retrying"),
        }
        if !wait_to_retry(&mut stop, &mut backoff).await {
            return;
        }
    }
}

/// Waits `backoff` before the next attempt, doubling it up to a second:
/// Redis coming back is noticed within one, as by every other use of it
/// (cache.rs). False when the hub is stopping instead.
async fn wait_to_retry(stop: &mut tokio::sync::watch::Receiver<bool>, backoff: &mut Duration) -> bool {
    tokio::select! {
        _ = stop.changed() => return false,
        _ = tokio::time::sleep(*backoff) => {}
    }
    *backoff = (*backoff * 2).min(Duration::from_secs(1));
    true
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
