//! Who holds this replica's connections, and which of them wait idle.
//!
//! `MAX_CONNECTIONS` alone let four addresses fill every place with
//! keep-alive connections that sent nothing, and then `/api/ping` from
//! anyone else was refused. So, as nginx does when it runs out of worker
//! connections, a newcomer finding every place taken closes the connection
//! that has waited longest between two requests (or since it opened), and
//! one client address may hold at most `MAX_CONNECTIONS_PER_CLIENT`
//! (trusted proxies, which carry everyone's requests, excepted). A
//! connection busy with a request, or upgraded to a WebSocket (bounded by
//! the hub's own caps), is never closed for a newcomer.
//!
//! The acceptor admits a connection ([`Connections::admit`]); the
//! `activity` hoop marks it busy while a request is handled
//! ([`Connections::busy`]), by its peer address, which names one TCP
//! connection while it is open.

use crate::http::client_addr::{canonical, TrustedProxies};
use futures_util::task::AtomicWaker;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub struct Connections {
    max: usize,
    per_client: usize,
    trusted: TrustedProxies,
    held: Mutex<Held>,
}

#[derive(Default)]
struct Held {
    /// Open, those being closed for newcomers included.
    open: usize,
    /// Asked to close for a newcomer, not yet gone.
    closing: usize,
    by_client: HashMap<IpAddr, usize>,
    by_peer: HashMap<SocketAddr, Entry>,
}

struct Entry {
    connection: Arc<Closer>,
    /// Requests being handled on it now.
    busy: u32,
    upgraded: bool,
    idle_since: Instant,
}

/// How a connection is told to close: its reads end, as if its client had
/// closed it, so the server finishes it as any other.
#[derive(Default)]
pub struct Closer {
    closed: AtomicBool,
    reader: AtomicWaker,
}

impl Closer {
    /// Whether the connection should end; `waker` is woken when it should.
    pub fn should_close(&self, waker: &std::task::Waker) -> bool {
        self.reader.register(waker);
        self.closed.load(Ordering::Acquire)
    }

    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.reader.wake();
    }
}

/// Why a connection was not admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// Its address holds `MAX_CONNECTIONS_PER_CLIENT` already.
    Client,
    /// Every place is taken by a connection busy or upgraded.
    Full,
}

/// One admitted connection: released when dropped.
pub struct Admitted {
    connections: Arc<Connections>,
    peer: SocketAddr,
    pub closer: Arc<Closer>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.connections.release(self.peer, &self.closer);
    }
}

/// A request being handled: its connection is busy until this is done.
pub struct Busy<'a> {
    connections: &'a Connections,
    peer: SocketAddr,
}

impl Busy<'_> {
    /// The request is answered; `upgraded` if it became a WebSocket.
    pub fn done(self, upgraded: bool) {
        let mut held = self.connections.lock();
        if let Some(entry) = held.by_peer.get_mut(&self.peer) {
            entry.busy = entry.busy.saturating_sub(1);
            entry.upgraded |= upgraded;
            entry.idle_since = Instant::now();
        }
        std::mem::forget(self);
    }
}

impl Drop for Busy<'_> {
    /// Dropped without `done`: the handler was cancelled.
    fn drop(&mut self) {
        let mut held = self.connections.lock();
        if let Some(entry) = held.by_peer.get_mut(&self.peer) {
            entry.busy = entry.busy.saturating_sub(1);
            entry.idle_since = Instant::now();
        }
    }
}

impl Connections {
    pub fn new(max: usize, per_client: usize, trusted: TrustedProxies) -> Arc<Self> {
        Arc::new(Self {
            max: max.max(1),
            per_client: per_client.max(1),
            trusted,
            held: Mutex::default(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Admits a connection from `peer`, closing the one idle longest when
    /// every place is taken.
    pub fn admit(self: &Arc<Self>, peer: SocketAddr) -> Result<Admitted, Refused> {
        let client = canonical(peer.ip());
        let mut held = self.lock();
        if !self.trusted.trusts(client) && held.by_client.get(&client).is_some_and(|n| *n >= self.per_client) {
            return Err(Refused::Client);
        }
        if held.open - held.closing >= self.max {
            let idlest = held
                .by_peer
                .iter_mut()
                .filter(|(_, e)| e.busy == 0 && !e.upgraded && !e.connection.closed.load(Ordering::Relaxed))
                .min_by_key(|(_, e)| e.idle_since)
                .map(|(_, e)| Arc::clone(&e.connection));
            let Some(idlest) = idlest else {
                return Err(Refused::Full);
            };
            idlest.close();
            held.closing += 1;
        }
        held.open += 1;
        *held.by_client.entry(client).or_default() += 1;
        let closer = Arc::new(Closer::default());
        held.by_peer.insert(
            peer,
            Entry {
                connection: Arc::clone(&closer),
                busy: 0,
                upgraded: false,
                idle_since: Instant::now(),
            },
        );
        Ok(Admitted {
            connections: Arc::clone(self),
            peer,
            closer,
        })
    }

    fn release(&self, peer: SocketAddr, closer: &Arc<Closer>) {
        let client = canonical(peer.ip());
        let mut held = self.lock();
        held.open -= 1;
        if closer.closed.load(Ordering::Relaxed) {
            held.closing -= 1;
        }
        if let Some(count) = held.by_client.get_mut(&client) {
            *count -= 1;
            if *count == 0 {
                held.by_client.remove(&client);
            }
        }
        if held
            .by_peer
            .get(&peer)
            .is_some_and(|e| Arc::ptr_eq(&e.connection, closer))
        {
            held.by_peer.remove(&peer);
        }
    }

    /// Marks the connection from `peer` busy until the request is done.
    pub fn busy(&self, peer: SocketAddr) -> Busy<'_> {
        if let Some(entry) = self.lock().by_peer.get_mut(&peer) {
            entry.busy += 1;
        }
        Busy {
            connections: self,
            peer,
        }
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.lock().open
    }
}

/// The hoop that marks a connection busy while its request is handled.
pub struct Activity(pub Arc<Connections>);

#[salvo::async_trait]
impl salvo::Handler for Activity {
    async fn handle(
        &self,
        req: &mut salvo::Request,
        depot: &mut salvo::Depot,
        res: &mut salvo::Response,
        ctrl: &mut salvo::FlowCtrl,
    ) {
        let peer = req
            .remote_addr()
            .as_ipv4()
            .map(|a| SocketAddr::V4(*a))
            .or_else(|| req.remote_addr().as_ipv6().map(|a| SocketAddr::V6(*a)));
        let Some(peer) = peer else {
            ctrl.call_next(req, depot, res).await;
            return;
        };
        let busy = self.0.busy(peer);
        ctrl.call_next(req, depot, res).await;
        busy.done(res.status_code == Some(salvo::http::StatusCode::SWITCHING_PROTOCOLS));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(ip: &str, port: u16) -> SocketAddr {
        SocketAddr::new(ip.parse().unwrap(), port)
    }

    #[test]
    fn a_newcomer_closes_the_connection_idle_longest_never_a_busy_one() {
        let connections = Connections::new(3, 10, TrustedProxies::default());
        let first = connections.admit(peer("10.0.0.1", 1)).unwrap();
        let busy = connections.admit(peer("10.0.0.2", 1)).unwrap();
        let third = connections.admit(peer("10.0.0.3", 1)).unwrap();
        let request = connections.busy(peer("10.0.0.2", 1));
        let newcomer = connections
            .admit(peer("10.0.0.4", 1))
            .expect("a place made for a newcomer");
        assert!(
            first.closer.closed.load(Ordering::Relaxed),
            "the one idle longest is closed"
        );
        assert!(!busy.closer.closed.load(Ordering::Relaxed) && !third.closer.closed.load(Ordering::Relaxed));
        // The closed one is going: a second newcomer closes the next idlest.
        let _second = connections.admit(peer("10.0.0.5", 1)).unwrap();
        assert!(third.closer.closed.load(Ordering::Relaxed));
        drop((first, third));
        assert_eq!(connections.open(), 3);
        // Left: one busy, two idle newcomers; with the busy one upgraded and
        // the newcomers busy, nobody can be closed.
        request.done(true);
        let _a = connections.busy(peer("10.0.0.4", 1));
        let _b = connections.busy(peer("10.0.0.5", 1));
        assert_eq!(connections.admit(peer("10.0.0.6", 1)).err(), Some(Refused::Full));
        drop(newcomer);
        assert!(connections.admit(peer("10.0.0.6", 1)).is_ok());
    }

    #[test]
    fn one_address_holds_its_share_but_a_trusted_proxy_is_not_held_to_it() {
        let trusted = TrustedProxies::parse("10.9.9.9").unwrap();
        let connections = Connections::new(100, 2, trusted);
        let held: Vec<_> = (1..=2)
            .map(|port| connections.admit(peer("10.0.0.1", port)).unwrap())
            .collect();
        assert_eq!(connections.admit(peer("10.0.0.1", 3)).err(), Some(Refused::Client));
        assert!(
            connections.admit(peer("::ffff:10.0.0.1", 4)).is_err(),
            "one address however written"
        );
        assert!(connections.admit(peer("10.0.0.2", 1)).is_ok());
        let proxied: Vec<_> = (1..=5).map(|port| connections.admit(peer("10.9.9.9", port))).collect();
        assert!(proxied.iter().all(Result::is_ok));
        drop(held);
        assert!(connections.admit(peer("10.0.0.1", 3)).is_ok());
    }
}
