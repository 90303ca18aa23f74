//! The response body: a queue of in-memory slices and file regions.
//!
//! Memory segments (small-file cache, mappings, part headers) are sent as
//! zero-copy `Bytes` slices, at most [`CHUNK`] per frame so that the socket,
//! not the body, decides the pace. A mapped slice is handed over only while
//! the file still holds it (its length is checked, and the mapping has lost
//! no page: [`crate::mapping`]); otherwise the answer ends in an error, as
//! it does when a read finds the file shorter. File regions are read 64 KiB at a time on
//! the blocking pool, one read in flight, and only when hyper asks for the
//! next frame — so a connection never holds more than one block, and a client
//! that goes away (hyper drops the body) causes no further reads.
//!
//! On drop the body reports how many bytes it actually handed over, which is
//! what `/metrics` and the access log count.

use crate::access_log::{AccessLog, AccessRecord};
use crate::mapping::Mapped;
use crate::metrics::Metrics;
use crate::store::{read_exact_at, FileEntry};
use crate::uring::UringReader;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Largest frame handed to hyper at once from memory.
pub const CHUNK: usize = 256 * 1024;
/// Size of one read from disk.
pub const BLOCK: u64 = 64 * 1024;

pub enum Segment {
    Memory(Bytes),
    /// `bytes` of `entry`'s mapping, from `offset` in the file.
    Mapped {
        bytes: Bytes,
        offset: u64,
        entry: Arc<FileEntry>,
        mapped: Mapped,
    },
    File {
        entry: Arc<FileEntry>,
        offset: u64,
        remaining: u64,
        via: DiskReads,
    },
}

/// A queue of segments that does not allocate for the common single one.
#[derive(Default)]
struct Segments {
    first: Option<Segment>,
    rest: VecDeque<Segment>,
}

impl Segments {
    fn push_back(&mut self, segment: Segment) {
        if self.first.is_none() {
            self.first = Some(segment);
        } else {
            self.rest.push_back(segment);
        }
    }

    fn front_mut(&mut self) -> Option<&mut Segment> {
        self.first.as_mut()
    }

    fn pop_front(&mut self) -> Option<Segment> {
        let front = self.first.take();
        self.first = self.rest.pop_front();
        front
    }
}

/// How file regions are read: `pread` on the blocking pool, or io_uring.
#[derive(Clone)]
pub enum DiskReads {
    Blocking,
    Uring(Arc<UringReader>),
}

/// A read in flight for the front file segment.
enum Reading {
    Block(JoinHandle<io::Result<Bytes>>),
    Stream(mpsc::Receiver<io::Result<Bytes>>),
}

impl Segment {
    fn len(&self) -> u64 {
        match self {
            Self::Memory(bytes) | Self::Mapped { bytes, .. } => bytes.len() as u64,
            Self::File { remaining, .. } => *remaining,
        }
    }
}

/// Who to tell how the response ended.
struct Completion {
    metrics: Arc<Metrics>,
    log: Option<(Arc<AccessLog>, Box<AccessRecord>)>,
}

#[derive(Default)]
pub struct EdgeBody {
    segments: Segments,
    remaining: u64,
    reading: Option<Reading>,
    sent: u64,
    completion: Option<Completion>,
}

impl EdgeBody {
    pub fn empty() -> Self {
        Self::default()
    }

    pub fn memory(bytes: impl Into<Bytes>) -> Self {
        Self::from_segments([Segment::Memory(bytes.into())])
    }

    pub fn from_segments(segments: impl IntoIterator<Item = Segment>) -> Self {
        let mut queue = Segments::default();
        let mut remaining = 0;
        for segment in segments.into_iter().filter(|s| s.len() > 0) {
            remaining += segment.len();
            queue.push_back(segment);
        }
        let segments = queue;
        Self {
            segments,
            remaining,
            reading: None,
            sent: 0,
            completion: None,
        }
    }

    /// Bytes this body will yield in all.
    pub fn len(&self) -> u64 {
        self.remaining
    }

    pub fn is_empty(&self) -> bool {
        self.remaining == 0
    }

    /// Reports the bytes sent to `metrics`, and to `log` if given, when the body is dropped.
    pub fn report_to(&mut self, metrics: Arc<Metrics>, log: Option<(Arc<AccessLog>, Box<AccessRecord>)>) {
        self.completion = Some(Completion { metrics, log });
    }

    /// Accounts for `n` bytes read from the front file segment.
    fn advance_file(&mut self, n: u64) {
        if let Some(Segment::File { offset, remaining, .. }) = self.segments.front_mut() {
            *offset += n;
            *remaining -= n;
            if *remaining == 0 {
                self.segments.pop_front();
                self.reading = None;
            }
        }
    }

    fn emit(&mut self, bytes: Bytes) -> Poll<Option<io::Result<Frame<Bytes>>>> {
        self.sent += bytes.len() as u64;
        self.remaining -= bytes.len() as u64;
        Poll::Ready(Some(Ok(Frame::data(bytes))))
    }
}

fn start_reading(entry: &Arc<FileEntry>, offset: u64, remaining: u64, via: &DiskReads) -> Reading {
    match via {
        DiskReads::Uring(ring) => Reading::Stream(ring.stream(&entry.file, offset, remaining, BLOCK)),
        DiskReads::Blocking => {
            let (entry, len) = (Arc::clone(entry), remaining.min(BLOCK));
            Reading::Block(tokio::task::spawn_blocking(move || {
                let mut block = vec![0; len as usize];
                read_exact_at(&entry.file, &mut block, offset)?;
                Ok(Bytes::from(block))
            }))
        }
    }
}

impl http_body::Body for EdgeBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<io::Result<Frame<Bytes>>>> {
        let this = &mut *self;
        loop {
            if let Some(reading) = &mut this.reading {
                let block = match reading {
                    Reading::Block(handle) => {
                        let read = ready!(Pin::new(handle).poll(cx));
                        this.reading = None;
                        read.map_err(io::Error::other).and_then(|r| r)?
                    }
                    Reading::Stream(blocks) => match ready!(blocks.poll_recv(cx)) {
                        Some(block) => block?,
                        None => return Poll::Ready(Some(Err(io::Error::other("file reader stopped early")))),
                    },
                };
                this.advance_file(block.len() as u64);
                return this.emit(block);
            }
            match this.segments.front_mut() {
                None => return Poll::Ready(None),
                Some(Segment::Memory(bytes)) if bytes.len() > CHUNK => {
                    let chunk = bytes.split_to(CHUNK);
                    return this.emit(chunk);
                }
                Some(Segment::Memory(_)) => {
                    let Some(Segment::Memory(bytes)) = this.segments.pop_front() else {
                        unreachable!("front was a memory segment")
                    };
                    return this.emit(bytes);
                }
                Some(Segment::Mapped {
                    bytes,
                    offset,
                    entry,
                    mapped,
                }) => {
                    let chunk = bytes.split_to(bytes.len().min(CHUNK));
                    let end = *offset + chunk.len() as u64;
                    *offset = end;
                    let still_held = entry.file.metadata().map(|meta| meta.len() >= end);
                    if still_held.as_ref().is_ok_and(|held| !held) {
                        // The store maps it afresh for the next answer.
                        mapped.poison();
                    }
                    let intact = mapped.intact();
                    if bytes.is_empty() {
                        this.segments.pop_front();
                    }
                    return match still_held {
                        Err(error) => Poll::Ready(Some(Err(error))),
                        Ok(false) => Poll::Ready(Some(Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "file shrank while being served",
                        )))),
                        // Unreadable on disk: what was read may be zeros.
                        Ok(true) if !intact => {
                            Poll::Ready(Some(Err(io::Error::other("file lost pages while being served"))))
                        }
                        Ok(true) => this.emit(chunk),
                    };
                }
                Some(Segment::File {
                    entry,
                    offset,
                    remaining,
                    via,
                }) => {
                    this.reading = Some(start_reading(entry, *offset, *remaining, via));
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

impl Drop for EdgeBody {
    fn drop(&mut self) {
        let Some(completion) = self.completion.take() else {
            return;
        };
        completion.metrics.add_bytes_sent(self.sent);
        if let Some((log, record)) = completion.log {
            log.write(&record, self.sent);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body::Body;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn memory_segments_are_sent_in_bounded_frames_and_in_order() {
        let big = Bytes::from(vec![7u8; CHUNK * 2 + 10]);
        let mut body = EdgeBody::from_segments([
            Segment::Memory(Bytes::from_static(b"head")),
            Segment::Memory(big),
            Segment::Memory(Bytes::new()),
        ]);
        assert_eq!(body.len(), 4 + CHUNK as u64 * 2 + 10);
        let mut sizes = Vec::new();
        while let Some(frame) = body.frame().await {
            sizes.push(frame.unwrap().into_data().unwrap().len());
        }
        assert_eq!(sizes, [4, CHUNK, CHUNK, 10]);
        assert!(body.is_end_stream());
    }
}
