//! Login attempt limits per client address and per account, in process.
//!
//! Each replica counts its own attempts; behind a load balancer that spreads
//! clients, the effective limit is at most replicas × limit, which still
//! stops brute force. Failed attempts count; a success clears the account.

use crate::config::LoginLimit;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

pub struct LoginLimiter {
    limit: LoginLimit,
    attempts: Mutex<HashMap<String, (u32, Instant)>>,
}

impl LoginLimiter {
    pub fn new(limit: LoginLimit) -> Self {
        Self {
            limit,
            attempts: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(seconds to wait)` when either key is over its limit.
    pub fn check(&self, ip: &str, account: &str) -> Result<(), u64> {
        let now = Instant::now();
        let attempts = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        let over = |key: String, max: u32| {
            attempts.get(&key).and_then(|&(count, since)| {
                let left = self.limit.window.checked_sub(now.duration_since(since))?;
                (count >= max).then_some(left.as_secs().max(1))
            })
        };
        match over(format!("ip:{ip}"), self.limit.per_ip).or(over(format!("account:{account}"), self.limit.per_account))
        {
            Some(wait) => Err(wait),
            None => Ok(()),
        }
    }

    pub fn failed(&self, ip: &str, account: &str) {
        let now = Instant::now();
        let mut attempts = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        attempts.retain(|_, (_, since)| now.duration_since(*since) < self.limit.window);
        for key in [format!("ip:{ip}"), format!("account:{account}")] {
            let entry = attempts.entry(key).or_insert((0, now));
            entry.0 += 1;
        }
    }

    pub fn succeeded(&self, account: &str) {
        self.attempts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&format!("account:{account}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn failures_over_the_limit_are_refused_until_the_window_passes() {
        let limiter = LoginLimiter::new(LoginLimit {
            per_ip: 100,
            per_account: 2,
            window: Duration::from_secs(60),
        });
        assert!(limiter.check("1.1.1.1", "a@x").is_ok());
        limiter.failed("1.1.1.1", "a@x");
        limiter.failed("1.1.1.1", "a@x");
        let wait = limiter.check("2.2.2.2", "a@x").unwrap_err();
        assert!(wait > 0 && wait <= 60);
        assert!(limiter.check("1.1.1.1", "b@x").is_ok(), "other accounts are unaffected");
        limiter.succeeded("a@x");
        assert!(limiter.check("1.1.1.1", "a@x").is_ok());
    }
}
