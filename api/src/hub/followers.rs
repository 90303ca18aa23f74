//! Followers of every room's events on this replica, for requests that wait
//! for one (a subscription waiting for its own join): at most [`PER_USER`]
//! at once per user and [`IN_ALL`] in all, so waiting stays cheap.

use super::message::RoomEvent;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;
use uuid::Uuid;

/// Followers one user may have at once; more are refused.
pub const PER_USER: usize = 4;
/// Followers at once on this replica.
pub const IN_ALL: usize = 1024;

/// Who follows room events now.
#[derive(Default)]
pub struct Followers {
    following: Mutex<(usize, HashMap<Uuid, usize>)>,
}

/// One user's following of room events; its place is given back when dropped.
pub struct Following<'a> {
    followers: &'a Followers,
    user: Uuid,
    /// The events, from the moment the following began.
    pub events: broadcast::Receiver<Arc<RoomEvent>>,
}

impl Followers {
    pub fn enter(
        &self,
        user: Uuid,
        events: impl FnOnce() -> broadcast::Receiver<Arc<RoomEvent>>,
    ) -> Option<Following<'_>> {
        let mut guard = self.following.lock().unwrap_or_else(|e| e.into_inner());
        let (total, per_user) = &mut *guard;
        if per_user.get(&user).is_some_and(|mine| *mine >= PER_USER) || *total >= IN_ALL {
            return None;
        }
        *per_user.entry(user).or_default() += 1;
        *total += 1;
        Some(Following {
            followers: self,
            user,
            events: events(),
        })
    }

    /// Followers now.
    pub fn open(&self) -> usize {
        self.following.lock().unwrap_or_else(|e| e.into_inner()).0
    }
}

impl Drop for Following<'_> {
    fn drop(&mut self) {
        let mut guard = self.followers.following.lock().unwrap_or_else(|e| e.into_inner());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_holds_at_most_per_user_places_and_gets_them_back() {
        let followers = Followers::default();
        let (sender, _) = broadcast::channel(1);
        let (one, other) = (Uuid::new_v4(), Uuid::new_v4());
        let held: Vec<_> = (0..PER_USER)
            .map(|_| followers.enter(one, || sender.subscribe()).expect("a place"))
            .collect();
        assert!(
            followers.enter(one, || sender.subscribe()).is_none(),
            "one user cannot follow more"
        );
        assert!(
            followers.enter(other, || sender.subscribe()).is_some(),
            "others still can"
        );
        assert_eq!(followers.open(), PER_USER);
        drop(held);
        assert_eq!(followers.open(), 0);
        assert!(followers.enter(one, || sender.subscribe()).is_some());
        assert!(
            followers.following.lock().unwrap().1.is_empty(),
            "nothing kept for users gone"
        );
    }
}
