//! Giving memory back to the system after a crowd of connections leaves.
//!
//! Each WebSocket holds some ten kilobytes, allocated by whichever worker
//! thread accepted it. When thousands close, glibc's allocator keeps the
//! freed chunks in its per-thread arenas for reuse; nothing returns them to
//! the kernel, so a replica that once held 10 000 sockets stays 100 MB larger
//! for the rest of its life (measured: 115 MB resident after every socket
//! had closed, 12 MB after one `malloc_trim`). Trimming walks the arenas and
//! releases whole free pages; it costs milliseconds, so it runs only after
//! many connections have gone, not on a timer.

use std::time::Duration;

/// How often the connection count is looked at.
const CHECK_EVERY: Duration = Duration::from_secs(5);

/// Connections closed (below their peak since the last trim) that make
/// trimming worth it: about 5 MB of freed chunks.
pub const RELEASE_AFTER_CLOSED: i64 = 500;

/// Returns freed heap pages to the kernel; whether any were.
pub fn release() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim only walks the allocator's own structures.
        unsafe { libc::malloc_trim(0) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

/// Allocations at least this large are mapped on their own and unmapped
/// when freed.
const OWN_MAPPING_FROM: i32 = 1024 * 1024;

/// Makes large blocks go back to the system when freed. glibc raises its
/// mmap threshold after the first large block is freed (up to 32 MiB), so
/// every later Argon2 block (19 MiB each) came from the heap arenas and
/// stayed there: a burst of logins left the process gigabytes larger for
/// good. A fixed threshold keeps such blocks in mappings of their own.
pub fn return_large_blocks() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets the allocator's own parameter, before any thread races it.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, OWN_MAPPING_FROM);
    }
}

/// Decides when to trim from the number of open connections.
#[derive(Debug, Default)]
pub struct Watermark {
    peak: i64,
}

impl Watermark {
    /// `open` connections now and the most open at once since the last
    /// look: true when enough have closed since the peak to trim (the peak
    /// then starts again from here).
    pub fn observe(&mut self, open: i64, peak: i64) -> bool {
        self.peak = self.peak.max(peak).max(open);
        if self.peak - open < RELEASE_AFTER_CLOSED {
            return false;
        }
        self.peak = open;
        true
    }
}

/// Trims whenever the connections open have fallen far enough below their
/// peak, until `shutdown`. `counts` gives both (open, peak since the last call):
/// a crowd that comes and goes between two looks is still seen.
pub async fn run(counts: impl Fn() -> (i64, i64) + Send, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let mut watermark = Watermark::default();
    let mut tick = tokio::time::interval(CHECK_EVERY);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let (open, peak) = counts();
        if watermark.observe(open, peak) {
            let started = std::time::Instant::now();
            let released = tokio::task::spawn_blocking(release).await.unwrap_or(false);
            tracing::debug!(released, took_us = started.elapsed().as_micros() as u64, "heap trimmed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_once_after_many_close_and_not_while_they_come() {
        let mut watermark = Watermark::default();
        for open in [0, 100, 5000, 9000, 10_000] {
            assert!(!watermark.observe(open, open), "{open} open");
        }
        assert!(!watermark.observe(9600, 9600), "a few closing is not worth it");
        assert!(watermark.observe(200, 200));
        assert!(!watermark.observe(0, 0), "trimmed at 200 already");
        assert!(!watermark.observe(3000, 3000));
        assert!(watermark.observe(2000, 2000));
    }

    #[test]
    fn a_crowd_that_came_and_went_between_two_looks_is_seen() {
        let mut watermark = Watermark::default();
        assert!(!watermark.observe(10, 10));
        assert!(watermark.observe(10, 3000));
    }
}
