//! Votes by group commit. Every vote of a room locks the room's row (it
//! takes the room's next event number), so one room's votes commit one at
//! a time, one WAL flush each: a popular room's storm at the end of a track
//! queues behind the disk. Here the votes of a room that arrive while a
//! commit for that room is in flight wait together, and go in the next
//! commit as one batch: one statement, one lock, one flush for all of them
//! (`spotik_apply_votes`, migration 0004), each vote still judged on its own
//! and given its own event number in order.
//!
//! A vote is answered only once the commit that holds it is done, so an
//! acknowledged vote is never lost (a process killed mid-batch loses only
//! votes nobody was told about). The commit runs in its own task: a client
//! that hangs up does not take the batch of others with it.

use crate::http::error::{ApiError, ApiResult};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;
use uuid::Uuid;

/// Votes in one commit at most: a bound on the transaction's time and on
/// the arrays sent.
pub const MAX_BATCH: usize = 512;
/// Votes of one room waiting at most; further ones are refused at once
/// (503, `Retry-After`) rather than queued without bound.
pub const MAX_WAITING: usize = 8192;

/// One vote (`up`) or unvote of `user` for `track`.
#[derive(Clone, Copy, Debug)]
pub struct Ballot {
    pub track: Uuid,
    pub user: Uuid,
    pub up: bool,
}

/// What the vote did, as its own statement would have said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counted {
    /// The track's score after the vote; `None` when the track is not in the room.
    pub score: Option<i32>,
    /// Whether a vote row was added or removed.
    pub changed: bool,
    /// The room's event number the vote took, when it changed something.
    pub seq: Option<i64>,
    pub at: DateTime<Utc>,
}

type Answer = oneshot::Sender<ApiResult<Counted>>;

#[derive(Default)]
struct Room {
    waiting: Vec<(Ballot, Answer)>,
    /// A commit task runs for the room (it takes the waiting votes next).
    committing: bool,
}

/// The rooms with votes waiting or being committed.
pub struct Ballots {
    db: PgPool,
    rooms: Mutex<HashMap<Uuid, Room>>,
    votes: AtomicU64,
    commits: AtomicU64,
    largest: AtomicU64,
}

/// How votes were committed since the process started.
#[derive(Debug, Serialize)]
pub struct VoteFigures {
    /// Votes committed.
    pub votes: u64,
    /// Commits they took (one per batch).
    pub commits: u64,
    pub largest_batch: u64,
}

impl Ballots {
    pub fn new(db: PgPool) -> Arc<Self> {
        Arc::new(Self {
            db,
            rooms: Mutex::default(),
            votes: AtomicU64::new(0),
            commits: AtomicU64::new(0),
            largest: AtomicU64::new(0),
        })
    }

    pub fn figures(&self) -> VoteFigures {
        VoteFigures {
            votes: self.votes.load(Ordering::Relaxed),
            commits: self.commits.load(Ordering::Relaxed),
            largest_batch: self.largest.load(Ordering::Relaxed),
        }
    }

    /// Casts `ballot` in `room`: answered once the batch holding it is
    /// committed.
    pub async fn cast(self: &Arc<Self>, room: Uuid, ballot: Ballot) -> ApiResult<Counted> {
        let (answer, answered) = oneshot::channel();
        let lead = {
            let mut rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
            let queue = rooms.entry(room).or_default();
            if queue.waiting.len() >= MAX_WAITING {
                return Err(ApiError::Busy {
                    message: "Too many votes for this room at once, try again shortly".into(),
                    retry_after_secs: 1,
                });
            }
            queue.waiting.push((ballot, answer));
            !std::mem::replace(&mut queue.committing, true)
        };
        if lead {
            tokio::spawn(Arc::clone(self).commit(room));
        }
        answered
            .await
            .unwrap_or_else(|_| Err(ApiError::internal("the vote's commit task ended without an answer")))
    }

    /// Commits the room's waiting votes, batch after batch, until none wait.
    async fn commit(self: Arc<Self>, room: Uuid) {
        loop {
            let batch: Vec<(Ballot, Answer)> = {
                let mut rooms = self.rooms.lock().unwrap_or_else(|e| e.into_inner());
                let Some(queue) = rooms.get_mut(&room) else { return };
                if queue.waiting.is_empty() {
                    rooms.remove(&room);
                    return;
                }
                let take = queue.waiting.len().min(MAX_BATCH);
                queue.waiting.drain(..take).collect()
            };
            let ballots: Vec<Ballot> = batch.iter().map(|(ballot, _)| *ballot).collect();
            match apply(&self.db, room, &ballots).await {
                Ok(counted) if counted.len() == batch.len() => {
                    self.votes.fetch_add(batch.len() as u64, Ordering::Relaxed);
                    self.commits.fetch_add(1, Ordering::Relaxed);
                    self.largest.fetch_max(batch.len() as u64, Ordering::Relaxed);
                    for ((_, answer), counted) in batch.into_iter().zip(counted) {
                        let _ = answer.send(Ok(counted));
                    }
                }
                Ok(counted) => {
                    let detail = format!("{} votes applied, {} answered", batch.len(), counted.len());
                    for (_, answer) in batch {
                        let _ = answer.send(Err(ApiError::internal(&detail)));
                    }
                }
                Err(error) => {
                    for (_, answer) in batch {
                        let _ = answer.send(Err(ApiError::database(&error)));
                    }
                }
            }
        }
    }
}

/// A vote's row: its place in the batch, then what [`Counted`] holds.
type Row = (i32, Option<i32>, bool, Option<i64>, DateTime<Utc>);

/// One round trip, one transaction: the batch applied in order.
pub async fn apply(db: &PgPool, room: Uuid, ballots: &[Ballot]) -> Result<Vec<Counted>, sqlx::Error> {
    let tracks: Vec<Uuid> = ballots.iter().map(|b| b.track).collect();
    let users: Vec<Uuid> = ballots.iter().map(|b| b.user).collect();
    let ups: Vec<bool> = ballots.iter().map(|b| b.up).collect();
    let mut rows: Vec<Row> =
        sqlx::query_as("SELECT ordinal, score, changed, seq, voted_at FROM spotik_apply_votes($1, $2, $3, $4)")
            .bind(room)
            .bind(&tracks)
            .bind(&users)
            .bind(&ups)
            .fetch_all(db)
            .await?;
    rows.sort_unstable_by_key(|row| row.0);
    Ok(rows
        .into_iter()
        .map(|(_, score, changed, seq, at)| Counted {
            score,
            changed,
            seq,
            at,
        })
        .collect())
}
