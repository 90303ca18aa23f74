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
//! Each replica counts its own attempts; behind a load balancer that spreads
//! clients, the effective limit is at most replicas × limit, which still
//! stops brute force. The keys held are bounded ([`super::windows`]): a
//! flood of addresses and e-mails costs bounded memory, not unbounded.

use super::windows::Windows;
use crate::config::LoginLimit;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

pub struct LoginLimiter {
    limit: LoginLimit,
    attempts: Mutex<Windows<Key>>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
enum Key {
    /// Attempts from one client at accounts that exist.
    Client(IpAddr),
    /// Attempts from one client at e-mails with no account.
    ClientUnknown(IpAddr),
    Account(String),
}

/// A reserved attempt: counted until [`Attempt::succeeded`] gives it back.
#[must_use = "an attempt is given back only when it succeeded"]
pub struct Attempt<'a> {
    limiter: &'a LoginLimiter,
    keys: [Key; 2],
}

impl LoginLimiter {
    pub fn new(limit: LoginLimit) -> Self {
        Self {
            attempts: Mutex::new(Windows::new(limit.window)),
            limit,
        }
    }

    /// Reserves one attempt from `client` at `account` (which `exists` or
    /// not); `Err(seconds to wait)` when either is over its limit.
    pub fn reserve(&self, client: IpAddr, account: &str, exists: bool) -> Result<Attempt<'_>, u64> {
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
        Ok(Attempt { limiter: self, keys })
    }
}

impl Attempt<'_> {
    /// The password was right: the client's attempt is given back and the
    /// account's failures are forgotten.
    pub fn succeeded(self) {
        let mut attempts = self.limiter.attempts.lock().unwrap_or_else(|e| e.into_inner());
        attempts.take_back(&self.keys[0]);
        attempts.forget(&self.keys[1]);
    }

    /// Not evaluated (the server was busy): nothing is counted.
    pub fn cancel(self) {
        let mut attempts = self.limiter.attempts.lock().unwrap_or_else(|e| e.into_inner());
        for key in &self.keys {
            attempts.take_back(key);
        }
    }

    /// The password was wrong: the attempt stays counted.
    pub fn failed(self) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn limiter(per_ip: u32, per_account: u32) -> LoginLimiter {
        LoginLimiter::new(LoginLimit {
            per_ip,
            per_account,
            window: Duration::from_secs(60),
        })
    }

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, n])
    }

    #[test]
    fn failures_over_the_limit_are_refused_until_a_success() {
        let limiter = limiter(100, 2);
        limiter.reserve(ip(1), "a@x", true).unwrap().failed();
        limiter.reserve(ip(1), "a@x", true).unwrap().failed();
        let wait = limiter.reserve(ip(2), "a@x", true).err().unwrap();
        assert!(wait > 0 && wait <= 60);
        assert!(
            limiter.reserve(ip(1), "b@x", true).is_ok(),
            "other accounts are unaffected"
        );
    }

    #[test]
    fn reservations_are_counted_before_they_are_judged() {
        let limiter = limiter(100, 10);
        let held: Vec<_> = (0..10).map(|_| limiter.reserve(ip(1), "a@x", true).unwrap()).collect();
        assert!(
            limiter.reserve(ip(1), "a@x", true).is_err(),
            "ten in flight fill the limit"
        );
        held.into_iter().for_each(Attempt::cancel);
        assert!(limiter.reserve(ip(1), "a@x", true).is_ok());
    }

    #[test]
    fn made_up_emails_cannot_lock_out_a_known_account_from_the_same_address() {
        let limiter = limiter(30, 10);
        for n in 0..31 {
            if let Ok(attempt) = limiter.reserve(ip(1), &format!("nobody{n}@x"), false) {
                attempt.failed();
            }
        }
        assert!(
            limiter.reserve(ip(1), "nobody99@x", false).is_err(),
            "the sprayer is slowed"
        );
        limiter.reserve(ip(1), "alice@x", true).unwrap().succeeded();
    }

    #[test]
    fn a_success_gives_its_reservation_back() {
        let limiter = limiter(3, 100);
        for _ in 0..10 {
            limiter.reserve(ip(1), "a@x", true).unwrap().succeeded();
        }
    }
}
