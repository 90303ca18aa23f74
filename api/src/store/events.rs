//! The one seam through which every room event leaves the API.
//!
//! A change and its event number are written in the same transaction
//! ([`stamp`]); after commit [`Events::publish`] hands it to this
//! process's WebSocket hub and to Redis, so that the hubs of other API
//! replicas receive it too. Sequence numbers live in PostgreSQL, so they are
//! the same on every replica and survive restarts.

pub use crate::hub::message::{EventName, RoomEvent};
use crate::hub::Hub;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};
use sqlx::PgConnection;
use std::sync::Arc;
use tokio::sync::broadcast;
use uuid::Uuid;

/// An event stamped inside a transaction, to publish once it commits.
#[must_use = "publish the event after the transaction commits"]
pub struct Pending {
    event: RoomEvent,
    /// The file its listeners will all ask for next (a track started: the
    /// one after it), to warm on the edges once committed.
    ahead: Option<String>,
}

impl Pending {
    pub fn payload(&self) -> &Value {
        &self.event.payload
    }

    pub fn name(&self) -> EventName {
        self.event.name
    }

    /// The same event, telling that its listeners will next ask for `file_url`.
    pub fn ahead_of(self, file_url: Option<String>) -> Self {
        Self {
            ahead: file_url,
            ..self
        }
    }

    pub fn ahead(&self) -> Option<&str> {
        self.ahead.as_deref()
    }
}

/// Takes the room's next sequence number and builds the payload.
pub async fn stamp(tx: &mut PgConnection, room_id: Uuid, name: EventName, data: Value) -> Result<Pending, sqlx::Error> {
    let (seq, now): (i64, DateTime<Utc>) =
        sqlx::query_as("UPDATE rooms SET event_seq = event_seq + 1 WHERE id = $1 RETURNING event_seq, now()")
            .bind(room_id)
            .fetch_one(tx)
            .await?;
    Ok(numbered(room_id, name, data, seq, now))
}

/// An event whose number a statement of its own change took (`UPDATE rooms
/// SET event_seq = event_seq + 1 … RETURNING event_seq, now()` inside it):
/// one round trip instead of two.
pub fn numbered(room_id: Uuid, name: EventName, data: Value, seq: i64, now: DateTime<Utc>) -> Pending {
    Pending {
        event: RoomEvent {
            room_id,
            name,
            seq,
            payload: with_envelope(data, room_id, seq, now),
            committed_at_us: 0,
        },
        ahead: None,
    }
}

/// An event that restates the room's state to one client, with the room's
/// current `seq`: nothing new happened, so no number is taken.
pub fn restate(room_id: Uuid, name: EventName, seq: i64, now: DateTime<Utc>, data: Value) -> RoomEvent {
    let mut payload = with_envelope(data, room_id, seq, now);
    if let Value::Object(map) = &mut payload {
        map.insert("catch_up".into(), Value::Bool(true));
    }
    RoomEvent {
        room_id,
        name,
        seq,
        payload,
        committed_at_us: 0,
    }
}

/// `room_id`, `timestamp`, `server_time` and `seq` added to an event's data.
fn with_envelope(data: Value, room_id: Uuid, seq: i64, now: DateTime<Utc>) -> Value {
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
    payload
        .entry("server_time")
        .or_insert_with(|| Value::from(now.timestamp_millis()));
    payload.insert("seq".into(), Value::from(seq));
    Value::Object(payload)
}

/// Local subscribers of the committed room events (tests, diagnostics).
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
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<RoomEvent>> {
        self.local.subscribe()
    }
}

impl Events {
    /// Publishes committed events, in order: to this process's WebSocket
    /// clients at once, then through Redis to the other replicas' clients.
    pub async fn publish(&self, hub: &Hub, events: impl IntoIterator<Item = Pending>) {
        for Pending { mut event, .. } in events {
            // Called once the transaction committed: its delivery starts now.
            event.committed_at_us = crate::hub::delivery::now_us();
            // Copied only while someone follows this replica's events (the
            // tests do; nothing in production), as the hub does its own.
            let local = (self.local.receiver_count() > 0).then(|| Arc::new(event.clone()));
            hub.publish_room_event(event).await;
            if let Some(local) = local {
                let _ = self.local.send(local);
            }
        }
    }
}
