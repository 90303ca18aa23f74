//! Followers of every room's events on this replica, for requests that wait
//! for one (a subscription waiting for its own join).
//!
//! Places are bounded per user ([`PER_USER`]), per client address
//! ([`PER_CLIENT`], IPv6 by its /64) and in all ([`IN_ALL`]), so waiting
//! stays cheap. A newcomer is never refused for want of a place: when a
//! bound is reached, the oldest follower under it is cut short instead
//! (its request asks once more and answers). Refusing the newcomer would
//! let strangers' parked requests deafen a genuine listener (laravel-echo
//! never retries a refused subscription); the oldest has had its wait,
//! and one account or address can only cut its own.

use super::message::RoomEvent;
use crate::http::client_addr::subscriber;
use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, Notify};
use uuid::Uuid;

/// Followers one user may have at once; a newer one cuts its oldest.
pub const PER_USER: usize = 4;
/// Followers one client address may have at once; a newer one cuts its oldest.
pub const PER_CLIENT: usize = 16;
/// Followers at once on this replica; a newer one cuts the oldest.
pub const IN_ALL: usize = 1024;

/// Who follows room events now.
#[derive(Default)]
pub struct Followers {
    places: Mutex<Places>,
}

struct Place {
    user: Uuid,
    client: IpAddr,
    cut: Arc<Notify>,
}

/// The followers by age (the key grows with each one), and their counts.
#[derive(Default)]
struct Places {
    next: u64,
    by_age: BTreeMap<u64, Place>,
    per_user: HashMap<Uuid, usize>,
    per_client: HashMap<IpAddr, usize>,
}

/// One user's following of room events; its place is given back when dropped.
pub struct Following<'a> {
    followers: &'a Followers,
    place: u64,
    cut: Arc<Notify>,
    /// The events, from the moment the following began.
    pub events: broadcast::Receiver<Arc<RoomEvent>>,
}

fn count<K: Hash + Eq>(counts: &HashMap<K, usize>, key: &K) -> usize {
    counts.get(key).copied().unwrap_or(0)
}

fn less<K: Hash + Eq>(counts: &mut HashMap<K, usize>, key: &K) {
    if let Some(n) = counts.get_mut(key) {
        *n -= 1;
        if *n == 0 {
            counts.remove(key);
        }
    }
}

impl Places {
    fn remove(&mut self, age: u64) -> Option<Place> {
        let place = self.by_age.remove(&age)?;
        less(&mut self.per_user, &place.user);
        less(&mut self.per_client, &place.client);
        Some(place)
    }

    /// Cuts the oldest follower that `which` picks.
    fn cut_oldest(&mut self, which: impl Fn(&Place) -> bool) {
        let oldest = self.by_age.iter().find(|(_, place)| which(place)).map(|(age, _)| *age);
        if let Some(place) = oldest.and_then(|age| self.remove(age)) {
            // Stored if its request is not waiting at this instant.
            place.cut.notify_one();
        }
    }
}

impl Followers {
    /// A place for `user`, calling from `client`, following `events`.
    pub fn enter(
        &self,
        user: Uuid,
        client: IpAddr,
        events: impl FnOnce() -> broadcast::Receiver<Arc<RoomEvent>>,
    ) -> Following<'_> {
        let client = subscriber(client);
        let mut places = self.places.lock().unwrap_or_else(|e| e.into_inner());
        if count(&places.per_user, &user) >= PER_USER {
            places.cut_oldest(|place| place.user == user);
        }
        if count(&places.per_client, &client) >= PER_CLIENT {
            places.cut_oldest(|place| place.client == client);
        }
        if places.by_age.len() >= IN_ALL {
            places.cut_oldest(|_| true);
        }
        let age = places.next;
        places.next += 1;
        let cut = Arc::new(Notify::new());
        places.by_age.insert(
            age,
            Place {
                user,
                client,
                cut: Arc::clone(&cut),
            },
        );
        *places.per_user.entry(user).or_default() += 1;
        *places.per_client.entry(client).or_default() += 1;
        Following {
            followers: self,
            place: age,
            cut,
            events: events(),
        }
    }

    /// Followers now.
    pub fn open(&self) -> usize {
        self.places.lock().unwrap_or_else(|e| e.into_inner()).by_age.len()
    }
}

impl Following<'_> {
    /// Resolves once a newer follower has taken this one's place (owning
    /// what it waits on, so that the events can be read meanwhile).
    pub fn cut(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let cut = Arc::clone(&self.cut);
        async move { cut.notified().await }
    }
}

impl Drop for Following<'_> {
    fn drop(&mut self) {
        let mut places = self.followers.places.lock().unwrap_or_else(|e| e.into_inner());
        places.remove(self.place);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;

    fn was_cut(following: &Following<'_>) -> bool {
        following.cut().now_or_never().is_some()
    }

    fn address(n: usize) -> IpAddr {
        IpAddr::from([198, 51, (n / 256) as u8, (n % 256) as u8])
    }

    #[test]
    fn a_users_newest_follower_cuts_its_oldest_and_no_one_elses() {
        let followers = Followers::default();
        let (sender, _) = broadcast::channel(1);
        let (one, other) = (Uuid::new_v4(), Uuid::new_v4());
        let others = followers.enter(other, address(1), || sender.subscribe());
        let held: Vec<_> = (0..PER_USER)
            .map(|n| followers.enter(one, address(n + 2), || sender.subscribe()))
            .collect();
        let newest = followers.enter(one, address(9), || sender.subscribe());
        assert!(was_cut(&held[0]), "the user's oldest made way");
        assert!(held[1..].iter().all(|f| !was_cut(f)));
        assert!(!was_cut(&others) && !was_cut(&newest));
        assert_eq!(followers.open(), PER_USER + 1);
        drop((held, newest, others));
        assert_eq!(followers.open(), 0);
        let places = followers.places.lock().unwrap();
        assert!(
            places.per_user.is_empty() && places.per_client.is_empty(),
            "nothing kept for followers gone"
        );
    }

    #[test]
    fn an_address_holds_its_share_and_an_ipv6_client_is_its_64() {
        let followers = Followers::default();
        let (sender, _) = broadcast::channel(1);
        let elsewhere = followers.enter(Uuid::new_v4(), address(1), || sender.subscribe());
        let held: Vec<_> = (0..PER_CLIENT)
            .map(|n| {
                let client: IpAddr = format!("2001:db8:0:7::{n:x}").parse().unwrap();
                followers.enter(Uuid::new_v4(), client, || sender.subscribe())
            })
            .collect();
        let newest = followers.enter(Uuid::new_v4(), "2001:db8:0:7:ffff::1".parse().unwrap(), || {
            sender.subscribe()
        });
        assert!(was_cut(&held[0]), "the address's oldest made way");
        assert!(held[1..].iter().all(|f| !was_cut(f)) && !was_cut(&newest));
        assert!(!was_cut(&elsewhere), "another address's follower keeps its place");
    }

    #[test]
    fn when_every_place_is_taken_a_newcomer_still_gets_one() {
        let followers = Followers::default();
        let (sender, _) = broadcast::channel(1);
        let strangers: Vec<_> = (0..IN_ALL)
            .map(|n| followers.enter(Uuid::new_v4(), address(n / PER_CLIENT), || sender.subscribe()))
            .collect();
        assert!(strangers.iter().all(|f| !was_cut(f)));
        let newcomer = followers.enter(Uuid::new_v4(), "203.0.113.9".parse().unwrap(), || sender.subscribe());
        assert!(!was_cut(&newcomer));
        assert!(was_cut(&strangers[0]), "the oldest stranger made way");
        assert_eq!(followers.open(), IN_ALL);
    }
}
