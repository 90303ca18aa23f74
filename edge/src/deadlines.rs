//! Connection deadlines, enforced in the I/O layer with one timer.
//!
//! * **Idle**: a connection that makes no progress for `idle` is closed. This
//!   covers an idle keep-alive connection (no next request) and a reader that
//!   stops reading (writes stay pending, nginx's `send_timeout`).
//! * **Request head** (HTTP/1 only): from the accept for the first request,
//!   and once the first byte of a later one has arrived, the server must
//!   have started answering within `head`. The edge
//!   answers GET/HEAD/OPTIONS without reading a body and every other method
//!   with an immediate 405, so a response that has not started means the
//!   client is still dribbling its headers: the slowloris case.
//!
//! Progress is noted with a clock read per I/O call, and the timer is
//! re-armed lazily, only when it fires, so a busy connection never touches
//! the timer wheel; it is never armed more than one head timeout ahead, which
//! is what lets a request's start go without re-arming it. This replaces hyper's own header timer, which
//! costs an allocation and a timer registration per request.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

pub struct Deadlines<T> {
    inner: T,
    idle: Duration,
    head: Option<Duration>,
    last_progress: Instant,
    /// When the request now being received started, until its answer starts.
    head_started: Option<Instant>,
    timer: Pin<Box<Sleep>>,
}

impl<T> Deadlines<T> {
    /// For a connection accepted at `now` (time spent since, telling its
    /// protocol, counts against its deadlines). `head` is `None` for
    /// protocols without request heads to time (HTTP/2).
    pub fn since(inner: T, idle: Duration, head: Option<Duration>, now: Instant) -> Self {
        let first = now + head.map_or(idle, |head| idle.min(head));
        Self {
            inner,
            idle,
            head,
            last_progress: now,
            // A new connection waits for its first request head: the head
            // deadline runs from the accept (nginx's `client_header_timeout`),
            // or a client that sends nothing would be held for `idle`.
            head_started: head.map(|_| now),
            timer: Box::pin(tokio::time::sleep_until(first)),
        }
    }

    fn deadline(&self) -> Instant {
        let idle = self.last_progress + self.idle;
        match (self.head, self.head_started) {
            (Some(head), Some(started)) => idle.min(started + head),
            _ => idle,
        }
    }

    /// Called when the inner I/O is pending: `Ready(Err)` once a deadline has passed.
    fn poll_deadline(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        loop {
            if self.timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let (deadline, now) = (self.deadline(), Instant::now());
            if deadline <= now {
                return Poll::Ready(io::Error::new(io::ErrorKind::TimedOut, "connection deadline passed"));
            }
            // Never arm further than one head timeout ahead: a request head that
            // starts before the timer fires then has its deadline after it, so
            // the timer need not be moved earlier when a request begins.
            let next = match self.head {
                Some(head) => deadline.min(now + head),
                None => deadline,
            };
            self.timer.as_mut().reset(next);
        }
    }

    fn track<R>(
        &mut self,
        cx: &mut Context<'_>,
        result: Poll<io::Result<R>>,
        moved: bool,
        reading: bool,
    ) -> Poll<io::Result<R>> {
        match result {
            Poll::Ready(Ok(value)) => {
                if moved {
                    let now = Instant::now();
                    self.last_progress = now;
                    if reading {
                        self.head_started.get_or_insert(now);
                    } else {
                        self.head_started = None;
                    }
                }
                Poll::Ready(Ok(value))
            }
            Poll::Pending => self.poll_deadline(cx).map(Err),
            ready => ready,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Deadlines<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        let moved = buf.filled().len() > before;
        self.track(cx, result, moved, true)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Deadlines<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        let moved = matches!(result, Poll::Ready(Ok(n)) if n > 0);
        self.track(cx, result, moved, false)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        let moved = matches!(result, Poll::Ready(Ok(n)) if n > 0);
        self.track(cx, result, moved, false)
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
