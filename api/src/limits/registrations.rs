//! Accounts registered per client address and window, in process.
//!
//! Registration is open to anyone and each one costs a password hash and a
//! row: one address made 46 accounts a second, each of which could then
//! create rooms and playlists. So each client may register
//! `REGISTER_LIMIT_PER_IP` accounts per `REGISTER_LIMIT_WINDOW`, counted
//! before the hash (a refused one costs nothing). IPv6 clients are counted
//! by their /64, which one subscriber usually holds whole. The clients held
//! are bounded ([`super::windows`]), so a flood of addresses costs bounded
//! memory.
//!
//! Each replica counts its own: with N replicas one client may register N
//! times the limit, which still stops a flood.

use super::windows::Windows;
use crate::http::client_addr::subscriber;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct Registrations {
    per_client: u32,
    counts: Mutex<Windows<IpAddr>>,
}

impl Registrations {
    pub fn new(per_client: u32, window: Duration) -> Self {
        Self {
            per_client,
            counts: Mutex::new(Windows::new(window)),
        }
    }

    /// Counts one registration from `client`; `Err(seconds to wait)` when
    /// it has made its share in this window.
    pub fn count(&self, client: IpAddr) -> Result<(), u64> {
        let now = Instant::now();
        let key = subscriber(client);
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(wait) = counts.full(&key, self.per_client, now) {
            return Err(wait);
        }
        counts.room_for(std::slice::from_ref(&key), now)?;
        counts.add(key, now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_registers_its_share_per_window_and_others_theirs() {
        let registrations = Registrations::new(2, Duration::from_secs(3600));
        let one: IpAddr = "203.0.113.7".parse().unwrap();
        assert!(registrations.count(one).is_ok());
        assert!(registrations.count(one).is_ok());
        let wait = registrations.count(one).unwrap_err();
        assert!((3500..=3600).contains(&wait), "{wait}");
        assert!(registrations.count("203.0.113.8".parse().unwrap()).is_ok());
    }

    #[test]
    fn an_ipv6_client_is_counted_by_its_64() {
        let registrations = Registrations::new(1, Duration::from_secs(60));
        assert!(registrations.count("2001:db8:1:2::1".parse().unwrap()).is_ok());
        assert!(registrations.count("2001:db8:1:2:ffff::9".parse().unwrap()).is_err());
        assert!(registrations.count("2001:db8:1:3::1".parse().unwrap()).is_ok());
    }

    #[test]
    fn the_window_passing_gives_the_share_back() {
        let registrations = Registrations::new(1, Duration::from_millis(30));
        let one: IpAddr = "198.51.100.1".parse().unwrap();
        assert!(registrations.count(one).is_ok());
        assert!(registrations.count(one).is_err());
        std::thread::sleep(Duration::from_millis(40));
        assert!(registrations.count(one).is_ok());
    }
}
