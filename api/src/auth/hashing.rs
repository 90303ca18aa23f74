//! Password hashing within a memory budget.
//!
//! One Argon2id run holds `ARGON2_MEMORY_KIB` (19 MiB by default) for its
//! whole duration, and registrations and failed logins are open to anyone:
//! unbounded, 200 concurrent logins took a replica to 11 GB. So hashes and
//! verifications run under a semaphore sized from `PASSWORD_HASH_MEMORY_MIB`;
//! a request that finds no permit within `PASSWORD_HASH_WAIT_MS` is answered
//! 503 with `Retry-After` instead of queueing without end.
//!
//! The budget is split in two lanes: registrations (anyone may send them)
//! hash in a quarter of it, logins in the rest, so that a flood of
//! registrations — 160 anonymous clients made a real user's logins fail or
//! wait 2 s when they shared one — can only make registrations wait.
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

/// Whose budget a hash runs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lane {
    /// Logins (and their rehash of an old hash).
    Login,
    /// New accounts.
    Registration,
}

pub struct PasswordWork {
    memory_kib: u32,
    permits: Arc<Semaphore>,
    registration_permits: Arc<Semaphore>,
    wait: Duration,
    decoy: OnceCell<Arc<str>>,
    /// Argon2 (or bcrypt) runs so far: what a login costs, counted.
    runs: std::sync::atomic::AtomicU64,
}

impl PasswordWork {
    /// Work for `memory_kib` hashes within `budget_mib` (at least one at a
    /// time in each lane).
    pub fn new(memory_kib: u32, budget_mib: u64, wait: Duration) -> Self {
        let (login, registration) = Self::lanes(Self::concurrency(memory_kib, budget_mib));
        Self {
            memory_kib,
            permits: Arc::new(Semaphore::new(login)),
            registration_permits: Arc::new(Semaphore::new(registration)),
            wait,
            decoy: OnceCell::new(),
            runs: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// How many hashes of `memory_kib` fit in `budget_mib`.
    pub fn concurrency(memory_kib: u32, budget_mib: u64) -> usize {
        ((budget_mib * 1024) / u64::from(memory_kib.max(1))).max(1) as usize
    }

    /// Hashes at once for logins and for registrations, of `concurrency`:
    /// a quarter for registrations, at least one each.
    pub fn lanes(concurrency: usize) -> (usize, usize) {
        let registration = (concurrency / 4).max(1);
        (concurrency.saturating_sub(registration).max(1), registration)
    }

    /// Runs `work` on the blocking pool once a permit of `lane` is free.
    async fn run<T: Send + 'static>(&self, lane: Lane, work: impl FnOnce() -> T + Send + 'static) -> ApiResult<T> {
        let permits = match lane {
            Lane::Login => &self.permits,
            Lane::Registration => &self.registration_permits,
        };
        let permit = tokio::time::timeout(self.wait, Arc::clone(permits).acquire_owned())
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

    /// A new Argon2id hash of `password`, in `lane`'s budget.
    pub async fn hash(&self, password: String, lane: Lane) -> ApiResult<String> {
        let memory = self.memory_kib;
        self.run(lane, move || password::hash(&password, memory))
            .await?
            .map_err(ApiError::internal)
    }

    /// Whether `password` matches `stored` (a missing account never does,
    /// at the same cost), and whether `stored` should be replaced.
    pub async fn verify(&self, password: String, stored: Option<String>) -> ApiResult<password::Verdict> {
        let exists = stored.is_some();
        let stored: Arc<str> = match stored {
            Some(stored) => stored.into(),
            None => Arc::clone(self.decoy().await?),
        };
        let verdict = self
            .run(Lane::Login, move || password::verify(&password, &stored))
            .await?;
        Ok(password::Verdict {
            matches: verdict.matches && exists,
            rehash: verdict.rehash && exists,
        })
    }

    async fn decoy(&self) -> ApiResult<&Arc<str>> {
        self.decoy
            .get_or_try_init(|| async {
                let memory = self.memory_kib;
                self.run(Lane::Login, move || password::decoy(memory))
                    .await
                    .map(Arc::from)
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
        let verdict = work
            .verify("decoy password that matches nothing".into(), None)
            .await
            .unwrap();
        assert!(!verdict.matches);
        let stored = work.hash("correct horse".into(), Lane::Login).await.unwrap();
        assert_eq!(
            work.verify("correct horse".into(), Some(stored)).await.unwrap(),
            password::Verdict {
                matches: true,
                rehash: false
            }
        );
    }

    #[tokio::test]
    async fn beyond_the_budget_a_caller_is_told_to_come_back() {
        let work = Arc::new(PasswordWork::new(256, 0, Duration::from_millis(20)));
        let held = Arc::clone(&work.permits).acquire_owned().await.unwrap();
        match work.hash("x".into(), Lane::Login).await {
            Err(ApiError::Busy { retry_after_secs, .. }) => assert!(retry_after_secs >= 1),
            other => panic!("expected Busy, got {other:?}"),
        }
        drop(held);
        assert!(work.hash("x".into(), Lane::Login).await.is_ok());
    }

    #[test]
    fn registrations_hash_in_a_quarter_of_the_budget_logins_in_the_rest() {
        assert_eq!(PasswordWork::lanes(6), (5, 1));
        assert_eq!(PasswordWork::lanes(8), (6, 2));
        assert_eq!(PasswordWork::lanes(1), (1, 1));
        assert_eq!(PasswordWork::lanes(512), (384, 128));
    }

    #[tokio::test]
    async fn registrations_that_fill_their_lane_leave_logins_theirs() {
        let work = Arc::new(PasswordWork::new(256, 0, Duration::from_millis(20)));
        let held = Arc::clone(&work.registration_permits).acquire_owned().await.unwrap();
        assert!(matches!(
            work.hash("x".into(), Lane::Registration).await,
            Err(ApiError::Busy { .. })
        ));
        assert!(work.hash("x".into(), Lane::Login).await.is_ok());
        drop(held);
    }
}
