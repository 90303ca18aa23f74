//! Votes by group commit, across rooms. Every vote of a room locks the
//! room's row (it takes the room's next event number), and every commit
//! waits for a WAL flush: one commit per vote puts PostgreSQL's commit rate
//! at the head of what limits Spotik (docs/capacity.md). So the votes that
//! arrive while a commit is in flight wait together, whatever their room,
//! and go in the next commit as one batch: one statement, one flush for all
//! of them (`spotik_apply_member_vote_batch`, migration 0013), each vote
//! still judged on its own, its voter's membership of the room with it,
//! and each room's changes given its event numbers in order. A storm in one room and a vote a second in each of thousands of
//! others cost a few commits a second alike.
//!
//! A room's votes always go through the same lane (by its id), so they
//! commit in the order they came; a replica runs [`LANES`] commits at once
//! at most, so a burst of many rooms never asks the pool for more. A batch
//! takes each room's waiting votes in turns of [`ROOM_TURN`], so a storm
//! room shares its lane's commits with the rooms beside it instead of
//! holding them back.
//!
//! A vote is answered only once the commit that holds it is done, so an
//! acknowledged vote is never lost (a process killed mid-batch loses only
//! votes nobody was told about). The commit runs in its own task: a client
//! that hangs up does not take the batch of others with it.

use crate::domain::failure::Failure;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
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
/// Commits a replica runs at once at most. More lanes overlap more
/// flushes; each holds a pool connection for its commit.
pub const LANES: usize = 4;
/// Votes of one room a batch takes before it takes another room's.
pub const ROOM_TURN: usize = 64;
/// Times a batch is tried again when PostgreSQL broke a deadlock by
/// rolling it back (only with transactions outside this module that lock
/// rooms in another order): nothing of it was applied.
const DEADLOCK_RETRIES: usize = 3;

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
    /// Whether the voter takes part in the room (`None`: no such room); a
    /// vote of anyone else changes nothing.
    pub takes_part: Option<bool>,
    /// The track's score after the vote; `None` when the track is not in the room.
    pub score: Option<i32>,
    /// Whether a vote row was added or removed.
    pub changed: bool,
    /// The room's event number the vote took, when it changed something.
    pub seq: Option<i64>,
    pub at: DateTime<Utc>,
}

type Answer = oneshot::Sender<Result<Counted, Failure>>;

/// One lane's waiting votes: each room's in order, and the rooms in turn.
#[derive(Default)]
struct Lane {
    waiting: HashMap<Uuid, VecDeque<(Ballot, Answer)>>,
    turns: VecDeque<Uuid>,
    /// A commit task runs for the lane (it takes the waiting votes next).
    committing: bool,
}

impl Lane {
    /// The next batch: rooms in turn, [`ROOM_TURN`] votes each a turn,
    /// up to [`MAX_BATCH`]; grouped by room in ascending id (the order the
    /// statement locks them in), each room's votes in their order.
    fn take(&mut self) -> Vec<(Uuid, Ballot, Answer)> {
        let mut batch = Vec::new();
        while batch.len() < MAX_BATCH {
            let Some(room) = self.turns.pop_front() else { break };
            let Some(queue) = self.waiting.get_mut(&room) else {
                continue;
            };
            let take = queue.len().min(ROOM_TURN).min(MAX_BATCH - batch.len());
            batch.extend(queue.drain(..take).map(|(ballot, answer)| (room, ballot, answer)));
            if queue.is_empty() {
                self.waiting.remove(&room);
            } else {
                self.turns.push_back(room);
            }
        }
        // Stable: a room's votes keep their order.
        batch.sort_by_key(|(room, _, _)| *room);
        batch
    }
}

/// The lanes with votes waiting or being committed.
pub struct Ballots {
    db: PgPool,
    lanes: [Mutex<Lane>; LANES],
    votes: AtomicU64,
    commits: AtomicU64,
    largest: AtomicU64,
    rooms_largest: AtomicU64,
}

/// How votes were committed since the process started.
#[derive(Debug, Serialize)]
pub struct VoteFigures {
    /// Votes committed.
    pub votes: u64,
    /// Commits they took (one per batch).
    pub commits: u64,
    pub largest_batch: u64,
    /// The most rooms one commit held.
    pub most_rooms_in_a_batch: u64,
}

impl Ballots {
    pub fn new(db: PgPool) -> Arc<Self> {
        Arc::new(Self {
            db,
            lanes: Default::default(),
            votes: AtomicU64::new(0),
            commits: AtomicU64::new(0),
            largest: AtomicU64::new(0),
            rooms_largest: AtomicU64::new(0),
        })
    }

    pub fn figures(&self) -> VoteFigures {
        VoteFigures {
            votes: self.votes.load(Ordering::Relaxed),
            commits: self.commits.load(Ordering::Relaxed),
            largest_batch: self.largest.load(Ordering::Relaxed),
            most_rooms_in_a_batch: self.rooms_largest.load(Ordering::Relaxed),
        }
    }

    fn lane_of(room: Uuid) -> usize {
        let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(room);
        (hash % LANES as u64) as usize
    }

    /// Casts `ballot` in `room`: answered once the batch holding it is
    /// committed.
    pub async fn cast(self: &Arc<Self>, room: Uuid, ballot: Ballot) -> Result<Counted, Failure> {
        let (answer, answered) = oneshot::channel();
        let index = Self::lane_of(room);
        let lead = {
            let mut lane = self.lanes[index].lock().unwrap_or_else(|e| e.into_inner());
            let lane = &mut *lane;
            let queue = lane.waiting.entry(room).or_default();
            if queue.len() >= MAX_WAITING {
                return Err(Failure::Busy {
                    message: "Too many votes for this room at once, try again shortly".into(),
                    retry_after_secs: 1,
                });
            }
            if queue.is_empty() {
                lane.turns.push_back(room);
            }
            queue.push_back((ballot, answer));
            !std::mem::replace(&mut lane.committing, true)
        };
        if lead {
            tokio::spawn(Arc::clone(self).commit(index));
        }
        answered
            .await
            .unwrap_or_else(|_| Err(Failure::internal("the vote's commit task ended without an answer")))
    }

    /// Commits the lane's waiting votes, batch after batch, until none wait.
    async fn commit(self: Arc<Self>, index: usize) {
        loop {
            let batch = {
                let mut lane = self.lanes[index].lock().unwrap_or_else(|e| e.into_inner());
                let batch = lane.take();
                if batch.is_empty() {
                    lane.committing = false;
                    return;
                }
                batch
            };
            let votes: Vec<(Uuid, Ballot)> = batch.iter().map(|(room, ballot, _)| (*room, *ballot)).collect();
            let mut outcome = apply_batch(&self.db, &votes).await;
            for _ in 0..DEADLOCK_RETRIES {
                match &outcome {
                    Err(error) if is_deadlock(error) => outcome = apply_batch(&self.db, &votes).await,
                    _ => break,
                }
            }
            match outcome {
                Ok(counted) if counted.len() == batch.len() => {
                    let mut rooms: Vec<Uuid> = votes.iter().map(|(room, _)| *room).collect();
                    rooms.dedup();
                    self.votes.fetch_add(batch.len() as u64, Ordering::Relaxed);
                    self.commits.fetch_add(1, Ordering::Relaxed);
                    self.largest.fetch_max(batch.len() as u64, Ordering::Relaxed);
                    self.rooms_largest.fetch_max(rooms.len() as u64, Ordering::Relaxed);
                    for ((_, _, answer), counted) in batch.into_iter().zip(counted) {
                        let _ = answer.send(Ok(counted));
                    }
                }
                Ok(counted) => {
                    let detail = format!("{} votes applied, {} answered", batch.len(), counted.len());
                    for (_, _, answer) in batch {
                        let _ = answer.send(Err(Failure::internal(&detail)));
                    }
                }
                Err(error) => {
                    for (_, _, answer) in batch {
                        let _ = answer.send(Err(Failure::database(&error)));
                    }
                }
            }
        }
    }
}

fn is_deadlock(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "40P01")
}

/// A vote's row: its place in the batch, then what [`Counted`] holds.
type Row = (i32, Option<bool>, Option<i32>, bool, Option<i64>, DateTime<Utc>);

/// One room's ballots applied in order, in one transaction.
pub async fn apply(db: &PgPool, room: Uuid, ballots: &[Ballot]) -> Result<Vec<Counted>, sqlx::Error> {
    let votes: Vec<(Uuid, Ballot)> = ballots.iter().map(|ballot| (room, *ballot)).collect();
    apply_batch(db, &votes).await
}

/// One round trip, one transaction: votes of any rooms, each room's in
/// the order given (rooms are locked in ascending id whatever the order).
pub async fn apply_batch(db: &PgPool, votes: &[(Uuid, Ballot)]) -> Result<Vec<Counted>, sqlx::Error> {
    let rooms: Vec<Uuid> = votes.iter().map(|(room, _)| *room).collect();
    let tracks: Vec<Uuid> = votes.iter().map(|(_, b)| b.track).collect();
    let users: Vec<Uuid> = votes.iter().map(|(_, b)| b.user).collect();
    let ups: Vec<bool> = votes.iter().map(|(_, b)| b.up).collect();
    let mut rows: Vec<Row> = sqlx::query_as(
        "SELECT ordinal, takes_part, score, changed, seq, voted_at \
             FROM spotik_apply_member_vote_batch($1, $2, $3, $4)",
    )
    .bind(&rooms)
    .bind(&tracks)
    .bind(&users)
    .bind(&ups)
    .fetch_all(db)
    .await?;
    rows.sort_unstable_by_key(|row| row.0);
    Ok(rows
        .into_iter()
        .map(|(_, takes_part, score, changed, seq, at)| Counted {
            takes_part,
            score,
            changed,
            seq,
            at,
        })
        .collect())
}
