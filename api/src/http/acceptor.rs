//! Accepting connections without spinning when the process runs out of
//! file descriptors, and without letting connections take them all.
//!
//! salvo's accept loop logs a failed `accept` and tries again at once; out
//! of descriptors, `accept` fails immediately, forever, so the loop spun on
//! both cores and wrote 800 000 log lines a second. This acceptor waits
//! instead (10 ms, doubling to 1 s) while existing connections go on being
//! served and close, and says so in one line every 10 s.
//!
//! It also counts the connections open ([`Counted`] gives its place back
//! when the connection ends, upgraded WebSockets included) and closes new
//! ones at once beyond `MAX_CONNECTIONS`, which by default leaves
//! descriptors for the database pool, Redis, uploads and probes
//! ([`default_max_connections`]). WebSockets have a lower cap of their own
//! (`hub::admission`), so that plain requests — `/api/ping`, `/api/health`
//! — always find room.

use salvo::conn::tcp::{TcpAcceptor, TcpCoupler};
use salvo::conn::{Accepted, Acceptor, Holding};
use salvo::fuse::ArcFuseFactory;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

const FIRST_PAUSE: Duration = Duration::from_millis(10);
const LONGEST_PAUSE: Duration = Duration::from_secs(1);
const LOG_EVERY: Duration = Duration::from_secs(10);

/// Descriptors kept for everything but client connections, beyond the
/// database pool: Redis, the listener, log files, uploads being written,
/// probe children's pipes, the edge figures' fetches.
const RESERVED_DESCRIPTORS: u64 = 96;

/// The open-file limit of this process.
pub fn descriptor_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct we own.
    match unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } {
        0 => limit.rlim_cur,
        _ => 1024,
    }
}

/// Raises the soft open-file limit to the hard one, as servers do: the
/// soft default (often 1 024) is not the ceiling the system allows.
pub fn raise_descriptor_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain system calls on a struct we own.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

/// Client connections at most when `MAX_CONNECTIONS` is not set: the
/// descriptors left once the pool and [`RESERVED_DESCRIPTORS`] are kept.
pub fn default_max_connections(pool_max: u32) -> usize {
    descriptor_limit()
        .saturating_sub(u64::from(pool_max) + RESERVED_DESCRIPTORS)
        .max(16) as usize
}

/// How many connections are open; shared with what they become.
#[derive(Debug, Default)]
pub struct OpenConnections(AtomicUsize);

/// A connection that counts itself open until it is dropped.
pub struct Counted {
    inner: <TcpAcceptor as Acceptor>::Stream,
    open: Arc<OpenConnections>,
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.open.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl AsyncRead for Counted {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

pub struct PatientAcceptor {
    inner: TcpAcceptor,
    pause: Duration,
    failures: u64,
    logged_at: Option<Instant>,
    open: Arc<OpenConnections>,
    max: usize,
    refused_logged_at: Option<Instant>,
}

impl PatientAcceptor {
    /// Accepts from `inner`, at most `max` connections open at once.
    pub fn new(inner: TcpAcceptor, max: usize) -> Self {
        Self {
            inner,
            pause: FIRST_PAUSE,
            failures: 0,
            logged_at: None,
            open: Arc::default(),
            max,
            refused_logged_at: None,
        }
    }

    /// Notes a failed accept; logs at most once per [`LOG_EVERY`].
    fn failed(&mut self, error: &io::Error) {
        self.failures += 1;
        if self.logged_at.is_none_or(|at| at.elapsed() >= LOG_EVERY) {
            tracing::error!(%error, failures = self.failures, "cannot accept connections; waiting (raise the open-file limit?)");
            self.logged_at = Some(Instant::now());
            self.failures = 0;
        }
    }
}

/// Errors that come from the process or system running short of something,
/// which retrying at once cannot cure.
fn is_exhaustion(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

impl Acceptor for PatientAcceptor {
    type Coupler = TcpCoupler<Counted>;
    type Stream = Counted;

    fn holdings(&self) -> &[Holding] {
        self.inner.holdings()
    }

    async fn accept(
        &mut self,
        fuse_factory: Option<ArcFuseFactory>,
    ) -> io::Result<Accepted<Self::Coupler, Self::Stream>> {
        loop {
            match self.inner.accept(fuse_factory.clone()).await {
                Ok(accepted) => {
                    self.pause = FIRST_PAUSE;
                    if self.open.0.fetch_add(1, Ordering::Relaxed) >= self.max {
                        // Full: closed at once, its place given back.
                        self.open.0.fetch_sub(1, Ordering::Relaxed);
                        drop(accepted);
                        if self.refused_logged_at.is_none_or(|at| at.elapsed() >= LOG_EVERY) {
                            tracing::warn!(
                                max = self.max,
                                "connection limit reached; closing new connections (MAX_CONNECTIONS)"
                            );
                            self.refused_logged_at = Some(Instant::now());
                        }
                        continue;
                    }
                    let open = Arc::clone(&self.open);
                    return Ok(accepted.map_into(|_| TcpCoupler::new(), |inner| Counted { inner, open }));
                }
                Err(error) if is_exhaustion(&error) => {
                    self.failed(&error);
                    tokio::time::sleep(self.pause).await;
                    self.pause = (self.pause * 2).min(LONGEST_PAUSE);
                }
                // A connection reset before it was accepted, and the like.
                Err(error) => tracing::debug!(%error, "accept failed"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_out_of_descriptors_is_told_from_a_reset_connection() {
        assert!(is_exhaustion(&io::Error::from_raw_os_error(libc::EMFILE)));
        assert!(is_exhaustion(&io::Error::from_raw_os_error(libc::ENFILE)));
        assert!(!is_exhaustion(&io::Error::from_raw_os_error(libc::ECONNABORTED)));
    }
}
