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
//! * [`message`]: what travels through the hub.
//!
//! [`Hub`] is the component the rest of the API talks to: it owns the
//! registry of channels, presence, the census and its handle to Redis, and
//! offers a small surface — publish a room event, end subscriptions as room
//! policy decides, revoke a session, counts. It knows nothing of rooms'
//! rules or of the database: the code that raises an event says what it ends.
//! The endpoints ([`pusher`], [`native`], [`broadcasting`], [`http_api`])
//! are the layer above it: they authenticate, check membership and then
//! talk to the [`Hub`] like any other handler.
//!
//! The registry below maps channels to subscribers. Delivery takes a read
//! lock, turns an event into text once per protocol and queues the same bytes
//! for every subscriber without waiting ([`outbox`]); a subscriber too slow to
//! keep up is closed rather than allowed to hold the others back.

pub(crate) mod admission;
pub(crate) mod bus;
mod census;
pub(crate) mod delivery;
mod echo;
pub(crate) mod followers;
pub(crate) mod frames;
pub(crate) mod message;
pub(crate) mod outbox;
pub(crate) mod presence;
pub(crate) mod shards;

use crate::cache::Cache;
use crate::config::HubConfig;
use message::{Broadcast, Ended, Ending, EventName, Outgoing, PusherEvent, RoomEvent};
use outbox::{Closing, Frame, Outbox};
use presence::{Change, Presence};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use uuid::Uuid;

/// The status a subscription ended by a revoked token is refused with.
const REVOKED: u16 = 401;

/// The Redis channel between replicas (after the key prefix).
pub const CHANNEL: &str = "hub";

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
    fn send_to(&self, protocol: Protocol, frame: &Frame) {
        for subscriber in self.subscribers.values() {
            if subscriber.protocol == protocol {
                subscriber.outbox.push(frame);
            }
        }
    }
}

/// Tells a presence channel's clients that a member arrived or left: its
/// Pusher clients as `pusher_internal:member_*`, and the native clients of
/// the room's private channel (where native clients listen) as `member_*`.
fn announce_in(channels: &HashMap<String, Channel>, presence_channel: &str, change: Change) {
    let (event, data) = match change {
        Change::Added(data) => ("member_added", data),
        Change::Removed(data) => ("member_removed", data),
        Change::Unchanged => return,
    };
    if let Some(entry) = channels.get(presence_channel) {
        let frame = frames::pusher_value(&format!("pusher_internal:{event}"), Some(presence_channel), &data);
        entry.send_to(Protocol::Pusher, &frame);
    }
    let private = frames::room_of(presence_channel).map(|room| frames::room_channels(room)[0].clone());
    if let Some(entry) = private.and_then(|private| channels.get(&private)) {
        entry.send_to(Protocol::Native, &frames::native(event, &data));
    }
}

/// Figures for `/api/metrics` and `/api/health`.
#[derive(Default)]
pub struct HubStats {
    connections: AtomicI64,
    /// The most connections open at once since [`HubStats::take_peak`].
    peak_connections: AtomicI64,
    frames_queued: AtomicU64,
    slow_clients_closed: AtomicU64,
    bus_messages: AtomicU64,
    bus_connected: AtomicBool,
    /// Times the bus found channels of its own lost on a Redis Cluster
    /// (a node restarted, a slot moved) and subscribed again.
    bus_resubscriptions: AtomicU64,
    /// Room events' times from commit to each client's socket.
    delivery: Arc<delivery::DeliveryLatency>,
}

impl HubStats {
    /// WebSocket connections open now.
    pub fn connections(&self) -> i64 {
        self.connections.load(Ordering::Relaxed)
    }

    /// Whether the hub holds its subscription to the bus now.
    pub fn bus_connected(&self) -> bool {
        self.bus_connected.load(Ordering::Relaxed)
    }

    /// Room events' delivery times, shared with each connection's writer.
    pub fn delivery(&self) -> Arc<delivery::DeliveryLatency> {
        Arc::clone(&self.delivery)
    }

    /// A client closed for not reading fast enough.
    pub fn slow_client_closed(&self) {
        self.slow_clients_closed.fetch_add(1, Ordering::Relaxed);
    }

    /// Connections open now, and the most open at once since the last call.
    pub fn take_peak(&self) -> (i64, i64) {
        let open = self.connections.load(Ordering::Relaxed);
        (open, self.peak_connections.swap(open, Ordering::Relaxed).max(open))
    }

    pub fn snapshot(&self) -> HubFigures {
        HubFigures {
            connections: self.connections.load(Ordering::Relaxed),
            frames_queued: self.frames_queued.load(Ordering::Relaxed),
            slow_clients_closed: self.slow_clients_closed.load(Ordering::Relaxed),
            bus_messages_received: self.bus_messages.load(Ordering::Relaxed),
            bus_connected: self.bus_connected.load(Ordering::Relaxed),
            bus_resubscriptions: self.bus_resubscriptions.load(Ordering::Relaxed),
            delivery_seconds: self.delivery.summary(),
        }
    }

    /// The same figures in Prometheus' text format.
    pub fn prometheus(&self) -> String {
        let s = self.snapshot();
        format!(
            "# HELP spotik_api_ws_connections WebSocket connections open.\n\
             # TYPE spotik_api_ws_connections gauge\nspotik_api_ws_connections {}\n\
             # HELP spotik_api_ws_frames_queued_total Frames queued for WebSocket clients.\n\
             # TYPE spotik_api_ws_frames_queued_total counter\nspotik_api_ws_frames_queued_total {}\n\
             # HELP spotik_api_ws_slow_clients_closed_total Clients closed for not reading fast enough.\n\
             # TYPE spotik_api_ws_slow_clients_closed_total counter\nspotik_api_ws_slow_clients_closed_total {}\n\
             # HELP spotik_api_ws_bus_messages_received_total Messages received from other replicas.\n\
             # TYPE spotik_api_ws_bus_messages_received_total counter\nspotik_api_ws_bus_messages_received_total {}\n\
             # HELP spotik_api_ws_bus_connected Whether the bus to the other replicas is up.\n\
             # TYPE spotik_api_ws_bus_connected gauge\nspotik_api_ws_bus_connected {}\n\
             # HELP spotik_api_ws_bus_resubscriptions_total Times the bus subscribed again to channels a Redis Cluster had lost.\n\
             # TYPE spotik_api_ws_bus_resubscriptions_total counter\nspotik_api_ws_bus_resubscriptions_total {}\n",
            s.connections,
            s.frames_queued,
            s.slow_clients_closed,
            s.bus_messages_received,
            u8::from(s.bus_connected),
            s.bus_resubscriptions,
        ) + &{
            let mut delivery = String::new();
            self.delivery.prometheus(&mut delivery);
            delivery
        }
    }
}

/// The hub's figures, for the JSON figures and Prometheus.
#[derive(Debug, serde::Serialize)]
pub struct HubFigures {
    pub connections: i64,
    pub frames_queued: u64,
    pub slow_clients_closed: u64,
    pub bus_messages_received: u64,
    pub bus_connected: bool,
    pub bus_resubscriptions: u64,
    /// Commit-to-queue time of room events, by event.
    pub delivery_seconds: std::collections::BTreeMap<&'static str, crate::telemetry::histogram::Summary>,
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
    /// Round trips through the bus under way.
    echoes: echo::Echoes,
    /// Every open connection, to close them all at shutdown.
    connections: Mutex<HashMap<u64, (Protocol, Outbox)>>,
    /// Native connections by the token they were opened with.
    sessions: Mutex<HashMap<Uuid, HashMap<u64, Outbox>>>,
    pub stats: HubStats,
    /// Redis, for the bus between replicas.
    redis: Arc<Cache>,
    /// Revocations and room policy, told to whoever follows them.
    ended: tokio::sync::broadcast::Sender<Ended>,
    /// Room events as they reach this replica, for whoever waits on one.
    room_events: tokio::sync::broadcast::Sender<Arc<RoomEvent>>,
    /// Users whose last connection to a room anywhere closed here.
    departures: tokio::sync::broadcast::Sender<Departure>,
    /// Who follows room events now ([`followers`]).
    pub followers: followers::Followers,
    /// The rooms listened to here, for a sharded bus.
    pub(crate) interest: shards::Interest,
}

/// A user no longer present in a room on any replica, told by the replica
/// where their last connection to it closed (so once in the cluster).
#[derive(Clone, Debug)]
pub struct Departure {
    pub room: Uuid,
    pub user_id: String,
}

impl Hub {
    pub fn new(config: HubConfig, redis: Arc<Cache>) -> Self {
        let origin = Uuid::new_v4();
        let sharded = redis.cluster_nodes().is_some();
        Self {
            config,
            socket_prefix: (origin.as_u128() as u32) % 1_000_000_000,
            origin: origin.simple().to_string(),
            presence: Presence::new(origin.simple().to_string()),
            census: census::Census::default(),
            echoes: echo::Echoes::default(),
            next_connection: AtomicU64::new(1),
            channels: RwLock::default(),
            connections: Mutex::default(),
            sessions: Mutex::default(),
            stats: HubStats::default(),
            redis,
            ended: tokio::sync::broadcast::channel(1024).0,
            room_events: tokio::sync::broadcast::channel(1024).0,
            departures: tokio::sync::broadcast::channel(1024).0,
            followers: followers::Followers::default(),
            interest: shards::Interest::new(sharded),
        }
    }

    /// A new connection's number, and its Pusher `socket_id` (unique across replicas).
    pub fn connection_id(&self) -> (u64, String) {
        let id = self.next_connection.fetch_add(1, Ordering::Relaxed);
        // The second half is random: a socket id is what a broadcasting
        // signature is bound to, so nobody may guess another's (or a future) one.
        let secret = uuid::Uuid::new_v4().as_u64_pair().0 % 10_000_000_000_000_000_000;
        (id, format!("{}.{secret}", self.socket_prefix))
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
    pub fn subscribe(&self, channel: &str, id: u64, subscriber: Subscriber) -> presence::Roster {
        let mut channels = self.channels.write().unwrap_or_else(|e| e.into_inner());
        let entry = channels.entry(channel.to_owned()).or_insert_with(|| {
            self.interest.opened(channel);
            Channel::default()
        });
        if !entry.subscribers.contains_key(&id) {
            // Announced before the subscriber is in: a client is not told
            // of its own arrival (the roster it gets says it).
            if let Some(member) = &subscriber.member {
                let presence_channel = frames::presence_of(channel);
                announce_in(
                    &channels,
                    &presence_channel,
                    self.presence.local_join(&presence_channel, member),
                );
            }
            if let Some(entry) = channels.get_mut(channel) {
                entry.subscribers.insert(id, subscriber);
            }
        }
        if channel.starts_with("presence-") {
            self.presence.roster(channel)
        } else {
            presence::Roster::default()
        }
    }

    pub fn is_subscribed(&self, channel: &str, id: u64) -> bool {
        let channels = self.channels.read().unwrap_or_else(|e| e.into_inner());
        channels.get(channel).is_some_and(|c| c.subscribers.contains_key(&id))
    }

    /// Removes connection `id` from `channel`; false if it was not there.
    pub fn unsubscribe(&self, channel: &str, id: u64) -> bool {
        let mut channels = self.channels.write().unwrap_or_else(|e| e.into_inner());
        let removed = self.remove(&mut channels, channel, id).is_some();
        if channels.get(channel).is_some_and(|entry| entry.subscribers.is_empty()) {
            channels.remove(channel);
            self.interest.closed(channel);
        }
        removed
    }

    /// Takes connection `id` off `channel` and tells the others if that
    /// was the user's last connection there; the channel stays, even empty.
    fn remove(&self, channels: &mut HashMap<String, Channel>, channel: &str, id: u64) -> Option<Subscriber> {
        let subscriber = channels.get_mut(channel)?.subscribers.remove(&id)?;
        if let Some(member) = &subscriber.member {
            let presence_channel = frames::presence_of(channel);
            let change = self.presence.local_leave(&presence_channel, &member.user_id);
            if let (Change::Removed(_), Some(room)) = (&change, frames::room_of(&presence_channel)) {
                // Nobody following (a replica without the app): dropped.
                let _ = self.departures.send(Departure {
                    room,
                    user_id: member.user_id.clone(),
                });
            }
            announce_in(channels, &presence_channel, change);
        }
        Some(subscriber)
    }

    /// A member change learnt from another replica (or from its silence).
    fn announce(&self, presence_channel: &str, change: Change) {
        if change == Change::Unchanged {
            return;
        }
        let channels = self.channels.read().unwrap_or_else(|e| e.into_inner());
        announce_in(&channels, presence_channel, change);
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
        let Some(entry) = channels.get(channel) else {
            return;
        };
        let ended: Vec<u64> = entry
            .subscribers
            .iter()
            .filter(|(_, s)| which(s))
            .map(|(id, _)| *id)
            .collect();
        for id in ended {
            if let Some(subscriber) = self.remove(&mut channels, channel, id) {
                let notice = match subscriber.protocol {
                    Protocol::Pusher => frames::subscription_error(channel, status, reason),
                    // Its socket is closing with 1008 "token revoked": the
                    // client reconnects with its new token and joins again.
                    // A `room_left` with a reason would send it away from
                    // the room (it did, at every refresh of a web app page).
                    Protocol::Native if status == REVOKED => continue,
                    Protocol::Native => frames::native(
                        "room_left",
                        &frames::RoomLeft {
                            room_id: frames::room_of(channel),
                            reason: Some(reason),
                        },
                    ),
                };
                subscriber.outbox.push(&notice);
            }
        }
        if channels.get(channel).is_some_and(|entry| entry.subscribers.is_empty()) {
            channels.remove(channel);
            self.interest.closed(channel);
        }
    }

    /// Publishes a committed room event to every replica's clients.
    pub async fn publish_room_event(&self, event: RoomEvent) {
        self.broadcast(&Broadcast::Room(event)).await;
    }

    /// Ends subscriptions to a room's channels, on every replica.
    pub async fn end(&self, room_id: Uuid, ending: Ending) {
        self.broadcast(&Broadcast::End { room_id, ending }).await;
    }

    /// A token was revoked: what it opened closes on every replica.
    pub async fn revoke_session(&self, session: Uuid) {
        self.broadcast(&Broadcast::Revoked { session }).await;
    }

    /// An event from Pusher's HTTP API, to every replica's clients.
    pub async fn publish_pusher_event(&self, event: PusherEvent) {
        self.broadcast(&Broadcast::Pusher(event)).await;
    }

    /// Whether a message published on the bus comes back to this replica:
    /// the path of every event raised on another replica. Waits until it
    /// does; the caller bounds the wait.
    pub async fn bus_round_trip(&self) -> bool {
        if !self.stats.bus_connected.load(Ordering::Relaxed) {
            return false;
        }
        let mut waiting = self.echoes.expect();
        self.publish(&Broadcast::Echo { nonce: waiting.nonce }).await;
        waiting.heard().await
    }

    /// Revocations and room policy as they reach this replica, from here or
    /// from the others.
    pub fn follow_endings(&self) -> tokio::sync::broadcast::Receiver<Ended> {
        self.ended.subscribe()
    }

    /// Users leaving rooms for good ([`Departure`]); a follower that lags
    /// loses the oldest (a room's next vote counts who is present anyway).
    pub fn follow_departures(&self) -> tokio::sync::broadcast::Receiver<Departure> {
        self.departures.subscribe()
    }

    /// Every room's events as they reach this replica, from here or from
    /// the others (copied only while someone follows them), for `user`
    /// calling from `client`, within the bounds of [`followers`].
    pub fn follow_room_events(&self, user: Uuid, client: std::net::IpAddr) -> followers::Following<'_> {
        self.followers.enter(user, client, || self.room_events.subscribe())
    }

    /// Delivers `message` here and publishes it to the other replicas.
    async fn broadcast(&self, message: &Broadcast) {
        self.deliver(message);
        self.publish(message).await;
    }

    /// Sends `message` to the other replicas (best effort: with Redis down,
    /// only this replica's clients have it).
    async fn publish(&self, message: &Broadcast) {
        let envelope = Outgoing {
            origin: &self.origin,
            message,
        };
        let Ok(json) = serde_json::to_string(&envelope) else {
            return;
        };
        let published = match message {
            // On a cluster a room's events go to the replicas listening to
            // it; joins stay on the common channel, since a replica may wait
            // for one in a room it does not listen to (`/broadcasting/auth`).
            Broadcast::Room(event) if self.interest.sharded() && event.name != EventName::UserJoined => {
                self.redis.spublish(&shards::room_channel(event.room_id), &json).await
            }
            _ => self.redis.publish(CHANNEL, &json).await,
        };
        if !published {
            tracing::debug!("hub message not fanned out: Redis is unavailable");
        }
    }

    /// Delivers a message, raised here or received from the bus, to this
    /// process's clients.
    fn deliver(&self, message: &Broadcast) {
        match message {
            Broadcast::Room(event) => self.deliver_room_event(event),
            Broadcast::End { room_id, ending } => {
                self.end_here(*room_id, *ending);
                let _ = self.ended.send(Ended::Subscriptions {
                    room_id: *room_id,
                    ending: *ending,
                });
            }
            Broadcast::Pusher(event) => self.deliver_pusher_event(event),
            Broadcast::Revoked { session } => {
                self.revoke(*session);
                let _ = self.ended.send(Ended::Session(*session));
            }
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
            Broadcast::Heartbeat { .. } | Broadcast::Echo { .. } => {}
            Broadcast::CensusQuery { origin, request } => self.census.answer(self, origin, *request),
            Broadcast::CensusReply {
                to, request, channels, ..
            } => self.census.received(self, to, *request, channels),
        }
    }

    fn deliver_room_event(&self, event: &RoomEvent) {
        if self.room_events.receiver_count() > 0 {
            let _ = self.room_events.send(Arc::new(event.clone()));
        }
        let channels_of_room = frames::room_channels(event.room_id);
        let namespace = self.config.event_namespace.as_deref();
        // Turned into text only if a client of that protocol is listening.
        let mut native = None;
        let mut queued = 0;
        let stamp = delivery::Stamp::of(event);
        let stamped = |frames: Vec<Frame>| -> Vec<Frame> { frames.into_iter().map(|f| f.stamped(stamp)).collect() };
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
                            pusher.get_or_insert_with(|| stamped(frames::pusher_room_frames(namespace, event, channel)))
                        }
                        Protocol::Native => native.get_or_insert_with(|| stamped(frames::native_room_frames(event))),
                    };
                    for frame in frames {
                        queued += u64::from(subscriber.outbox.push(frame));
                    }
                }
            }
        }
        self.stats.frames_queued.fetch_add(queued, Ordering::Relaxed);
    }

    /// Ends this replica's subscriptions that `ending` names, telling each client why.
    fn end_here(&self, room_id: Uuid, ending: Ending) {
        for channel in &frames::room_channels(room_id) {
            match ending {
                Ending::Participant { user } => {
                    self.end_where(channel, 403, "You are no longer a participant of this room", |s| {
                        s.user == Some(user)
                    });
                }
                Ending::Room => self.end_where(channel, 404, "The room was deleted", |_| true),
            }
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
                REVOKED,
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;
    use tokio::sync::mpsc;

    /// A hub with no Redis behind it: what it publishes stays on this replica.
    fn hub() -> Hub {
        let config = HubConfig {
            app_id: "app".into(),
            app_key: "key".into(),
            app_secret: "secret".into(),
            event_namespace: None,
            activity_timeout: Duration::from_secs(120),
            pong_timeout: Duration::from_secs(30),
            max_message_bytes: 10_000,
            client_buffer_frames: 64,
            write_timeout: Duration::from_secs(5),
            catch_up_delay: Duration::ZERO,
            max_sockets: None,
            max_sockets_per_client: 256,
            subscribe_timeout: Duration::from_secs(120),
            auth_join_wait: Duration::ZERO,
        };
        Hub::new(config, Arc::new(Cache::new("no redis here", "test:")))
    }

    struct Listener {
        frames: mpsc::Receiver<Frame>,
    }

    impl Listener {
        fn join(hub: &Hub, room: Uuid, user: Uuid, protocol: Protocol, session: Option<Uuid>) -> Self {
            let (id, socket_id) = hub.connection_id();
            let (outbox, frames, _control) = Outbox::new(
                16,
                Closing {
                    code: 4100,
                    reason: "slow",
                },
            );
            hub.connect(id, protocol, outbox.clone());
            let subscriber = Subscriber {
                outbox,
                protocol,
                socket_id,
                user: Some(user),
                session,
                member: None,
            };
            hub.subscribe(&format!("private-room.{room}"), id, subscriber);
            Self { frames }
        }

        /// Every frame queued so far, as text.
        fn received(&mut self) -> Vec<String> {
            std::iter::from_fn(|| self.frames.try_recv().ok())
                .map(|frame| frame.to_string())
                .collect()
        }
    }

    fn event(room: Uuid, name: EventName, seq: i64) -> RoomEvent {
        RoomEvent {
            room_id: room,
            name,
            seq,
            payload: json!({ "room_id": room, "seq": seq }),
            committed_at_us: 0,
        }
    }

    #[tokio::test]
    async fn a_room_event_reaches_the_rooms_listeners_in_both_protocols_and_no_one_else() {
        let hub = hub();
        let (room, elsewhere) = (Uuid::new_v4(), Uuid::new_v4());
        let mut pusher = Listener::join(&hub, room, Uuid::new_v4(), Protocol::Pusher, None);
        let mut native = Listener::join(&hub, room, Uuid::new_v4(), Protocol::Native, None);
        let mut other = Listener::join(&hub, elsewhere, Uuid::new_v4(), Protocol::Pusher, None);
        hub.publish_room_event(event(room, EventName::TrackVoted, 7)).await;
        let heard = pusher.received();
        assert!(
            heard
                .iter()
                .any(|f| f.contains("track.voted") && f.contains("private-room.")),
            "{heard:?}"
        );
        let heard = native.received();
        assert!(heard.iter().any(|f| f.contains("\"seq\":7")), "{heard:?}");
        assert_eq!(other.received(), Vec::<String>::new());
        assert_eq!(hub.stats.connections.load(Ordering::Relaxed), 3);
    }

    #[tokio::test]
    async fn a_participant_leaving_ends_their_subscriptions_and_only_theirs() {
        let hub = hub();
        let (room, leaver, stayer) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let mut leaving = Listener::join(&hub, room, leaver, Protocol::Pusher, None);
        let mut leaving_natively = Listener::join(&hub, room, leaver, Protocol::Native, None);
        let mut staying = Listener::join(&hub, room, stayer, Protocol::Pusher, None);
        hub.publish_room_event(event(room, EventName::UserLeft, 1)).await;
        hub.end(room, Ending::Participant { user: leaver }).await;
        let told = leaving.received();
        assert!(told[0].contains("user.left"), "the event first: {told:?}");
        assert!(
            told[1].contains("pusher:subscription_error") && told[1].contains("403"),
            "{told:?}"
        );
        assert!(leaving_natively.received().iter().any(|f| f.contains("room_left")));
        hub.publish_room_event(event(room, EventName::TrackVoted, 2)).await;
        assert_eq!(
            leaving.received(),
            Vec::<String>::new(),
            "no more events for the leaver"
        );
        let heard = staying.received();
        assert_eq!(heard.len(), 2, "{heard:?}");
        assert!(heard[1].contains("track.voted"));
        // A name in an event is only data: the hub ends nothing on its own.
        let mut naming_the_stayer = event(room, EventName::UserLeft, 3);
        naming_the_stayer.payload["user"] = json!({ "id": stayer });
        hub.publish_room_event(naming_the_stayer).await;
        assert!(staying.received()[0].contains("user.left"));
        hub.publish_room_event(event(room, EventName::TrackVoted, 4)).await;
        assert_eq!(staying.received().len(), 1);
    }

    #[tokio::test]
    async fn a_deleted_room_ends_every_subscription_to_it() {
        let hub = hub();
        let (room, elsewhere) = (Uuid::new_v4(), Uuid::new_v4());
        let mut first = Listener::join(&hub, room, Uuid::new_v4(), Protocol::Pusher, None);
        let mut second = Listener::join(&hub, room, Uuid::new_v4(), Protocol::Native, None);
        let mut other = Listener::join(&hub, elsewhere, Uuid::new_v4(), Protocol::Pusher, None);
        hub.end(room, Ending::Room).await;
        assert!(first.received()[0].contains("404"));
        assert!(second.received()[0].contains("room_left"));
        hub.publish_room_event(event(room, EventName::TrackVoted, 1)).await;
        hub.publish_room_event(event(elsewhere, EventName::TrackVoted, 1)).await;
        assert!(first.received().is_empty() && second.received().is_empty());
        assert_eq!(other.received().len(), 1);
        assert!(hub
            .local_counts()
            .iter()
            .all(|(name, _)| !name.contains(&room.to_string())));
    }

    #[tokio::test]
    async fn a_revoked_session_ends_the_subscriptions_it_granted() {
        let hub = hub();
        let room = Uuid::new_v4();
        let (session, other_session) = (Uuid::new_v4(), Uuid::new_v4());
        let user = Uuid::new_v4();
        let mut revoked = Listener::join(&hub, room, user, Protocol::Pusher, Some(session));
        let mut kept = Listener::join(&hub, room, user, Protocol::Pusher, Some(other_session));
        hub.revoke_session(session).await;
        assert!(revoked.received()[0].contains("401"));
        hub.publish_room_event(event(room, EventName::TrackVoted, 1)).await;
        assert!(revoked.received().is_empty());
        assert_eq!(
            kept.received().len(),
            1,
            "the same user's other session keeps listening"
        );
    }
}
