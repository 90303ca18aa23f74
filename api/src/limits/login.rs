//! Login attempt limits per client address and per account, in process.
//!
//! An attempt is **reserved before the password is verified**: of a hundred
//! parallel guesses at one account under a limit of ten, ten are evaluated
//! and ninety refused, where counting after verifying let them all through
//! the check at once. A success gives its reservation back; a failure (or a
//! request abandoned mid-verification) keeps it.
//!
//! Failures against e-mails without an account count in a bucket of their
//! own per client: a visitor spraying made-up e-mails exhausts that bucket
//! and never the one known accounts are checked against, so they cannot
//! lock a real user out. (Registration already tells which e-mails are
//! taken; what login must not do is let that cost anyone their account.)
//!
//! Every replica counts against one limit: an attempt takes its place in
//! windows kept in Redis ([`crate::limits::shared`]) as well as in
//! this process, so that a client whose guesses a load balancer spreads
//! over N replicas gets the limit, not N times it. When Redis cannot be
//! asked, each replica counts alone, as a fallback (the limit is then at
//! most replicas × limit, which still stops brute force). The keys held in
//! process are bounded ([`super::windows`]): a flood of addresses and
//! e-mails costs bounded memory, not unbounded; in Redis, a key holds at
//! most its limit's worth of entries and expires with its window.

use super::windows::Windows;
use crate::cache::Cache;
use crate::config::LoginLimit;
use crate::limits::shared::{self, Verdict};
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub struct LoginLimiter {
    limit: LoginLimit,
    attempts: Mutex<Windows<Key>>,
    shared: Arc<Cache>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
enum Key {
    /// Attempts from one client at accounts that exist.
    Client(IpAddr),
    /// Attempts from one client at e-mails with no account.
    ClientUnknown(IpAddr),
    Account(String),
}

impl Key {
    /// Its window in Redis: one hash tag for all, so a cluster keeps them
    /// on one slot; an account by a digest of its e-mail (any length).
    fn shared(&self) -> String {
        match self {
            Self::Client(ip) => format!("{{login}}:client:{ip}"),
            Self::ClientUnknown(ip) => format!("{{login}}:unknown:{ip}"),
            Self::Account(email) => format!("{{login}}:account:{}", hex::encode(&Sha256::digest(email)[..16])),
        }
    }
}

/// A reserved attempt: counted until [`Attempt::succeeded`] gives it back.
#[must_use = "an attempt is given back only when it succeeded"]
pub struct Attempt<'a> {
    limiter: &'a LoginLimiter,
    keys: [Key; 2],
    /// Its id in the shared windows; None when Redis was away.
    shared: Option<String>,
}

impl LoginLimiter {
    /// Limits counted in process and, through `shared`, across replicas.
    pub fn new(limit: LoginLimit, shared: Arc<Cache>) -> Self {
        Self {
            attempts: Mutex::new(Windows::new(limit.window)),
            limit,
            shared,
        }
    }

    /// Reserves one attempt from `client` at `account` (which `exists` or
    /// not); `Err(seconds to wait)` when either is over its limit, here or
    /// across replicas.
    pub async fn reserve(&self, client: IpAddr, account: &str, exists: bool) -> Result<Attempt<'_>, u64> {
        let keys = self.reserve_here(client, account, exists)?;
        let id = uuid::Uuid::new_v4().simple().to_string();
        let windows = [
            (keys[0].shared(), self.limit.per_ip),
            (keys[1].shared(), self.limit.per_account),
        ];
        let shared = match shared::reserve(&self.shared, &windows, self.limit.window, &id).await {
            Verdict::Reserved => Some(id),
            Verdict::Away => None,
            Verdict::Full { wait } => {
                self.give_back(&keys);
                return Err(wait.as_secs().max(1));
            }
        };
        Ok(Attempt {
            limiter: self,
            keys,
            shared,
        })
    }

    fn give_back(&self, keys: &[Key; 2]) {
        let mut attempts = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        for key in keys {
            attempts.take_back(key);
        }
    }

    /// The reservation in this process, which alone decides when Redis is away.
    fn reserve_here(&self, client: IpAddr, account: &str, exists: bool) -> Result<[Key; 2], u64> {
        let now = Instant::now();
        let client_key = if exists {
            Key::Client(client)
        } else {
            Key::ClientUnknown(client)
        };
        let keys = [client_key, Key::Account(account.to_owned())];
        let mut attempts = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        let wait = keys
            .iter()
            .zip([self.limit.per_ip, self.limit.per_account])
            .filter_map(|(key, max)| attempts.full(key, max, now))
            .max();
        if let Some(wait) = wait {
            return Err(wait);
        }
        attempts.room_for(&keys, now)?;
        for key in &keys {
            attempts.add(key.clone(), now);
        }
        Ok(keys)
    }
}

impl Attempt<'_> {
    /// The password was right: the client's attempt is given back and the
    /// account's failures are forgotten.
    pub fn succeeded(self) {
        let mut attempts = self.limiter.attempts.lock().unwrap_or_else(|e| e.into_inner());
        attempts.take_back(&self.keys[0]);
        attempts.forget(&self.keys[1]);
        drop(attempts);
        if let Some(id) = self.shared {
            // Not waited for: the answer need not wait on Redis twice.
            let (cache, client, account) = (
                self.limiter.shared.clone(),
                self.keys[0].shared(),
                self.keys[1].shared(),
            );
            tokio::spawn(async move {
                shared::take_back(&cache, &client, &id).await;
                shared::forget(&cache, &account).await;
            });
        }
    }

    /// Not evaluated (the server was busy): nothing is counted.
    pub fn cancel(self) {
        self.limiter.give_back(&self.keys);
        if let Some(id) = self.shared {
            let cache = self.limiter.shared.clone();
            let windows = self.keys.clone().map(|key| key.shared());
            tokio::spawn(async move {
                for window in windows {
                    shared::take_back(&cache, &window, &id).await;
                }
            });
        }
    }

    /// The password was wrong: the attempt stays counted.
    pub fn failed(self) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// In process only: no Redis is configured (the shared windows are
    /// tested against a real one, with replicas: tests/api/login_abuse.rs).
    fn limiter(per_ip: u32, per_account: u32) -> LoginLimiter {
        let limit = LoginLimit {
            per_ip,
            per_account,
            window: Duration::from_secs(60),
        };
        LoginLimiter::new(limit, Arc::new(Cache::new("", "test:")))
    }

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, n])
    }

    #[tokio::test]
    async fn failures_over_the_limit_are_refused_until_a_success() {
        let limiter = limiter(100, 2);
        limiter.reserve(ip(1), "a@x", true).await.unwrap().failed();
        limiter.reserve(ip(1), "a@x", true).await.unwrap().failed();
        let wait = limiter.reserve(ip(2), "a@x", true).await.err().unwrap();
        assert!(wait > 0 && wait <= 60);
        assert!(
            limiter.reserve(ip(1), "b@x", true).await.is_ok(),
            "other accounts are unaffected"
        );
    }

    #[tokio::test]
    async fn reservations_are_counted_before_they_are_judged() {
        let limiter = limiter(100, 10);
        let mut held = Vec::new();
        for _ in 0..10 {
            held.push(limiter.reserve(ip(1), "a@x", true).await.unwrap());
        }
        assert!(
            limiter.reserve(ip(1), "a@x", true).await.is_err(),
            "ten in flight fill the limit"
        );
        held.into_iter().for_each(Attempt::cancel);
        assert!(limiter.reserve(ip(1), "a@x", true).await.is_ok());
    }

    #[tokio::test]
    async fn made_up_emails_cannot_lock_out_a_known_account_from_the_same_address() {
        let limiter = limiter(30, 10);
        for n in 0..31 {
            if let Ok(attempt) = limiter.reserve(ip(1), &format!("nobody{n}@x"), false).await {
                attempt.failed();
            }
        }
        assert!(
            limiter.reserve(ip(1), "nobody99@x", false).await.is_err(),
            "the sprayer is slowed"
        );
        limiter.reserve(ip(1), "alice@x", true).await.unwrap().succeeded();
    }

    #[tokio::test]
    async fn a_success_gives_its_reservation_back() {
        let limiter = limiter(3, 100);
        for _ in 0..10 {
            limiter.reserve(ip(1), "a@x", true).await.unwrap().succeeded();
        }
    }
}
