//! Zero-copy sending: body bytes that are a file's content leave through
//! `sendfile(2)` from the file, not through a copy into the socket.
//!
//! hyper writes a response as a list of slices and offers no way to hand it
//! a file, so the socket writer recognises file bytes by address. A
//! response whose body segments are slices of a buffer holding a file (the
//! small-file cache's copy, or the mapping) carries them as [`FileSlices`]
//! in its extensions; the connection's [`Offers`] keep each slice until its
//! bytes have been sent. A kept slice holds its buffer alive, so an address
//! inside it can only be that file's byte at that offset: nothing else can
//! live there meanwhile. Responses go out in order on an HTTP/1.1
//! connection, so the oldest offer matching an address is the one being
//! written. Bytes found in no offer (heads, multipart part heads, bodies
//! too small to be worth it) are written as before.
//!
//! Only plain HTTP/1.1 connections use it; on HTTP/2 the frames interleave
//! body bytes with frame heads anyway.

use crate::metrics::Metrics;
use crate::store::FileEntry;
use bytes::Bytes;
use std::collections::VecDeque;
use std::io;
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;

/// The most slices a connection keeps: a response has at most a few
/// (`EDGE_MAX_RANGES` parts), and hyper writes one response at a time.
const KEPT: usize = 64;
/// The most `sendfile` moves in one call (the kernel's own cap).
const MAX_SEND: usize = 0x7fff_f000;
/// Below this a copy costs less: a 64 KiB range sent by `sendfile` cost
/// 1.12× the copy's CPU, a 256 KiB file 0.80× (`EDGE_COPY=1
/// loadtest/compare-edge`, loadtest/RESULTS.md): the file's pages pass
/// through a pipe, and the head needs a call of its own.
const MIN_SEND: u64 = 128 * 1024;

/// One body segment that is `entry.file`'s bytes from `offset`.
#[derive(Clone)]
struct Slice {
    bytes: Bytes,
    offset: u64,
    entry: Arc<FileEntry>,
    /// Bytes of it not sent yet.
    unsent: usize,
    /// Its place among the connection's offers, for telling what was sent.
    serial: u64,
}

impl Slice {
    /// Where `address` falls in this slice, if it does.
    fn position_of(&self, address: usize) -> Option<usize> {
        let start = self.bytes.as_ptr() as usize;
        (start..start + self.bytes.len())
            .contains(&address)
            .then(|| address - start)
    }
}

/// The body segments of one response worth sending from their file.
#[derive(Clone, Default)]
pub struct FileSlices(Vec<Slice>);

impl FileSlices {
    /// Whether a segment of `len` bytes goes by `sendfile`.
    pub fn worth_sending(len: u64) -> bool {
        len >= MIN_SEND
    }

    /// `bytes`, a body segment, are `entry`'s bytes from `offset`.
    pub fn push(&mut self, bytes: Bytes, offset: u64, entry: &Arc<FileEntry>) {
        let unsent = bytes.len();
        self.0.push(Slice {
            bytes,
            offset,
            entry: Arc::clone(entry),
            unsent,
            serial: 0,
        });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The file slices of one connection's responses, oldest first.
#[derive(Default)]
pub struct Offers {
    kept: Mutex<Kept>,
}

#[derive(Default)]
struct Kept {
    slices: VecDeque<Slice>,
    next_serial: u64,
}

/// Bytes to send from a file: `len` of `entry` from `offset`, at write
/// buffer `index`, from the offer numbered `serial`.
struct Found {
    index: usize,
    entry: Arc<FileEntry>,
    offset: u64,
    len: usize,
    serial: u64,
}

impl Offers {
    pub fn offer(&self, slices: FileSlices) {
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        for mut slice in slices.0 {
            if kept.slices.len() == KEPT {
                // Never in practice; if it were, the oldest bytes are copied.
                kept.slices.pop_front();
            }
            slice.serial = kept.next_serial;
            kept.next_serial += 1;
            kept.slices.push_back(slice);
        }
    }

    /// The first of `slices` that is offered file bytes, with how many of
    /// them (following slices included, while they continue it) can go in
    /// one call.
    fn find(&self, slices: &[io::IoSlice<'_>]) -> Option<Found> {
        let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        if kept.slices.is_empty() {
            return None;
        }
        for (index, slice) in slices.iter().enumerate() {
            let address = slice.as_ptr() as usize;
            let Some((offered, at)) = kept
                .slices
                .iter()
                .find_map(|k| k.position_of(address).filter(|_| !slice.is_empty()).map(|at| (k, at)))
            else {
                continue;
            };
            let mut len = slice.len().min(offered.bytes.len() - at);
            for next in &slices[index + 1..] {
                if next.as_ptr() as usize != address + len || at + len >= offered.bytes.len() {
                    break;
                }
                len = (len + next.len()).min(offered.bytes.len() - at);
            }
            return Some(Found {
                index,
                entry: Arc::clone(&offered.entry),
                offset: offered.offset + at as u64,
                len: len.min(MAX_SEND),
                serial: offered.serial,
            });
        }
        None
    }

    /// `n` bytes of offer `serial` went out: it is let go once all of it
    /// has. Offers are sent oldest first, so it is almost always the front.
    fn sent(&self, serial: u64, n: usize) {
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(index) = kept.slices.iter().position(|k| k.serial == serial) {
            let slice = &mut kept.slices[index];
            slice.unsent = slice.unsent.saturating_sub(n);
            if slice.unsent == 0 {
                kept.slices.remove(index);
            }
        }
    }
}

/// A client socket that sends known file bytes with `sendfile`.
pub struct SendfileStream {
    stream: TcpStream,
    offers: Arc<Offers>,
    metrics: Arc<Metrics>,
}

impl SendfileStream {
    pub fn new(stream: TcpStream, offers: Arc<Offers>, metrics: Arc<Metrics>) -> Self {
        Self {
            stream,
            offers,
            metrics,
        }
    }

    /// One `sendfile` of what `found` names, when the socket takes it.
    fn poll_send_file(&self, cx: &mut Context<'_>, found: &Found) -> Poll<io::Result<usize>> {
        let Found {
            entry,
            offset,
            len,
            serial,
            ..
        } = found;
        loop {
            ready!(self.stream.poll_write_ready(cx))?;
            let sent = self.stream.try_io(Interest::WRITABLE, || {
                let mut position = *offset as libc::off_t;
                // SAFETY: two descriptors owned by live objects, a pointer to
                // an offset that outlives the call; the kernel reads the file
                // from `position` and leaves the file's own position alone.
                let n = unsafe { libc::sendfile(self.stream.as_raw_fd(), entry.file.as_raw_fd(), &mut position, *len) };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            });
            match sent {
                Ok(0) => {
                    // The file ended before the bytes its buffer holds: it
                    // shrank on disk. End the response rather than lie.
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "file shrank while being served",
                    )));
                }
                Ok(n) => {
                    self.metrics.add_sendfile_bytes(n as u64);
                    self.offers.sent(*serial, n);
                    return Poll::Ready(Ok(n));
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
                Err(error) => return Poll::Ready(Err(error)),
            }
        }
    }
}

impl AsyncRead for SendfileStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for SendfileStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.as_mut().poll_write_vectored(cx, &[io::IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let Some(found) = self.offers.find(bufs) else {
            return Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        };
        let index = found.index;
        if index == 0 {
            return self.poll_send_file(cx, &found);
        }
        // What comes before the file bytes (the response head) goes first;
        // once all of it is out, the file bytes follow in the same call.
        let before = &bufs[..index];
        let head_len: usize = before.iter().map(|b| b.len()).sum();
        let written = ready!(Pin::new(&mut self.stream).poll_write_vectored(cx, before))?;
        if written < head_len {
            return Poll::Ready(Ok(written));
        }
        match self.poll_send_file(cx, &found) {
            Poll::Ready(Ok(n)) => Poll::Ready(Ok(written + n)),
            // The head went out; the error or the wait shows on the next call.
            Poll::Ready(Err(_)) | Poll::Pending => Poll::Ready(Ok(written)),
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
