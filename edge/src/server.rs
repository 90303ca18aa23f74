//! The accept loop: connection limit, HTTP/1.1 or h2c per connection,
//! deadlines, graceful shutdown.

use crate::app::App;
use crate::deadlines::Deadlines;
use crate::prefixed::Prefixed;
use crate::sendfile::{FileSlices, Offers, SendfileStream};
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// hyper refuses read buffers smaller than this.
const MIN_HEAD_BUFFER: usize = 8192;
/// What an HTTP/2 client with prior knowledge sends first.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Per-connection protocol set-up, shared by every connection.
struct Protocols {
    http1: http1::Builder,
    http2: http2::Builder<TokioExecutor>,
    idle: Duration,
    head: Duration,
}

/// Serves `app` on `listener` until `shutdown` completes, then lets in-flight
/// responses finish for up to the configured grace period.
pub async fn serve(app: Arc<App>, listener: TcpListener, shutdown: impl Future<Output = ()>) -> io::Result<()> {
    let config = app.config();
    let permits = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut http1 = http1::Builder::new();
    // The head deadline lives in `Deadlines`; hyper's own would add a timer per request.
    http1
        .timer(TokioTimer::new())
        .header_read_timeout(None)
        .max_buf_size((config.max_header_bytes as usize).max(MIN_HEAD_BUFFER));
    let mut http2 = http2::Builder::new(TokioExecutor::new());
    http2
        .timer(TokioTimer::new())
        .max_concurrent_streams(128)
        .max_header_list_size(config.max_header_bytes.min(u32::MAX as u64) as u32)
        .keep_alive_interval(Some(config.idle_timeout / 2))
        .keep_alive_timeout(Duration::from_secs(20));
    let protocols = Arc::new(Protocols {
        http1,
        http2,
        idle: config.idle_timeout,
        head: config.header_timeout,
    });
    let grace = config.shutdown_grace;
    let send_buffer = config.send_buffer;

    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => permit.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of descriptors or a connection reset before accept:
                    // back off briefly rather than spin.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        if send_buffer > 0 {
            bound_send_buffer(&stream, send_buffer);
        }
        let (app, protocols, watcher) = (Arc::clone(&app), Arc::clone(&protocols), graceful.watcher());
        let metrics = Arc::clone(app.metrics());
        metrics.connection_opened();
        tokio::spawn(async move {
            if let Err(error) = connection(app, &protocols, watcher, stream, peer).await {
                tracing::debug!(%peer, %error, "connection ended with an error");
            }
            metrics.connection_closed();
            drop(permit);
        });
    }
    drop(listener);
    tracing::info!(connections = graceful.count(), "shutting down");
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(grace) => tracing::warn!(?grace, "grace period over; closing remaining connections"),
    }
    Ok(())
}

async fn connection(
    app: Arc<App>,
    protocols: &Protocols,
    watcher: hyper_util::server::graceful::Watcher,
    stream: TcpStream,
    peer: SocketAddr,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let accepted = tokio::time::Instant::now();
    let mut stream = stream;
    let mut first = [0u8; H2_PREFACE.len()];
    let mut seen = 0;
    // The preface, or what rules it out, must come within the head deadline;
    // the time it took counts against the first request's deadline below.
    let h2 = tokio::time::timeout(protocols.head, read_h2_preface(&mut stream, &mut first, &mut seen))
        .await
        .unwrap_or(Ok(false))?;
    // Responses cut from a file in memory tell the socket so, and it sends
    // their bodies with `sendfile` (HTTP/1.1 only: see `sendfile.rs`).
    let offers = (!h2 && app.config().sendfile).then(|| Arc::new(Offers::default()));
    let metrics = Arc::clone(app.metrics());
    let service = {
        let offers = offers.clone();
        service_fn(move |request| {
            let (app, offers) = (Arc::clone(&app), offers.clone());
            async move {
                let mut response = app.handle(request, peer).await;
                if let Some(file) = response.extensions_mut().remove::<FileSlices>() {
                    if let Some(offers) = &offers {
                        offers.offer(file);
                    }
                }
                Ok::<_, Infallible>(response)
            }
        })
    };
    if h2 {
        let stream = Prefixed::new(first, seen, stream);
        let io = TokioIo::new(Deadlines::since(stream, protocols.idle, None, accepted));
        watcher.watch(protocols.http2.serve_connection(io, service)).await?;
    } else if let Some(offers) = offers {
        let stream = Prefixed::new(first, seen, SendfileStream::new(stream, offers, metrics));
        let io = TokioIo::new(Deadlines::since(stream, protocols.idle, Some(protocols.head), accepted));
        watcher.watch(protocols.http1.serve_connection(io, service)).await?;
    } else {
        let stream = Prefixed::new(first, seen, stream);
        let io = TokioIo::new(Deadlines::since(stream, protocols.idle, Some(protocols.head), accepted));
        watcher.watch(protocols.http1.serve_connection(io, service)).await?;
    }
    Ok(())
}

/// Reads until the first bytes either match or rule out the HTTP/2
/// connection preface, into `first[..*seen]` (handed to hyper by
/// [`Prefixed`]; `seen` survives the deadline's cancelling this). Each read
/// waits for bytes to arrive: a client sending the preface a byte at a time
/// costs a wake-up per byte, never a poll loop. One read in practice, as an
/// HTTP/1 head or a whole preface comes at once.
async fn read_h2_preface(
    stream: &mut TcpStream,
    first: &mut [u8; H2_PREFACE.len()],
    seen: &mut usize,
) -> io::Result<bool> {
    loop {
        let n = stream.read(&mut first[*seen..]).await?;
        if n == 0 {
            return Ok(false);
        }
        *seen += n;
        if first[..*seen] != H2_PREFACE[..*seen] {
            return Ok(false);
        }
        if *seen == H2_PREFACE.len() {
            return Ok(true);
        }
    }
}

/// Sets the socket's send buffer (the kernel doubles it for its own
/// bookkeeping); a failure leaves the kernel's autotuning.
fn bound_send_buffer(stream: &tokio::net::TcpStream, bytes: u64) {
    use std::os::fd::AsRawFd;
    let size = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    // SAFETY: a valid socket descriptor owned by `stream`, and a pointer to
    // an int that lives across the call, with its size.
    let _ = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_SNDBUF,
            std::ptr::addr_of!(size).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
}
