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
//! request, at most [`PER_USER`] at once per user and [`IN_ALL`] in all.

use super::message::RoomEvent;
use crate::error::{ApiError, ApiResult};
use crate::rooms;
use crate::state::AppState;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;
use uuid::Uuid;

/// Waits one user may have open at once; more are refused at once.
pub const PER_USER: usize = 4;
/// Waits open at once on this replica.
pub const IN_ALL: usize = 1024;
/// How often PostgreSQL is asked again, for when the bus is down.
const RECHECK: Duration = Duration::from_millis(500);

/// Who is waiting for a join, to bound what waiting may cost.
#[derive(Default)]
pub struct JoinWaits {
    waiting: Mutex<(usize, HashMap<Uuid, usize>)>,
}

/// A wait under way; its place is given back when dropped.
pub struct Waiting<'a> {
    waits: &'a JoinWaits,
    user: Uuid,
}

impl JoinWaits {
    fn enter(&self, user: Uuid) -> Option<Waiting<'_>> {
        let mut guard = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        let (total, per_user) = &mut *guard;
        let mine = per_user.entry(user).or_default();
        if *mine >= PER_USER || *total >= IN_ALL {
            if *mine == 0 {
                per_user.remove(&user);
            }
            return None;
        }
        *mine += 1;
        *total += 1;
        Some(Waiting { waits: self, user })
    }

    /// Waits open now.
    pub fn open(&self) -> usize {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner()).0
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let mut guard = self.waits.waiting.lock().unwrap_or_else(|e| e.into_inner());
        let (total, per_user) = &mut *guard;
        *total -= 1;
        if let Some(mine) = per_user.get_mut(&self.user) {
            *mine -= 1;
            if *mine == 0 {
                per_user.remove(&self.user);
            }
        }
    }
}

fn is_join_of(event: &RoomEvent, room: Uuid, user: Uuid) -> bool {
    event.room_id == room
        && event.name == "user.joined"
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
    let Some(_place) = state.hub.join_waits.enter(user) else {
        return Err(refusal);
    };
    // Following before asking again: a join committed between the two is
    // seen by one or the other.
    let mut events = state.hub.follow_room_events();
    let deadline = Instant::now() + wait;
    loop {
        match rooms::require_participant(state, room, user).await {
            Ok(_) => return Ok(()),
            Err(ApiError::Forbidden(_)) => {}
            Err(other) => return Err(other),
        }
        let recheck = (Instant::now() + RECHECK).min(deadline);
        loop {
            match tokio::time::timeout_at(recheck, events.recv()).await {
                Ok(Ok(event)) if is_join_of(&event, room, user) => return Ok(()),
                Ok(Ok(_)) => continue,
                Ok(Err(RecvError::Lagged(_))) | Err(_) => break,
                Ok(Err(RecvError::Closed)) => return Err(refusal),
            }
        }
        if Instant::now() >= deadline {
            // One last look: the join may have committed with the bus down.
            return match rooms::require_participant(state, room, user).await {
                Ok(_) => Ok(()),
                Err(ApiError::Forbidden(_)) => Err(refusal),
                Err(other) => Err(other),
            };
        }
    }
}

/// The events of every room as they reach this replica, while anyone asks.
pub type RoomEvents = tokio::sync::broadcast::Receiver<Arc<RoomEvent>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_holds_at_most_per_user_places_and_gets_them_back() {
        let waits = JoinWaits::default();
        let (one, other) = (Uuid::new_v4(), Uuid::new_v4());
        let held: Vec<_> = (0..PER_USER).map(|_| waits.enter(one).expect("a place")).collect();
        assert!(waits.enter(one).is_none(), "one user cannot park more");
        assert!(waits.enter(other).is_some(), "others still can");
        assert_eq!(waits.open(), PER_USER);
        drop(held);
        assert_eq!(waits.open(), 0);
        assert!(waits.enter(one).is_some());
        assert!(
            waits.waiting.lock().unwrap().1.is_empty(),
            "nothing kept for users gone"
        );
    }

    #[test]
    fn only_this_users_join_of_this_room_counts() {
        let (room, user) = (Uuid::new_v4(), Uuid::new_v4());
        let event = |room_id, name: &str, id: Uuid| RoomEvent {
            room_id,
            name: name.into(),
            seq: 1,
            payload: serde_json::json!({ "user": { "id": id } }),
            committed_at_us: 0,
        };
        assert!(is_join_of(&event(room, "user.joined", user), room, user));
        assert!(!is_join_of(&event(room, "user.joined", Uuid::new_v4()), room, user));
        assert!(!is_join_of(&event(Uuid::new_v4(), "user.joined", user), room, user));
        assert!(!is_join_of(&event(room, "user.left", user), room, user));
    }
}
