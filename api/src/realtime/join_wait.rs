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
//! ([`crate::hub::followers`]).

use crate::http::error::{ApiError, ApiResult};
use crate::hub::message::{EventName, RoomEvent};
use crate::routes::rooms;
use crate::state::AppState;
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

/// Ok once `user` takes part in `room`; the refusal of
/// [`rooms::require_participant`] if it does not within `wait`.
pub async fn participant_within(state: &AppState, room: Uuid, user: Uuid, wait: Duration) -> ApiResult<()> {
    let refusal = match rooms::require_participant(state, room, user).await {
        Ok(_) => return Ok(()),
        // A room that does not exist is not waited for.
        Err(ApiError::Forbidden(message)) if !wait.is_zero() => ApiError::Forbidden(message),
        Err(other) => return Err(other),
    };
    // Following before asking again: a join committed between the two is
    // seen by one or the other.
    let Some(mut following) = state.hub.follow_room_events(user) else {
        return Err(refusal);
    };
    let deadline = Instant::now() + wait;
    loop {
        // Asked once more after the deadline too: the join may have
        // committed with the bus down.
        match rooms::require_participant(state, room, user).await {
            Ok(_) => return Ok(()),
            Err(ApiError::Forbidden(_)) if Instant::now() < deadline => {}
            Err(ApiError::Forbidden(_)) => return Err(refusal),
            Err(other) => return Err(other),
        }
        let recheck = (Instant::now() + RECHECK).min(deadline);
        loop {
            match tokio::time::timeout_at(recheck, following.events.recv()).await {
                Ok(Ok(event)) if is_join_of(&event, room, user) => return Ok(()),
                Ok(Ok(_)) => continue,
                Ok(Err(RecvError::Lagged(_))) | Err(_) => break,
                Ok(Err(RecvError::Closed)) => return Err(refusal),
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
