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
    // The cluster connection subscribes again by itself only after a
    // request fails and it reconnects, once, possibly to a node not yet
    // ready; and a node that loses a slot (resharding) drops the slot's
    // sharded subscribers without closing anything. So each second the bus
    // asks every node what its connection holds (`CLIENT INFO`) and asks
    // again for its channels when any is missing.
    let mut audit = tokio::time::interval(Duration::from_secs(1));
    // A cluster that refuses `CLIENT INFO` (an ACL) is said once, not each second.
    let mut refusal_told = false;
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
                        _ = audit.tick() => {
                            let held = tokio::time::timeout(Duration::from_millis(500), held_channels(&mut connection)).await;
                            let held = match held {
                                Ok(Ok(held)) => held,
                                Ok(Err(error)) if error.code() == Some("NOPERM") => {
                                    if !std::mem::replace(&mut refusal_told, true) {
                                        tracing::error!(%error, "CLIENT INFO refused: channels lost on a node restart or a slot move go unnoticed");
                                    }
                                    continue;
                                }
                                // A node that does not answer is reconnected
                                // by the request that failed; checked again
                                // next second.
                                _ => continue,
                            };
                            if held.common == 0 || held.sharded < rooms.len() {
                                tracing::warn!(
                                    common = held.common,
                                    rooms = held.sharded,
                                    wanted = rooms.len(),
                                    "the hub's Redis Cluster channels were lost; subscribing again"
                                );
                                hub.stats.bus_resubscriptions.fetch_add(1, Ordering::Relaxed);
                                // A repeated subscription is a no-op.
                                let mut again = connection.subscribe(&common).await;
                                for room in rooms.keys() {
                                    again = again.and(connection.ssubscribe(channel_of(*room)).await);
                                }
                                if let Err(error) = again {
                                    tracing::warn!(%error, "the hub's channels could not be subscribed again");
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

/// Channels held by this process's connections to a cluster, summed over
/// the primaries: one connection each, which carries every subscription
/// made through that node.
#[derive(Debug, Default, PartialEq)]
struct Held {
    common: usize,
    sharded: usize,
}

async fn held_channels(connection: &mut redis::cluster_async::ClusterConnection) -> redis::RedisResult<Held> {
    use redis::cluster_routing::{MultipleNodeRoutingInfo, RoutingInfo};
    let every_primary = RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None));
    let answers = connection
        .route_command(redis::cmd("CLIENT").arg("INFO"), every_primary)
        .await?;
    let mut held = Held::default();
    for (_node, answer) in answers.as_map_iter().into_iter().flatten() {
        let line = match answer {
            redis::Value::VerbatimString { text, .. } => text.clone(),
            other => redis::from_redis_value::<String>(other)?,
        };
        let one = held_by(&line);
        held.common += one.common;
        held.sharded += one.sharded;
    }
    Ok(held)
}

/// The `sub=` and `ssub=` fields of a `CLIENT INFO` line.
fn held_by(line: &str) -> Held {
    let field = |name: &str| {
        line.split_whitespace()
            .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
            .unwrap_or(0)
    };
    Held {
        common: field("sub"),
        sharded: field("ssub"),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_subscriptions_of_a_client_info_line() {
        let line = "id=7 addr=127.0.0.1:5 laddr=127.0.0.1:6 fd=9 name= age=3 idle=0 flags=P db=0 \
                    sub=1 psub=0 ssub=12 multi=-1 qbuf=0 resp=3";
        assert_eq!(held_by(line), Held { common: 1, sharded: 12 });
        assert_eq!(held_by("id=7 flags=N sub=0 psub=3"), Held::default());
    }
}
