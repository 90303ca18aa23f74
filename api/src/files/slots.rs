//! Uploads in progress, bounded per user and per replica.
//!
//! An upload holds a connection, a temporary file and its descriptor for as
//! long as its sender takes (up to `UPLOAD_TIMEOUT`), so one account opening
//! hundreds and never finishing them would hold that much of the replica.
//! A slot is taken before a byte of the body is read and given back when
//! the upload is answered; none free is refused at once, never queued: the
//! front end uploads one file at a time, so a user past
//! `UPLOADS_PER_USER` is not one of its users.

use crate::http::error::{ApiError, ApiResult};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use uuid::Uuid;

/// How long a refused uploader is told to wait.
const RETRY_AFTER_SECS: u64 = 5;

pub struct UploadSlots {
    per_user: usize,
    in_all: usize,
    taken: Mutex<Taken>,
}

#[derive(Default)]
struct Taken {
    in_all: usize,
    by_user: HashMap<Uuid, usize>,
}

/// One upload in progress; its slot is given back when dropped.
pub struct UploadSlot {
    slots: Arc<UploadSlots>,
    user: Uuid,
}

impl UploadSlots {
    /// At most `per_user` uploads of one user and `in_all` on this replica.
    pub fn new(per_user: usize, in_all: usize) -> Arc<Self> {
        Arc::new(Self {
            per_user: per_user.max(1),
            in_all: in_all.max(1),
            taken: Mutex::default(),
        })
    }

    /// A slot for one of `user`'s uploads: 429 when the user has all theirs,
    /// 503 when the replica has all of its own.
    pub fn take(self: &Arc<Self>, user: Uuid) -> ApiResult<UploadSlot> {
        let mut taken = self.taken.lock().unwrap_or_else(|e| e.into_inner());
        if taken.by_user.get(&user).is_some_and(|mine| *mine >= self.per_user) {
            return Err(ApiError::TooManyRequests {
                message: format!(
                    "You have {} uploads in progress already; wait for one to finish",
                    self.per_user
                ),
                retry_after_secs: RETRY_AFTER_SECS,
            });
        }
        if taken.in_all >= self.in_all {
            return Err(ApiError::Busy {
                message: "The server is receiving too many uploads, try again in a moment".into(),
                retry_after_secs: RETRY_AFTER_SECS,
            });
        }
        taken.in_all += 1;
        *taken.by_user.entry(user).or_default() += 1;
        Ok(UploadSlot {
            slots: Arc::clone(self),
            user,
        })
    }

    /// Uploads in progress on this replica.
    pub fn in_progress(&self) -> usize {
        self.taken.lock().unwrap_or_else(|e| e.into_inner()).in_all
    }
}

impl Drop for UploadSlot {
    fn drop(&mut self) {
        let mut taken = self.slots.taken.lock().unwrap_or_else(|e| e.into_inner());
        taken.in_all -= 1;
        if let Some(mine) = taken.by_user.get_mut(&self.user) {
            *mine -= 1;
            if *mine == 0 {
                taken.by_user.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_and_the_replica_hold_at_most_their_slots_and_get_them_back() {
        let slots = UploadSlots::new(2, 3);
        let (one, other, third) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let mine: Vec<_> = (0..2).map(|_| slots.take(one).expect("a slot")).collect();
        assert!(matches!(slots.take(one), Err(ApiError::TooManyRequests { .. })));
        let theirs = slots.take(other).expect("another user's slot");
        assert!(
            matches!(slots.take(third), Err(ApiError::Busy { .. })),
            "the replica is full"
        );
        drop(theirs);
        let _third = slots.take(third).expect("a slot given back is free again");
        drop(mine);
        assert_eq!(slots.in_progress(), 1);
        assert!(slots.take(one).is_ok());
        assert_eq!(
            slots.taken.lock().unwrap().by_user.len(),
            1,
            "nothing kept for users without uploads"
        );
    }
}
