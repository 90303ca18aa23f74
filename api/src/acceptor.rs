//! Accepting connections without spinning when the process runs out of
//! file descriptors.
//!
//! salvo's accept loop logs a failed `accept` and tries again at once; out
//! of descriptors, `accept` fails immediately, forever, so the loop spun on
//! both cores and wrote 800 000 log lines a second. This acceptor waits
//! instead (10 ms, doubling to 1 s) while existing connections go on being
//! served and close, and says so in one line every 10 s.

use salvo::conn::tcp::TcpAcceptor;
use salvo::conn::{Accepted, Acceptor, Holding};
use salvo::fuse::ArcFuseFactory;
use std::io;
use std::time::Duration;
use tokio::time::Instant;

const FIRST_PAUSE: Duration = Duration::from_millis(10);
const LONGEST_PAUSE: Duration = Duration::from_secs(1);
const LOG_EVERY: Duration = Duration::from_secs(10);

pub struct PatientAcceptor {
    inner: TcpAcceptor,
    pause: Duration,
    failures: u64,
    logged_at: Option<Instant>,
}

impl PatientAcceptor {
    pub fn new(inner: TcpAcceptor) -> Self {
        Self {
            inner,
            pause: FIRST_PAUSE,
            failures: 0,
            logged_at: None,
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
    type Coupler = <TcpAcceptor as Acceptor>::Coupler;
    type Stream = <TcpAcceptor as Acceptor>::Stream;

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
                    return Ok(accepted);
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
