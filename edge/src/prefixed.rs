//! A stream whose first bytes were already read: they are given back to
//! the next reader first, then the stream goes on.
//!
//! Telling HTTP/2 from HTTP/1 needs the first 24 bytes. Peeking at them
//! without reading meant polling again and again while a client sent the
//! preface piece by piece (2 000 connections sending `PRI` drove the edge
//! to 176 % CPU); reading them wakes only when bytes arrive, and this hands
//! them to hyper as if unread.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// As much as is ever read ahead: the HTTP/2 preface.
pub const PREFIX_MAX: usize = 24;

/// The bytes read ahead live inline: no allocation per connection.
pub struct Prefixed<T> {
    prefix: [u8; PREFIX_MAX],
    len: usize,
    given: usize,
    inner: T,
}

impl<T> Prefixed<T> {
    /// `prefix[..len]` first, then `inner`.
    pub fn new(prefix: [u8; PREFIX_MAX], len: usize, inner: T) -> Self {
        Self {
            prefix,
            len: len.min(PREFIX_MAX),
            given: 0,
            inner,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Prefixed<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if self.given < self.len {
            let rest = &self.prefix[self.given..self.len];
            let n = rest.len().min(buf.remaining());
            buf.put_slice(&rest[..n]);
            self.given += n;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Prefixed<T> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn the_prefix_comes_first_then_the_stream() {
        let (mut client, server) = tokio::io::duplex(64);
        tokio::io::AsyncWriteExt::write_all(&mut client, b" world")
            .await
            .unwrap();
        drop(client);
        let mut prefix = [0u8; PREFIX_MAX];
        prefix[..5].copy_from_slice(b"hello");
        let mut stream = Prefixed::new(prefix, 5, server);
        let mut out = String::new();
        stream.read_to_string(&mut out).await.unwrap();
        assert_eq!(out, "hello world");
    }
}
