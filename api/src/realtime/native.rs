//! The front end's native protocol at `GET /ws?token=<jwt>`.
//!
//! `{"type":…,"data":{…}}` both ways. The client joins one room's stream at a
//! time (`join_room`, sent again on every reconnect) and receives the room's
//! events with the field names its handlers read. A missing, bad, expired or
//! revoked token closes the socket with 1008 (policy violation). Liveness is
//! by WebSocket ping frames (the Vue front end sends no application-level
//! ping). Spotik's web app also sends `time`, a clock exchange answered at
//! once, before anything else the connection does (docs/sync.md).

use super::link::{Inbound, Link, Liveness};
use super::{catch_up, inbound, upgrade};
use crate::http::error::{ApiError, ApiResult};
use crate::hub::outbox::{Closing, Frame, Outbox};
use crate::hub::{frames, Member, Protocol, Subscriber};
use crate::routes::rooms;
use crate::services::access;
use crate::services::sessions::{authenticate_token, AuthUser};
use crate::state::from_depot;
use crate::state::State;
use chrono::Utc;
use salvo::oapi::endpoint;
use salvo::prelude::*;
use std::time::Duration;
use tokio::time::Instant;
use uuid::Uuid;

const TOO_SLOW: Closing = Closing {
    code: 1013,
    reason: "Try again later: the client is not reading its messages fast enough",
};

/// Opens the native WebSocket (docs/realtime.md): room events, presence
/// and chat for the rooms the caller joins over it.
#[endpoint(
    tags("realtime"),
    parameters(
        ("token" = String, Query, description = "The bearer token: a browser's WebSocket cannot send headers"),
        ("room" = Option<String>, Query, description = "The room the socket is for: lets a front route it to the replica holding the room (it joins nothing by itself)"),
    ),
    responses((status_code = 101, description = "Switching protocols: the native WebSocket protocol of docs/realtime.md"))
)]
pub async fn connect(req: &mut Request, depot: &mut Depot, res: &mut Response) -> ApiResult<()> {
    let state = from_depot(depot)?.clone();
    let caller = match req.query::<String>("token") {
        Some(token) => authenticate_token(&state, &token).await,
        None => Err(ApiError::Unauthorized(
            "Authentication required: /ws?token=<jwt>".into(),
        )),
    };
    let client = crate::http::client_addr::of(req, &state.config.trusted_proxies);
    let ticket = state.sockets.admit(client).map_err(upgrade::full)?;
    let socket = upgrade::accept(req, res, &state.config.cors_origins, state.config.hub.max_message_bytes)?;
    tokio::spawn(async move {
        // Held for the socket's life: its place is given back when it ends.
        let _ticket = ticket;
        let Some(socket) = socket.await else {
            return;
        };
        let (outbox, link) = Link::open(socket, &state.config.hub, TOO_SLOW, state.hub.stats.delivery());
        let caller = match caller {
            Ok(caller) => caller,
            Err(error) => {
                let closing = Closing {
                    code: 1008,
                    reason: "authentication failed",
                };
                return link.refuse(frames::native_error(&error.to_string()), closing).await;
            }
        };
        let (id, socket_id) = state.hub.connection_id();
        let mut connection = Connection {
            state,
            id,
            socket_id,
            outbox,
            caller,
            room: None,
            budget: super::budget::Budget::default(),
        };
        connection.run(link).await;
        connection.close();
    });
    Ok(())
}

struct Connection {
    state: State,
    id: u64,
    socket_id: String,
    outbox: Outbox,
    caller: AuthUser,
    room: Option<Uuid>,
    /// Joins cost statements and a catch-up: bounded ([`super::budget`]).
    budget: super::budget::Budget,
}

fn channel(room: Uuid) -> String {
    format!("private-room.{room}")
}

impl Connection {
    async fn run(&mut self, mut link: Link) {
        let state = std::sync::Arc::clone(&self.state);
        let hub = &state.hub;
        hub.connect(self.id, Protocol::Native, self.outbox.clone());
        hub.open_session(self.caller.claims.jti, self.id, self.outbox.clone());
        let established = Established {
            user: self.caller.user.public_view(),
            socket_id: &self.socket_id,
            server_time: Utc::now().timestamp_millis(),
        };
        if !link.send(frames::native("connection_established", &established)).await {
            return;
        }
        let expires =
            Instant::now() + Duration::from_secs((self.caller.claims.exp - Utc::now().timestamp()).max(0) as u64);
        let interval = hub.config.pong_timeout;
        let mut liveness = Liveness::new(interval, interval);
        loop {
            match link.next(liveness.deadline().min(expires)).await {
                Inbound::Text(text) => {
                    // Stamped before anything else is done with the message.
                    let received = precise_now_ms();
                    liveness.alive();
                    let message = inbound::native(&text);
                    if let Ok(inbound::Native::Time(asked)) = message {
                        // The fast path: no await between the stamps but
                        // the answer's own write.
                        if !link.send(time_answer(asked, received)).await {
                            return;
                        }
                        continue;
                    }
                    // Boxed: handling a message may query PostgreSQL, whose
                    // future is large; inline it would size every idle
                    // connection's task for it.
                    for reply in Box::pin(self.handle(message)).await {
                        if !link.send(reply).await {
                            return;
                        }
                    }
                }
                Inbound::Alive => liveness.alive(),
                Inbound::Deadline if Instant::now() >= expires => {
                    link.send(frames::native_error("Token has expired")).await;
                    let closing = Closing {
                        code: 1008,
                        reason: "token expired",
                    };
                    return link.close(closing).await;
                }
                Inbound::Deadline if liveness.ping_now() => {
                    if !link.ping().await {
                        return;
                    }
                }
                Inbound::Deadline => {
                    let closing = Closing {
                        code: 1001,
                        reason: "ping timeout",
                    };
                    return link.close(closing).await;
                }
                ending => return link.end(ending, &TOO_SLOW, &hub.stats).await,
            }
        }
    }

    /// Handles one client message; answers what goes back at once, in order.
    async fn handle(&mut self, message: Result<inbound::Native, &'static str>) -> Vec<Frame> {
        match message {
            Ok(inbound::Native::JoinRoom(room)) => self
                .join(room)
                .await
                .unwrap_or_else(|error| vec![frames::native_error(&error.to_string())]),
            Ok(inbound::Native::LeaveRoom) => {
                let left = self.leave();
                vec![frames::native(
                    "room_left",
                    &frames::RoomLeft {
                        room_id: left,
                        reason: None,
                    },
                )]
            }
            Ok(inbound::Native::Ping) => vec![frames::native(
                "pong",
                &Pong {
                    server_time: Utc::now().timestamp_millis(),
                },
            )],
            Ok(inbound::Native::Time(asked)) => vec![time_answer(asked, precise_now_ms())],
            Err(message) => vec![frames::native_error(message)],
        }
    }

    /// Answers `room_joined`; what a late joiner needs to hear the room
    /// follows a moment later ([`catch_up`]).
    async fn join(&mut self, room: Uuid) -> ApiResult<Vec<Frame>> {
        let user = self.caller.id();
        if !self.budget.spend(std::time::Instant::now()) {
            return Err(ApiError::TooManyRequests {
                message: "Too many joins, slow down".into(),
                retry_after_secs: super::budget::REFILL_EVERY.as_secs(),
            });
        }
        access::require_participant(&self.state, room, user).await?;
        if self.room != Some(room) {
            self.leave();
        }
        let subscriber = Subscriber {
            outbox: self.outbox.clone(),
            protocol: Protocol::Native,
            socket_id: self.socket_id.clone(),
            user: Some(user),
            session: Some(self.caller.claims.jti),
            // Present in the room while joined, as a Pusher client is on
            // its presence channel: both see each other come and go.
            member: Some(Member {
                user_id: user.to_string(),
                info: serde_json::to_value(self.caller.user.public_view()).unwrap_or_default(),
            }),
        };
        self.state.hub.subscribe(&channel(room), self.id, subscriber);
        let online = self.state.hub.presence.users(&frames::presence_of(&channel(room)));
        self.room = Some(room);
        let found = access::require(&self.state.db, room).await?;
        let view = rooms::room_view(&self.state, &found, &self.caller.user).await?;
        let replies = vec![frames::native(
            "room_joined",
            &RoomJoined {
                seq: found.event_seq,
                server_time: view.clock.server_time,
                position_ms: view.clock.position_ms,
                online,
                room: view,
            },
        )];
        catch_up::schedule(
            std::sync::Arc::clone(&self.state),
            room,
            channel(room),
            self.id,
            self.outbox.clone(),
            frames::native_room_frames,
        );
        Ok(replies)
    }

    fn leave(&mut self) -> Option<Uuid> {
        let room = self.room.take()?;
        self.state.hub.unsubscribe(&channel(room), self.id);
        Some(room)
    }

    fn close(&mut self) {
        self.leave();
        self.state.hub.close_session(self.caller.claims.jti, self.id);
        self.state.hub.disconnect(self.id);
    }
}

/// `room_joined`: the room in full, its clock beside it.
#[derive(serde::Serialize)]
struct RoomJoined {
    seq: i64,
    server_time: i64,
    position_ms: i64,
    /// The ids of the users connected to the room now, this one included.
    online: Vec<String>,
    room: crate::views::rooms::RoomView,
}

/// `connection_established`: who the socket speaks for.
#[derive(serde::Serialize)]
struct Established<'a> {
    user: crate::views::users::UserRef,
    socket_id: &'a str,
    server_time: i64,
}

/// The server's clock in Unix milliseconds, to the microsecond: a clock
/// exchange measures offsets well under a millisecond.
fn precise_now_ms() -> f64 {
    Utc::now().timestamp_micros() as f64 / 1000.0
}

/// `time`: the four timestamps of a clock exchange but the client's last.
fn time_answer(asked: inbound::TimeRequest, server_received: f64) -> Frame {
    frames::native(
        "time",
        &TimeAnswer {
            id: asked.id,
            client_sent: asked.client_sent,
            server_received,
            server_sent: precise_now_ms(),
        },
    )
}

/// `time`'s answer (docs/realtime.md, docs/sync.md).
#[derive(serde::Serialize)]
struct TimeAnswer {
    id: u32,
    client_sent: f64,
    server_received: f64,
    server_sent: f64,
}

/// `pong`: the server's clock.
#[derive(serde::Serialize)]
struct Pong {
    server_time: i64,
}
