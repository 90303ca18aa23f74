//! The warm-up of the next track on the edges. At a track change every
//! listener of the room asks the edge for the new track within a few
//! milliseconds, usually a file nobody has read for minutes: a cold page
//! cache and cold edge caches, so the first byte waits for the disk. When a
//! track starts, the API already knows the one after it; asking each edge
//! for its first range then (the same signed link the players will use)
//! has the edge open it and, for a track within its small-file cache
//! (`EDGE_SMALL_FILE_MAX`, 10 MiB by default), read it whole, before anyone
//! waits (`loadtest/track-change` measures what it saves).
//!
//! Best effort and bounded: at most [`MAX_WARMING`] warm-ups at once per
//! replica (more are skipped), each given [`TIMEOUT`]; a failure is only
//! counted. Off with `EDGE_WARM_URLS=none`.

use crate::http::client;
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

pub const MAX_WARMING: usize = 16;
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// What a warm-up asks for: the range a player asks first, then reads on.
const RANGE: &str = "bytes=0-65535";

#[derive(Default)]
struct Counters {
    warmed: AtomicU64,
    failed: AtomicU64,
    skipped: AtomicU64,
}

/// How the warm-ups went since the process started.
#[derive(Debug, Serialize)]
pub struct WarmFigures {
    pub warmed: u64,
    pub failed: u64,
    /// Not sent: [`MAX_WARMING`] were running.
    pub skipped: u64,
}

pub struct Warmer {
    /// The edges as the API reaches them (`EDGE_WARM_URLS`).
    edges: Vec<String>,
    /// The edge as players reach it: the prefix of the links handed out.
    public: String,
    slots: Arc<Semaphore>,
    counters: Arc<Counters>,
}

impl Warmer {
    pub fn new(edges: Vec<String>, public: &str) -> Self {
        Self {
            edges,
            public: public.to_owned(),
            slots: Arc::new(Semaphore::new(MAX_WARMING)),
            counters: Arc::default(),
        }
    }

    /// Warms the file behind `file_url` (a link handed to players) on every
    /// edge, in the background.
    pub fn ahead(&self, file_url: &str) {
        let Some(path) = file_url.strip_prefix(&self.public) else {
            return;
        };
        for edge in &self.edges {
            let Ok(slot) = Arc::clone(&self.slots).try_acquire_owned() else {
                self.counters.skipped.fetch_add(1, Ordering::Relaxed);
                continue;
            };
            let (url, counters) = (format!("{edge}{path}"), Arc::clone(&self.counters));
            tokio::spawn(async move {
                let asked = client::get(&url, &[("range", RANGE)], 64 * 1024 + 1);
                let warmed = matches!(tokio::time::timeout(TIMEOUT, asked).await, Ok(Ok((200 | 206, _))));
                let counter = if warmed { &counters.warmed } else { &counters.failed };
                counter.fetch_add(1, Ordering::Relaxed);
                if !warmed {
                    tracing::debug!(%url, "the warm-up of the next track failed");
                }
                drop(slot);
            });
        }
    }

    pub fn figures(&self) -> WarmFigures {
        WarmFigures {
            warmed: self.counters.warmed.load(Ordering::Relaxed),
            failed: self.counters.failed.load(Ordering::Relaxed),
            skipped: self.counters.skipped.load(Ordering::Relaxed),
        }
    }
}
