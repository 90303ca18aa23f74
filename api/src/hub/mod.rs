//! The real-time hub: WebSocket clients in two protocols, fed by the room
//! events of every API replica.
//!
//! * [`pusher`]: Pusher Channels protocol 7 at `/app/{key}` (pusher-js,
//!   laravel-echo), with private and presence channels authorised by
//!   [`broadcasting`]'s endpoint.
//! * [`native`]: the front end's own protocol at `/ws?token=`.
//! * [`http_api`]: Pusher's HTTP publishing and channel queries, so any
//!   backend with a Pusher library can publish through the hub.
//! * [`bus`]: Redis pub/sub between replicas.
//!
//! The registry below maps channels to subscribers. Delivery takes a read
//! lock, turns an event into text once per protocol and queues the same bytes
//! for every subscriber without waiting ([`outbox`]); a subscriber too slow to
//! keep up is closed rather than allowed to hold the others back.

pub mod broadcasting;
pub mod bus;
mod catch_up;
mod census;
pub mod frames;
pub mod http_api;
pub mod inbound;
mod link;
pub mod native;
pub mod outbox;
pub mod presence;
pub mod pusher;
mod upgrade;

use crate::config::HubConfig;
use bus::{Broadcast, PusherEvent};
use outbox::{Closing, Frame, Outbox};
use presence::{Change, Presence};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use uuid::Uuid;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Pusher,
    Native,
}

/// A presence channel member, as its signed `channel_data` describes it.
#[derive(Clone, Debug)]
pub struct Member {
    pub user_id: String,
    pub info: Value,
}

pub struct Subscriber {
    pub outbox: Outbox,
    pub protocol: Protocol,
    pub socket_id: String,
    /// The Spotik user the subscription was granted to, where known.
    pub user: Option<Uuid>,
    /// The token (its `jti`) that granted it: revoking the token ends it.
    pub session: Option<Uuid>,
    pub member: Option<Member>,
}

#[derive(Default)]
struct Channel {
    subscribers: HashMap<u64, Subscriber>,
}

impl Channel {
    /// Tells the channel's Pusher clients that a member arrived or left.
    fn announce(&self, channel: &str, change: Change) {
        let (event, data) = match change {
            Change::Added(data) => ("pusher_internal:member_added", data),
            Change::Removed(data) => ("pusher_internal:member_removed", data),
            Change::Unchanged => return,
        };
        self.send_to_pusher_clients(&frames::pusher_value(event, Some(channel), &data), None);
    }

    fn send_to_pusher_clients(&self, frame: &Frame, except: Option<u64>) {
        for (id, subscriber) in &self.subscribers {
            if Some(*id) != except && subscriber.protocol == Protocol::Pusher {
                subscriber.outbox.push(frame);
            }
        }
    }
}

/// Figures for `/api/metrics` and `/api/health`.
#[derive(Default)]
pub struct HubStats {
    pub connections: AtomicI64,
    /// The most connections open at once since [`HubStats::take_peak`].
    pub peak_connections: AtomicI64,
    pub frames_queued: AtomicU64,
    pub slow_clients_closed: AtomicU64,
    pub bus_messages: AtomicU64,
    pub bus_connected: AtomicBool,
}

impl HubStats {
    /// Connections open now, and the most open at once since the last call.
    pub fn take_peak(&self) -> (i64, i64) {
        let open = self.connections.load(Ordering::Relaxed);
        (open, self.peak_connections.swap(open, Ordering::Relaxed).max(open))
    }

    pub fn snapshot(&self) -> Value {
        json!({
            "connections": self.connections.load(Ordering::Relaxed),
            "frames_queued": self.frames_queued.load(Ordering::Relaxed),
            "slow_clients_closed": self.slow_clients_closed.load(Ordering::Relaxed),
            "bus_messages_received": self.bus_messages.load(Ordering::Relaxed),
            "bus_connected": self.bus_connected.load(Ordering::Relaxed),
        })
    }

    /// The same figures in Prometheus' text format.
    pub fn prometheus(&self) -> String {
        let s = self.snapshot();
        format!(
            "# TYPE spotik_api_ws_connections gauge\nspotik_api_ws_connections {}\n\
             # TYPE spotik_api_ws_frames_queued_total counter\nspotik_api_ws_frames_queued_total {}\n\
             # TYPE spotik_api_ws_slow_clients_closed_total counter\nspotik_api_ws_slow_clients_closed_total {}\n\
             # TYPE spotik_api_ws_bus_messages_received_total counter\nspotik_api_ws_bus_messages_received_total {}\n\
             # TYPE spotik_api_ws_bus_connected gauge\nspotik_api_ws_bus_connected {}\n",
            s["connections"],
            s["frames_queued"],
            s["slow_clients_closed"],
            s["bus_messages_received"],
            u8::from(s["bus_connected"] == true),
        )
    }
}

/// Occupancy of one channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Occupancy {
    pub name: String,
    pub subscriptions: usize,
    pub users: usize,
}

pub struct Hub {
    pub config: HubConfig,
    /// This process on the bus: its own messages coming back are skipped.
    pub origin: String,
    socket_prefix: u32,
    next_connection: AtomicU64,
    channels: RwLock<HashMap<String, Channel>>,
    /// Presence members, here and on the other replicas.
    pub presence: Presence,
    census: census::Census,
    /// Every open connection, to close them all at shutdown.
    connections: Mutex<HashMap<u64, (Protocol, Outbox)>>,
    /// Native connections by the token they were opened with.
    sessions: Mutex<HashMap<Uuid, HashMap<u64, Outbox>>>,
    pub stats: HubStats,
}

impl Hub {
    pub fn new(config: HubConfig) -> Self {
        let origin = Uuid::new_v4();
        Self {
            config,
            socket_prefix: (origin.as_u128() as u32) % 1_000_000_000,
            origin: origin.simple().to_string(),
            presence: Presence::new(origin.simple().to_string()),
            census: census::Census::default(),
            next_connection: AtomicU64::new(1),
            channels: RwLock::default(),
            connections: Mutex::default(),
            sessions: Mutex::default(),
            stats: HubStats::default(),
        }
    }

    /// A new connection's number, and its Pusher `socket_id` (unique across replicas).
    pub fn connection_id(&self) -> (u64, String) {
        let id = self.next_connection.fetch_add(1, Ordering::Relaxed);
        (id, format!("{}.{id}", self.socket_prefix))
    }

    pub fn connect(&self, id: u64, protocol: Protocol, outbox: Outbox) {
        self.connections
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, (protocol, outbox));
        let open = self.stats.connections.fetch_add(1, Ordering::Relaxed) + 1;
        self.stats.peak_connections.fetch_max(open, Ordering::Relaxed);
    }

    pub fn disconnect(&self, id: u64) {
        let removed = self.connections.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
        if removed.is_some() {
            self.stats.connections.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Closes every connection with a code that makes clients reconnect at
    /// once (to another replica, or to this one once it is back).
    pub fn close_all(&self) {
        for (protocol, outbox) in self.connections.lock().unwrap_or_else(|e| e.into_inner()).values() {
            outbox.close(match protocol {
                Protocol::Pusher => Closing {
                    code: 4200,
                    reason: "Server restarting: reconnect",
                },
                Protocol::Native => Closing {
                    code: 1012,
                    reason: "Server restarting: reconnect",
                },
            });
        }
    }

    /// Subscribes connection `id` (once, however often it asks); answers the
    /// presence data for presence channels, `{}` for others.
    pub fn subscribe(&self, channel: &str, id: u64, subscriber: Subscriber) -> Value {
        let mut channels = self.channels.write().unwrap_or_else(|e| e.into_inner());
        let entry = channels.entry(channel.to_owned()).or_default();
        if !entry.subscribers.contains_key(&id) {
            if let Some(member) = &subscriber.member {
                entry.announce(channel, self.presence.local_join(channel, member));
            }
            entry.subscribers.insert(id, subscriber);
        }
        if channel.starts_with("presence-") {
            self.presence.roster(channel)
        } else {
            json!({})
        }
    }

    pub fn is_subscribed(&self, channel: &str, id: u64) -> bool {
        let channels = self.channels.read().unwrap_or_else(|e| e.into_inner());
        channels.get(channel).is_some_and(|c| c.subscribers.contains_key(&id))
    }

    /// Removes connection `id` from `channel`; false if it was not there.
    pub fn unsubscribe(&self, channel: &str, id: u64) -> bool {
        let mut channels = self.channels.write().unwrap_or_else(|e| e.into_inner());
        let Some(entry) = channels.get_mut(channel) else {
            return false;
        };
        let removed = self.remove(entry, channel, id).is_some();
        if entry.subscribers.is_empty() {
            channels.remove(channel);
        }
        removed
    }

    fn remove(&self, entry: &mut Channel, channel: &str, id: u64) -> Option<Subscriber> {
        let subscriber = entry.subscribers.remove(&id)?;
        if let Some(member) = &subscriber.member {
            entry.announce(channel, self.presence.local_leave(channel, &member.user_id));
        }
        Some(subscriber)
    }

    /// A member change learnt from another replica (or from its silence).
    fn announce(&self, channel: &str, change: Change) {
        if change == Change::Unchanged {
            return;
        }
        let channels = self.channels.read().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = channels.get(channel) {
            entry.announce(channel, change);
        }
    }

    /// Drops the members of replicas that have gone silent.
    pub fn reap_silent_replicas(&self) {
        for (channel, change) in self.presence.reap(presence::SILENCE) {
            self.announce(&channel, change);
        }
    }

    /// Ends the subscriptions of `channel` that `which` selects, telling each client why.
    fn end_where(&self, channel: &str, status: u16, reason: &str, which: impl Fn(&Subscriber) -> bool) {
        let mut channels = self.channels.write().unwrap_or_else(|e| e.into_inner());
        let Some(entry) = channels.get_mut(channel) else {
            return;
        };
        let ended: Vec<u64> = entry
            .subscribers
            .iter()
            .filter(|(_, s)| which(s))
            .map(|(id, _)| *id)
            .collect();
        for id in ended {
            if let Some(subscriber) = self.remove(entry, channel, id) {
                let notice = match subscriber.protocol {
                    Protocol::Pusher => frames::subscription_error(channel, status, reason),
                    Protocol::Native => frames::native(
                        "room_left",
                        &json!({ "room_id": frames::room_of(channel), "reason": reason }),
                    ),
                };
                subscriber.outbox.push(&notice);
            }
        }
        if entry.subscribers.is_empty() {
            channels.remove(channel);
        }
    }

    /// Delivers a message, raised here or received from the bus, to this
    /// process's clients.
    pub fn deliver(&self, message: &Broadcast) {
        match message {
            Broadcast::Room(event) => self.deliver_room_event(event),
            Broadcast::Pusher(event) => self.deliver_pusher_event(event),
            Broadcast::Revoked { session } => self.revoke(*session),
            Broadcast::MemberUp {
                origin,
                channel,
                user_id,
                info,
            } => self.announce(channel, self.presence.remote_up(origin, channel, user_id, info)),
            Broadcast::MemberDown {
                origin,
                channel,
                user_id,
            } => self.announce(channel, self.presence.remote_down(origin, channel, user_id)),
            Broadcast::Hello { .. } => self.presence.announce_all(),
            Broadcast::Heartbeat { .. } => {}
            Broadcast::CensusQuery { origin, request } => self.census.answer(self, origin, *request),
            Broadcast::CensusReply {
                to, request, channels, ..
            } => self.census.received(self, to, *request, channels),
        }
    }

    fn deliver_room_event(&self, event: &crate::events::RoomEvent) {
        let channels_of_room = frames::room_channels(event.room_id);
        let namespace = self.config.event_namespace.as_deref();
        // Turned into text only if a client of that protocol is listening.
        let mut native = None;
        let mut queued = 0;
        {
            let channels = self.channels.read().unwrap_or_else(|e| e.into_inner());
            for channel in &channels_of_room {
                let Some(entry) = channels.get(channel) else {
                    continue;
                };
                let mut pusher = None;
                for subscriber in entry.subscribers.values() {
                    let frames: &Vec<Frame> = match subscriber.protocol {
                        Protocol::Pusher => {
                            pusher.get_or_insert_with(|| frames::pusher_room_frames(namespace, event, channel))
                        }
                        Protocol::Native => native.get_or_insert_with(|| frames::native_room_frames(event)),
                    };
                    for frame in frames {
                        queued += u64::from(subscriber.outbox.push(frame));
                    }
                }
            }
        }
        self.stats.frames_queued.fetch_add(queued, Ordering::Relaxed);
        // What the event ends: the leaver's subscriptions, or all of a deleted room's.
        match event.name.as_str() {
            "user.left" => {
                let leaver = event.payload["user"]["id"]
                    .as_str()
                    .and_then(|id| Uuid::parse_str(id).ok());
                if let Some(leaver) = leaver {
                    for channel in &channels_of_room {
                        self.end_where(channel, 403, "You are no longer a participant of this room", |s| {
                            s.user == Some(leaver)
                        });
                    }
                }
            }
            "room.deleted" => {
                for channel in &channels_of_room {
                    self.end_where(channel, 404, "The room was deleted", |_| true);
                }
            }
            _ => {}
        }
    }

    fn deliver_pusher_event(&self, event: &PusherEvent) {
        let channels = self.channels.read().unwrap_or_else(|e| e.into_inner());
        let mut queued = 0;
        for channel in &event.channels {
            let Some(entry) = channels.get(channel) else {
                continue;
            };
            let frame = frames::pusher(&event.name, Some(channel), &event.data);
            for subscriber in entry.subscribers.values() {
                let excluded = event.socket_id.as_deref() == Some(subscriber.socket_id.as_str());
                if subscriber.protocol == Protocol::Pusher && !excluded {
                    queued += u64::from(subscriber.outbox.push(&frame));
                }
            }
        }
        self.stats.frames_queued.fetch_add(queued, Ordering::Relaxed);
    }

    /// A token was revoked (logout, refresh): its native connections close
    /// and the subscriptions it granted end.
    fn revoke(&self, session: Uuid) {
        let connections = self.sessions.lock().unwrap_or_else(|e| e.into_inner()).remove(&session);
        for outbox in connections.into_iter().flat_map(HashMap::into_values) {
            outbox.close(Closing {
                code: 1008,
                reason: "token revoked",
            });
        }
        let names: Vec<String> = self
            .channels
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|(_, c)| c.subscribers.values().any(|s| s.session == Some(session)))
            .map(|(name, _)| name.clone())
            .collect();
        for channel in names {
            self.end_where(
                &channel,
                401,
                "The token that authorised this subscription was revoked",
                |s| s.session == Some(session),
            );
        }
    }

    /// Registers a native connection under the token it was opened with.
    pub fn open_session(&self, session: Uuid, id: u64, outbox: Outbox) {
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions.entry(session).or_default().insert(id, outbox);
    }

    pub fn close_session(&self, session: Uuid, id: u64) {
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(connections) = sessions.get_mut(&session) {
            connections.remove(&id);
            if connections.is_empty() {
                sessions.remove(&session);
            }
        }
    }

    /// Subscriptions per channel on this replica.
    fn local_counts(&self) -> census::Counts {
        let channels = self.channels.read().unwrap_or_else(|e| e.into_inner());
        channels
            .iter()
            .filter(|(_, c)| !c.subscribers.is_empty())
            .map(|(name, c)| (name.clone(), c.subscribers.len()))
            .collect()
    }

    /// Occupied channels whose name starts with `prefix`, counted on every replica.
    pub async fn occupied(&self, prefix: &str) -> Vec<Occupancy> {
        let counts = self.census.gather(self).await;
        let mut list: Vec<Occupancy> = counts
            .into_iter()
            .filter(|(name, subscriptions)| name.starts_with(prefix) && *subscriptions > 0)
            .map(|(name, subscriptions)| Occupancy {
                users: if name.starts_with("presence-") {
                    self.presence.users(&name).len()
                } else {
                    0
                },
                name,
                subscriptions,
            })
            .collect();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        list
    }

    /// Members of a presence channel, on every replica: user ids.
    pub fn members(&self, channel: &str) -> Vec<String> {
        self.presence.users(channel)
    }
}
