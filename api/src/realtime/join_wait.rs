//! A room subscription that reaches us before its own join.
//!
//! The front end, opening a room it does not take part in yet, asks for the
//! room, then auto-joins it — and subscribes to the room's channel as soon
//! as it has the room and a socket, without waiting for the join. Its
//! `POST /broadcasting/auth` can therefore arrive before (or while) its
//! `POST /rooms/{id}/join` commits, on this replica or another; laravel-echo
//! never retries a refused subscription, so a plain refusal leaves that
//! listener deaf for the whole page. So a caller who is not a participant
//! of an existing room is answered when its join commits (the `user.joined`
//! event, from any replica over the bus, or PostgreSQL itself every
//! [`RECHECK`]), or refused after `BROADCAST_AUTH_WAIT_MS`. Nobody who does
//! not join is ever let in; a caller who never joins costs one parked
//! request, within the hub's bounds on followers of room events
//! ([`crate::hub::followers`]): when they are reached the oldest waiter is
//! answered early, so strangers' waits never refuse a newcomer.

use crate::http::error::{ApiError, ApiResult};
use crate::hub::message::{EventName, RoomEvent};
use crate::services::access;
use crate::state::AppState;
use std::net::IpAddr;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;
use uuid::Uuid;

/// How often PostgreSQL is asked again, for when the bus is down.
const RECHECK: Duration = Duration::from_millis(500);

fn is_join_of(event: &RoomEvent, room: Uuid, user: Uuid) -> bool {
    event.room_id == room
        && event.name == EventName::UserJoined
        && event.payload["user"]["id"].as_str() == Some(user.to_string().as_str())
}

/// Ok once `user` (calling from `client`) takes part in `room`; the
/// refusal of [`access::require_participant`] if it does not within `wait`,
/// or by the time a newer caller needs its place.
pub async fn participant_within(
    state: &AppState,
    room: Uuid,
    user: Uuid,
    client: IpAddr,
    wait: Duration,
) -> ApiResult<()> {
    let refusal = match access::require_participant(state, room, user).await {
        Ok(_) => return Ok(()),
        // A room that does not exist is not waited for.
        Err(ApiError::Forbidden(message)) if !wait.is_zero() => ApiError::Forbidden(message),
        Err(other) => return Err(other),
    };
    // Following before asking again: a join committed between the two is
    // seen by one or the other.
    let mut following = state.hub.follow_room_events(user, client);
    let cut = following.cut();
    tokio::pin!(cut);
    let mut deadline = Instant::now() + wait;
    loop {
        // Asked once more after the deadline too: the join may have
        // committed with the bus down.
        match access::require_participant(state, room, user).await {
            Ok(_) => return Ok(()),
            Err(ApiError::Forbidden(_)) if Instant::now() < deadline => {}
            Err(ApiError::Forbidden(_)) => return Err(refusal),
            Err(other) => return Err(other),
        }
        let recheck = (Instant::now() + RECHECK).min(deadline);
        loop {
            tokio::select! {
                received = tokio::time::timeout_at(recheck, following.events.recv()) => match received {
                    Ok(Ok(event)) if is_join_of(&event, room, user) => return Ok(()),
                    Ok(Ok(_)) => continue,
                    Ok(Err(RecvError::Lagged(_))) | Err(_) => break,
                    Ok(Err(RecvError::Closed)) => return Err(refusal),
                },
                // A newer follower took the place: one last question.
                () = &mut cut => {
                    deadline = Instant::now();
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_users_join_of_this_room_counts() {
        let (room, user) = (Uuid::new_v4(), Uuid::new_v4());
        let event = |room_id, name: EventName, id: Uuid| RoomEvent {
            room_id,
            name,
            seq: 1,
            payload: serde_json::json!({ "user": { "id": id } }),
            committed_at_us: 0,
        };
        assert!(is_join_of(&event(room, EventName::UserJoined, user), room, user));
        assert!(!is_join_of(
            &event(room, EventName::UserJoined, Uuid::new_v4()),
            room,
            user
        ));
        assert!(!is_join_of(
            &event(Uuid::new_v4(), EventName::UserJoined, user),
            room,
            user
        ));
        assert!(!is_join_of(&event(room, EventName::UserLeft, user), room, user));
    }
}
