//! How many WebSockets may be open: in all, and from one client address.
//!
//! Sockets live for hours and each holds a descriptor; 2 033 anonymous
//! Pusher sockets once filled a 2 048 limit and `/api/ping` went silent.
//! WebSockets are admitted below the process's connection cap
//! (`acceptor`), so plain requests always find room, and one client address
//! (behind trusted proxies, the real one) may hold only so many.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

pub struct Admission {
    max_total: usize,
    max_per_client: usize,
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

/// One admitted socket; its place is given back when dropped.
pub struct Ticket {
    admission: Arc<Admission>,
    client: IpAddr,
}

/// Why a socket is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Full {
    Server,
    Client,
}

impl Admission {
    pub fn new(max_total: usize, max_per_client: usize) -> Arc<Self> {
        Arc::new(Self {
            max_total: max_total.max(1),
            max_per_client: max_per_client.max(1),
            open: Mutex::new((0, HashMap::new())),
        })
    }

    /// A place for one more socket from `client`, if there is one.
    pub fn admit(self: &Arc<Self>, client: IpAddr) -> Result<Ticket, Full> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if open.0 >= self.max_total {
            return Err(Full::Server);
        }
        let mine = open.1.entry(client).or_insert(0);
        if *mine >= self.max_per_client {
            return Err(Full::Client);
        }
        *mine += 1;
        open.0 += 1;
        Ok(Ticket {
            admission: Arc::clone(self),
            client,
        })
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut open = self.admission.open.lock().unwrap_or_else(|e| e.into_inner());
        open.0 = open.0.saturating_sub(1);
        if let Some(mine) = open.1.get_mut(&self.client) {
            *mine -= 1;
            if *mine == 0 {
                open.1.remove(&self.client);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_bounded_in_all_and_per_client_and_given_back() {
        let admission = Admission::new(3, 2);
        let a = IpAddr::from([192, 0, 2, 1]);
        let b = IpAddr::from([192, 0, 2, 2]);
        let first = admission.admit(a).unwrap();
        let _second = admission.admit(a).unwrap();
        assert_eq!(admission.admit(a).err(), Some(Full::Client));
        let _third = admission.admit(b).unwrap();
        assert_eq!(admission.admit(b).err(), Some(Full::Server));
        drop(first);
        assert!(admission.admit(b).is_ok(), "a closed socket's place is free again");
        assert!(
            admission.open.lock().unwrap().1.len() <= 2,
            "no entry outlives its sockets"
        );
    }
}
