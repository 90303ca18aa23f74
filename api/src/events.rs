//! The one seam through which every room event leaves the API.
//!
//! A change and its event number are written in the same transaction
//! ([`stamp`]); after commit the event is [`Events::publish`]ed to local
//! subscribers (the WebSocket hub) and to Redis, so that hubs of other API
//! replicas receive it too. Sequence numbers live in PostgreSQL, so they are
//! the same on every replica and survive restarts.

use crate::cache::Cache;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use sqlx::PgConnection;
use std::sync::Arc;
use tokio::sync::broadcast;
use uuid::Uuid;

/// The Redis channel (after the key prefix) carrying every room event.
pub const CHANNEL: &str = "room-events";

#[derive(Clone, Debug, Serialize)]
pub struct RoomEvent {
    pub room_id: Uuid,
    pub name: &'static str,
    pub seq: i64,
    /// The full payload, `room_id`, `timestamp` and `seq` included.
    pub payload: Value,
}

/// An event stamped inside a transaction, to publish once it commits.
#[must_use = "publish the event after the transaction commits"]
pub struct Pending(RoomEvent);

/// Takes the room's next sequence number and builds the payload.
pub async fn stamp(
    tx: &mut PgConnection,
    room_id: Uuid,
    name: &'static str,
    data: Value,
) -> Result<Pending, sqlx::Error> {
    let (seq, now): (i64, DateTime<Utc>) =
        sqlx::query_as("UPDATE rooms SET event_seq = event_seq + 1 WHERE id = $1 RETURNING event_seq, now()")
            .bind(room_id)
            .fetch_one(tx)
            .await?;
    let mut payload = match data {
        Value::Object(map) => map,
        other => {
            let mut map = Map::new();
            map.insert("data".into(), other);
            map
        }
    };
    payload.insert("room_id".into(), Value::String(room_id.to_string()));
    payload.insert(
        "timestamp".into(),
        Value::String(now.to_rfc3339_opts(SecondsFormat::Millis, true)),
    );
    payload.insert("seq".into(), Value::from(seq));
    Ok(Pending(RoomEvent {
        room_id,
        name,
        seq,
        payload: Value::Object(payload),
    }))
}

pub struct Events {
    local: broadcast::Sender<Arc<RoomEvent>>,
}

impl Default for Events {
    fn default() -> Self {
        Self {
            local: broadcast::channel(4096).0,
        }
    }
}

impl Events {
    /// Local subscribers: the WebSocket hub, and tests.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<RoomEvent>> {
        self.local.subscribe()
    }

    /// Publishes committed events, in order.
    pub async fn publish(&self, cache: &Cache, events: impl IntoIterator<Item = Pending>) {
        for Pending(event) in events {
            if let Ok(json) = serde_json::to_string(&event) {
                if !cache.publish(CHANNEL, &json).await {
                    tracing::debug!(room = %event.room_id, name = event.name, "event not fanned out through redis");
                }
            }
            let _ = self.local.send(Arc::new(event));
        }
    }
}
