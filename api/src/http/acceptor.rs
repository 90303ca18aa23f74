//! Accepting connections without spinning when the process runs out of
//! file descriptors, and without letting connections take them all.
//!
//! salvo's accept loop logs a failed `accept` and tries again at once; out
//! of descriptors, `accept` fails immediately, forever, so the loop spun on
//! both cores and wrote 800 000 log lines a second. This acceptor waits
//! instead (10 ms, doubling to 1 s) while existing connections go on being
//! served and close, and says so in one line every 10 s.
//!
//! It also admits connections through [`Connections`] ([`Counted`] gives
//! its place back when the connection ends, upgraded WebSockets included):
//! at most `MAX_CONNECTIONS`, which by default leaves descriptors for the
//! database pool, Redis, uploads and probes ([`default_max_connections`]),
//! the idlest closed for a newcomer when full, and a share per address. WebSockets have a lower cap of their own
//! (`hub::admission`), so that plain requests — `/api/ping`, `/api/health`
//! — always find room.

use super::connections::{Admitted, Connections, Refused};
use salvo::conn::tcp::{TcpAcceptor, TcpCoupler};
use salvo::conn::{Accepted, Acceptor, Holding};
use salvo::fuse::ArcFuseFactory;
use std::future::Future;
use std::io;
use std::pin::Pin;
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

/// A connection counted open (with its place in [`Connections`]) until it
/// is dropped; its reads end when a newcomer needs its place, and its
/// writes fail once they have made no progress for the send timeout.
pub struct Counted {
    inner: <TcpAcceptor as Acceptor>::Stream,
    admitted: Admitted,
    send_timeout: Duration,
    /// Running while a write waits for its reader.
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Counted {
    /// `write`'s outcome, failed with `TimedOut` once writes have waited
    /// `send_timeout` without progress: a reader that never reads holds
    /// the answer written to it (a cover, say) no longer than that.
    fn paced<T>(&mut self, cx: &mut Context<'_>, write: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if write.is_ready() {
            self.stalled = None;
            return write;
        }
        let timeout = self.send_timeout;
        let stalled = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match stalled.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client took nothing of the answer for the send timeout",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for Counted {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if self.admitted.closer.should_close(cx.waker()) {
            // Read as the client's end of the stream: the server finishes
            // the connection as when a client closes one.
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let write = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.paced(cx, write)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let write = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.paced(cx, write)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let flush = Pin::new(&mut self.inner).poll_flush(cx);
        self.paced(cx, flush)
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
    connections: Arc<Connections>,
    send_timeout: Duration,
    refused_logged_at: Option<Instant>,
}

impl PatientAcceptor {
    /// Accepts from `inner` the connections `connections` admits; their
    /// writes may wait at most `send_timeout` for their reader.
    pub fn new(inner: TcpAcceptor, connections: Arc<Connections>, send_timeout: Duration) -> Self {
        Self {
            inner,
            pause: FIRST_PAUSE,
            failures: 0,
            logged_at: None,
            connections,
            send_timeout,
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

    /// Notes a refused connection; logs at most once per [`LOG_EVERY`].
    fn refused(&mut self, why: Refused) {
        if self.refused_logged_at.is_none_or(|at| at.elapsed() >= LOG_EVERY) {
            match why {
                Refused::Full => {
                    tracing::warn!("connection limit reached and none idle; closing new connections (MAX_CONNECTIONS)")
                }
                Refused::Client => tracing::warn!(
                    "a client address holds its share of connections; closing its new ones (MAX_CONNECTIONS_PER_CLIENT)"
                ),
            }
            self.refused_logged_at = Some(Instant::now());
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
                    let peer = accepted
                        .remote_addr
                        .as_ipv4()
                        .map(|a| std::net::SocketAddr::V4(*a))
                        .or_else(|| accepted.remote_addr.as_ipv6().map(|a| std::net::SocketAddr::V6(*a)));
                    let Some(peer) = peer else { continue };
                    match self.connections.admit(peer) {
                        Ok(admitted) => {
                            let send_timeout = self.send_timeout;
                            return Ok(accepted.map_into(
                                |_| TcpCoupler::new(),
                                |inner| Counted {
                                    inner,
                                    admitted,
                                    send_timeout,
                                    stalled: None,
                                },
                            ));
                        }
                        // Closed at once.
                        Err(why) => self.refused(why),
                    }
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
