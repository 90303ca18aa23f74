//! Pusher Channels protocol 7 at `/app/{key}`, as pusher-js speaks it.
//!
//! Public channels are open; `private-` and `presence-` channels need the
//! signature that `POST /api/broadcasting/auth` issues, bound to this
//! connection's `socket_id`. Spotik's own auth endpoint also returns signed
//! `channel_data` for private room channels, naming the user and the token, so
//! that leaving the room or revoking the token ends the subscription.
//! Client events (`client-…`) are not relayed.
//!
//! A signature is not enough on its own: it was made while its caller took
//! part and was logged in, and a saved subscribe frame can be sent again
//! later. So when a room channel is subscribed, the session named in the
//! signed `channel_data` must still stand and its user still take part
//! (read from PostgreSQL, so it holds across replicas); socket ids are
//! random, so no signature can be made ahead for a connection to come. A
//! channel already held is a no-op, and room subscriptions spend from the
//! connection's [`Budget`].

use super::budget::Budget;
use super::inbound::{self, Subscription};
use super::link::{Inbound, Link, Liveness};
use super::{catch_up, upgrade};
use crate::http::error::ApiResult;
use crate::http::path::PathText;
use crate::hub::outbox::{Closing, Outbox};
use crate::hub::{frames, Member, Protocol, Subscriber};
use crate::state::from_depot;
use crate::state::State;
use salvo::oapi::endpoint;
use salvo::prelude::*;
use serde::Deserialize;
use serde_json::Value;
use spotik_shared::pusher_auth;
use std::collections::HashSet;
use uuid::Uuid;

/// Protocol versions whose framing this hub speaks.
const PROTOCOLS: std::ops::RangeInclusive<u32> = 5..=7;
/// Longest channel name Pusher accepts.
const MAX_CHANNEL_NAME: usize = 164;
/// Subscriptions one connection may hold.
const MAX_CHANNELS: usize = 100;

const OVER_CAPACITY: Closing = Closing {
    code: 4100,
    reason: "Over capacity: the client is not reading its messages fast enough",
};

/// Opens a Pusher protocol 7 WebSocket, as pusher-js and laravel-echo do
/// (docs/realtime.md).
#[endpoint(
    tags("realtime"),
    parameters(("protocol" = Option<String>, Query, description = "Pusher's protocol version: 7")),
    responses((status_code = 101, description = "Switching protocols: Pusher protocol 7"))
)]
pub async fn connect(req: &mut Request, depot: &mut Depot, res: &mut Response, key: PathText) -> ApiResult<()> {
    let state = from_depot(depot)?.clone();
    let key = key.0;
    let protocol = req.query::<String>("protocol");
    let client = crate::http::client_addr::of(req, &state.config.trusted_proxies);
    let ticket = state.sockets.admit(client).map_err(upgrade::full)?;
    let socket = upgrade::accept(req, res, &state.config.cors_origins, state.config.hub.max_message_bytes)?;
    tokio::spawn(async move {
        // Held for the socket's life: its place is given back when it ends.
        let _ticket = ticket;
        let Some(socket) = socket.await else {
            return;
        };
        let refusal = if key != state.config.hub.app_key {
            Some((4001, format!("App key {key} does not exist")))
        } else {
            match protocol.map(|p| p.parse::<u32>()) {
                None => Some((4008, "No protocol version supplied".to_owned())),
                Some(Ok(version)) if PROTOCOLS.contains(&version) => None,
                Some(Ok(_)) => Some((4007, "Unsupported protocol version".to_owned())),
                Some(Err(_)) => Some((4006, "Invalid version string format".to_owned())),
            }
        };
        let (outbox, link) = Link::open(socket, &state.config.hub, OVER_CAPACITY, state.hub.stats.delivery());
        if let Some((code, message)) = refusal {
            let closing = Closing {
                code,
                reason: "refused",
            };
            return link.refuse(frames::pusher_error(Some(code), &message), closing).await;
        }
        let (id, socket_id) = state.hub.connection_id();
        let mut connection = Connection {
            state,
            id,
            socket_id,
            outbox,
            channels: HashSet::new(),
            budget: Budget::default(),
        };
        connection.run(link).await;
        connection.leave_all();
    });
    Ok(())
}

struct Connection {
    state: State,
    id: u64,
    socket_id: String,
    outbox: Outbox,
    channels: HashSet<String>,
    budget: Budget,
}

/// What Spotik's auth endpoint signs into `channel_data`.
#[derive(Deserialize)]
struct ChannelData {
    user_id: Value,
    #[serde(default)]
    user_info: Value,
    #[serde(default)]
    session: Option<Uuid>,
}

/// Why a subscription is refused: the status and error of its
/// `pusher:subscription_error`.
type Refusal = (u16, &'static str);

/// A channel only a signature from `/broadcasting/auth` opens.
fn is_authorised(channel: &str) -> bool {
    channel.starts_with("private-") || channel.starts_with("presence-")
}

fn valid_channel_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_CHANNEL_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_=@,.;".contains(&b))
}

impl Connection {
    async fn run(&mut self, mut link: Link) {
        let state = std::sync::Arc::clone(&self.state);
        let hub = &state.hub;
        hub.connect(self.id, Protocol::Pusher, self.outbox.clone());
        let activity = hub.config.activity_timeout;
        let established = Established {
            socket_id: &self.socket_id,
            activity_timeout: activity.as_secs(),
        };
        if !link
            .send(frames::pusher_value(
                "pusher:connection_established",
                None,
                &established,
            ))
            .await
        {
            return;
        }
        let mut liveness = Liveness::new(activity, hub.config.pong_timeout);
        // A socket holding no authorised channel (never subscribed, left
        // them all, or holds only public ones, on which Spotik publishes
        // nothing) is closed after a while: it costs a descriptor and
        // serves nobody, and an anonymous one could otherwise stay forever.
        let unsubscribed_for = hub.config.subscribe_timeout;
        let mut unsubscribed_since = Some(tokio::time::Instant::now());
        loop {
            let serves_nobody = !self.channels.iter().any(|channel| is_authorised(channel));
            unsubscribed_since = match (serves_nobody, unsubscribed_since) {
                (true, None) => Some(tokio::time::Instant::now()),
                (true, since) => since,
                (false, _) => None,
            };
            let give_up = unsubscribed_since.map(|since| since + unsubscribed_for);
            let deadline = give_up.map_or(liveness.deadline(), |at| at.min(liveness.deadline()));
            match link.next(deadline).await {
                Inbound::Deadline if give_up.is_some_and(|at| tokio::time::Instant::now() >= at) => {
                    let closing = Closing {
                        code: 4200,
                        reason: "No channel subscribed (WS_SUBSCRIBE_TIMEOUT)",
                    };
                    return link.close(closing).await;
                }
                Inbound::Text(text) => {
                    liveness.alive();
                    if let Some(reply) = Box::pin(self.handle(&text)).await {
                        if !link.send(reply).await {
                            return;
                        }
                    }
                }
                Inbound::Alive => liveness.alive(),
                Inbound::Deadline if liveness.ping_now() => {
                    if !link.send(frames::pusher("pusher:ping", None, "{}")).await {
                        return;
                    }
                }
                Inbound::Deadline => {
                    let closing = Closing {
                        code: 4201,
                        reason: "Pong reply not received",
                    };
                    return link.close(closing).await;
                }
                ending => return link.end(ending, &OVER_CAPACITY, &hub.stats).await,
            }
        }
    }

    /// Handles one client message; answers what goes back at once.
    async fn handle(&mut self, text: &str) -> Option<crate::hub::outbox::Frame> {
        match inbound::pusher(text) {
            Ok(inbound::Pusher::Ping) => Some(frames::pusher("pusher:pong", None, "{}")),
            Ok(inbound::Pusher::Pong) => None,
            Ok(inbound::Pusher::Subscribe(subscription)) => {
                let channel = subscription.channel.clone();
                let held = self.state.hub.is_subscribed(&channel, self.id);
                match self.subscribe(subscription, held).await {
                    Ok(presence) => {
                        if let Some(room) = frames::room_of(&channel).filter(|_| !held) {
                            self.schedule_catch_up(room, &channel);
                        }
                        Some(frames::pusher_value(
                            "pusher_internal:subscription_succeeded",
                            Some(&channel),
                            &presence,
                        ))
                    }
                    Err((status, error)) => Some(frames::subscription_error(&channel, status, error)),
                }
            }
            Ok(inbound::Pusher::Unsubscribe(channel)) => {
                if let Some(channel) = channel {
                    self.state.hub.unsubscribe(&channel, self.id);
                    self.channels.remove(&channel);
                }
                None
            }
            Err(message) => Some(frames::pusher_error(None, message)),
        }
    }

    /// Subscribes this connection to the channel; `held` when it already is
    /// (then nothing is checked against the database again).
    async fn subscribe(
        &mut self,
        subscription: Subscription,
        held: bool,
    ) -> Result<crate::hub::presence::Roster, Refusal> {
        let channel = subscription.channel.as_str();
        if !valid_channel_name(channel) {
            return Err((400, "Invalid channel name"));
        }
        if !self.channels.contains(channel) && self.channels.len() >= MAX_CHANNELS {
            return Err((400, "Too many channels on one connection"));
        }
        let config = &self.state.hub.config;
        let presence = channel.starts_with("presence-");
        let mut subscriber = Subscriber {
            outbox: self.outbox.clone(),
            protocol: Protocol::Pusher,
            socket_id: self.socket_id.clone(),
            user: None,
            session: None,
            member: None,
        };
        if channel.starts_with("private-encrypted-") {
            return Err((400, "Encrypted channels are not supported"));
        }
        if is_authorised(channel) {
            let auth = subscription
                .auth
                .as_deref()
                .ok_or((401, "This channel needs an auth signature"))?;
            let channel_data = subscription.channel_data.as_deref();
            if presence && channel_data.is_none() {
                return Err((400, "Presence channels need channel_data"));
            }
            if !pusher_auth::verify_channel(
                &config.app_key,
                &config.app_secret,
                &self.socket_id,
                channel,
                channel_data,
                auth,
            ) {
                return Err((401, "Invalid signature"));
            }
            if let Some(raw) = channel_data {
                let data: ChannelData = serde_json::from_str(raw).map_err(|_| (400, "channel_data is not valid"))?;
                let user_id = match &data.user_id {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    _ => return Err((400, "channel_data needs a user_id")),
                };
                subscriber.user = Uuid::parse_str(&user_id).ok();
                subscriber.session = data.session;
                if presence {
                    subscriber.member = Some(Member {
                        user_id,
                        info: data.user_info,
                    });
                }
            }
        }
        if let Some(room) = frames::room_of(channel).filter(|_| !held) {
            self.still_allowed(room, &subscriber).await?;
        }
        let data = self.state.hub.subscribe(channel, self.id, subscriber);
        self.channels.insert(channel.to_owned());
        Ok(data)
    }

    /// Whether the signed session still stands and its user still takes
    /// part in `room`: checked now, not when the signature was made.
    async fn still_allowed(&mut self, room: Uuid, subscriber: &Subscriber) -> Result<(), Refusal> {
        let (Some(user), Some(session)) = (subscriber.user, subscriber.session) else {
            return Err((403, "Room channels need the channel_data of /api/broadcasting/auth"));
        };
        if !self.budget.spend(std::time::Instant::now()) {
            return Err((429, "Too many subscriptions, slow down"));
        }
        match crate::services::sessions::session_is_live(&self.state, session, user).await {
            Ok(true) => {}
            Ok(false) => return Err((401, "The session that signed this subscription has ended")),
            Err(_) => return Err((503, "Cannot check the subscription now, try again")),
        }
        crate::services::access::require_member(&self.state, room, user)
            .await
            .map_err(|error| match error {
                crate::http::error::ApiError::Forbidden(_) | crate::http::error::ApiError::NotFound(_) => {
                    (403, "Only the room's participants may listen to it")
                }
                _ => (503, "Cannot check the subscription now, try again"),
            })
    }

    /// What a listener subscribing to a room mid-track needs to hear it,
    /// on that channel, to this client alone ([`catch_up`]).
    fn schedule_catch_up(&self, room: Uuid, channel: &str) {
        let namespace = self.state.hub.config.event_namespace.clone();
        let on = channel.to_owned();
        catch_up::schedule(
            std::sync::Arc::clone(&self.state),
            room,
            channel.to_owned(),
            self.id,
            self.outbox.clone(),
            move |event| frames::pusher_room_frames(namespace.as_deref(), event, &on),
        );
    }

    fn leave_all(&mut self) {
        for channel in self.channels.drain() {
            self.state.hub.unsubscribe(&channel, self.id);
        }
        self.state.hub.disconnect(self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::valid_channel_name;

    #[test]
    fn channel_names_follow_pushers_alphabet_and_length() {
        assert!(valid_channel_name("private-room.0b5e4c1e-8f53-4f9f-a7a0-3f3c4a0c8b11"));
        assert!(valid_channel_name("presence-a=b@c,d;e_f"));
        assert!(!valid_channel_name(""));
        assert!(!valid_channel_name("room with spaces"));
        assert!(!valid_channel_name("room/../x"));
        assert!(!valid_channel_name(&"a".repeat(165)));
    }
}

/// `pusher:connection_established`'s data.
#[derive(serde::Serialize)]
struct Established<'a> {
    socket_id: &'a str,
    /// Seconds of silence before the client pings.
    activity_timeout: u64,
}
