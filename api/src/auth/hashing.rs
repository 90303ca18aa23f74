//! Password hashing within a memory budget.
//!
//! One Argon2id run holds `ARGON2_MEMORY_KIB` (19 MiB by default) for its
//! whole duration, and registrations and failed logins are open to anyone:
//! unbounded, 200 concurrent logins took a replica to 11 GB. So hashes and
//! verifications run under a semaphore sized from `PASSWORD_HASH_MEMORY_MIB`;
//! a request that finds no permit within `PASSWORD_HASH_WAIT_MS` is answered
//! 503 with `Retry-After` instead of queueing without end.
//!
//! A login for an e-mail without an account verifies against one decoy hash
//! made once with the same parameters: the same single Argon2 run a wrong
//! password costs, so the time taken does not tell which e-mails have
//! accounts.

use super::password;
use crate::http::error::{ApiError, ApiResult};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OnceCell, Semaphore};

pub struct PasswordWork {
    memory_kib: u32,
    permits: Arc<Semaphore>,
    wait: Duration,
    decoy: OnceCell<Arc<str>>,
    /// Argon2 (or bcrypt) runs so far: what a login costs, counted.
    runs: std::sync::atomic::AtomicU64,
}

impl PasswordWork {
    /// Work for `memory_kib` hashes within `budget_mib` (at least one at a time).
    pub fn new(memory_kib: u32, budget_mib: u64, wait: Duration) -> Self {
        Self {
            memory_kib,
            permits: Arc::new(Semaphore::new(Self::concurrency(memory_kib, budget_mib))),
            wait,
            decoy: OnceCell::new(),
            runs: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// How many hashes of `memory_kib` fit in `budget_mib`.
    pub fn concurrency(memory_kib: u32, budget_mib: u64) -> usize {
        ((budget_mib * 1024) / u64::from(memory_kib.max(1))).max(1) as usize
    }

    /// Runs `work` on the blocking pool once a permit is free.
    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> ApiResult<T> {
        let permit = tokio::time::timeout(self.wait, Arc::clone(&self.permits).acquire_owned())
            .await
            .map_err(|_| ApiError::Busy {
                message: "The server is busy, try again in a moment".into(),
                retry_after_secs: 1,
            })?
            .map_err(ApiError::internal)?;
        self.runs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tokio::task::spawn_blocking(move || {
            let done = work();
            drop(permit);
            done
        })
        .await
        .map_err(ApiError::internal)
    }

    /// How many hashes and verifications have run.
    pub fn runs(&self) -> u64 {
        self.runs.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A new Argon2id hash of `password`.
    pub async fn hash(&self, password: String) -> ApiResult<String> {
        let memory = self.memory_kib;
        self.run(move || password::hash(&password, memory))
            .await?
            .map_err(ApiError::internal)
    }

    /// Whether `password` matches `stored` (a missing account never does,
    /// at the same cost), and whether `stored` should be replaced.
    pub async fn verify(&self, password: String, stored: Option<String>) -> ApiResult<(bool, bool)> {
        let exists = stored.is_some();
        let stored: Arc<str> = match stored {
            Some(stored) => stored.into(),
            None => Arc::clone(self.decoy().await?),
        };
        let (matches, rehash) = self.run(move || password::verify(&password, &stored)).await?;
        Ok((matches && exists, rehash && exists))
    }

    async fn decoy(&self) -> ApiResult<&Arc<str>> {
        self.decoy
            .get_or_try_init(|| async {
                let memory = self.memory_kib;
                self.run(move || password::decoy(memory)).await.map(Arc::from)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_decides_how_many_run_at_once() {
        assert_eq!(PasswordWork::concurrency(19 * 1024, 128), 6);
        assert_eq!(PasswordWork::concurrency(19 * 1024, 1), 1);
        assert_eq!(PasswordWork::concurrency(256, 128), 512);
    }

    #[tokio::test]
    async fn a_missing_account_never_matches_even_the_decoys_password() {
        let work = PasswordWork::new(256, 16, Duration::from_secs(5));
        let (matches, _) = work
            .verify("decoy password that matches nothing".into(), None)
            .await
            .unwrap();
        assert!(!matches);
        let stored = work.hash("correct horse".into()).await.unwrap();
        assert_eq!(
            work.verify("correct horse".into(), Some(stored)).await.unwrap(),
            (true, false)
        );
    }

    #[tokio::test]
    async fn beyond_the_budget_a_caller_is_told_to_come_back() {
        let work = Arc::new(PasswordWork::new(256, 0, Duration::from_millis(20)));
        let held = Arc::clone(&work.permits).acquire_owned().await.unwrap();
        match work.hash("x".into()).await {
            Err(ApiError::Busy { retry_after_secs, .. }) => assert!(retry_after_secs >= 1),
            other => panic!("expected Busy, got {other:?}"),
        }
        drop(held);
        assert!(work.hash("x".into()).await.is_ok());
    }
}
