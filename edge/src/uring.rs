//! File reads through io_uring (`EDGE_IO=uring`).
//!
//! tokio-uring runs its own single-threaded runtime, and its file handles
//! cannot leave that thread. So one dedicated thread owns the ring, and each
//! response that streams a file region from disk hands it a duplicate of the
//! descriptor; the ring thread reads the region 64 KiB at a time and passes
//! the blocks back through a channel of capacity one. The channel is the
//! backpressure: a slow client leaves its reader task parked (no thread, no
//! further reads), and a client that goes away closes the channel, which ends
//! the task and closes the descriptor.

use bytes::Bytes;
use std::io;
use std::thread;
use tokio::sync::mpsc;
use tokio_uring::buf::BoundedBuf;

/// One file region to stream.
struct Job {
    file: std::fs::File,
    offset: u64,
    len: u64,
    block: u64,
    blocks: mpsc::Sender<io::Result<Bytes>>,
}

/// Handle to the ring thread.
pub struct UringReader {
    jobs: mpsc::UnboundedSender<Job>,
}

impl UringReader {
    /// Starts the ring thread; fails (so the caller can fall back) where the
    /// kernel or a sandbox refuses io_uring.
    pub fn start() -> io::Result<Self> {
        let (jobs, mut queue) = mpsc::unbounded_channel::<Job>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<io::Result<()>>();
        thread::Builder::new().name("edge-uring".into()).spawn(move || {
            let runtime = match tokio_uring::Runtime::new(&tokio_uring::builder()) {
                Ok(runtime) => runtime,
                Err(error) => {
                    let _ = ready_tx.send(Err(error));
                    return;
                }
            };
            let _ = ready_tx.send(Ok(()));
            runtime.block_on(async move {
                while let Some(job) = queue.recv().await {
                    tokio_uring::spawn(stream(job));
                }
            });
        })?;
        ready_rx
            .recv()
            .map_err(|_| io::Error::other("io_uring thread exited"))??;
        Ok(Self { jobs })
    }

    /// Streams `len` bytes of `file` from `offset`, in blocks of `block` bytes.
    pub fn stream(&self, file: &std::fs::File, offset: u64, len: u64, block: u64) -> mpsc::Receiver<io::Result<Bytes>> {
        let (blocks, receiver) = mpsc::channel(1);
        let job = file.try_clone().map(|file| Job {
            file,
            offset,
            len,
            block,
            blocks: blocks.clone(),
        });
        match job {
            Ok(job) => {
                if self.jobs.send(job).is_err() {
                    let _ = blocks.try_send(Err(io::Error::other("io_uring thread is gone")));
                }
            }
            Err(error) => {
                let _ = blocks.try_send(Err(error));
            }
        }
        receiver
    }
}

async fn stream(job: Job) {
    let file = tokio_uring::fs::File::from_std(job.file);
    let (mut offset, end) = (job.offset, job.offset + job.len);
    while offset < end {
        let want = (end - offset).min(job.block) as usize;
        let (result, buffer) = file.read_exact_at(Vec::with_capacity(want).slice(..want), offset).await;
        let block = result.map(|()| Bytes::from(buffer.into_inner())).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                io::Error::new(io::ErrorKind::UnexpectedEof, "file shrank while being served")
            } else {
                e
            }
        });
        let failed = block.is_err();
        if job.blocks.send(block).await.is_err() || failed {
            break;
        }
        offset += want as u64;
    }
    let _ = file.close().await;
}
