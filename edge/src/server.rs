//! The accept loop: connection limit, HTTP/1.1 + h2c, timeouts, graceful shutdown.

use crate::app::App;
use crate::idle::IdleTimeout;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// hyper refuses read buffers smaller than this.
const MIN_HEAD_BUFFER: usize = 8192;

/// Serves `app` on `listener` until `shutdown` completes, then lets in-flight
/// responses finish for up to the configured grace period.
pub async fn serve(app: Arc<App>, listener: TcpListener, shutdown: impl Future<Output = ()>) -> io::Result<()> {
    let config = app.config();
    let permits = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_timeout)
        .max_buf_size((config.max_header_bytes as usize).max(MIN_HEAD_BUFFER));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(128)
        .max_header_list_size(config.max_header_bytes.min(u32::MAX as u64) as u32)
        .keep_alive_interval(Some(config.idle_timeout / 2))
        .keep_alive_timeout(Duration::from_secs(20));
    let idle_timeout = config.idle_timeout;
    let grace = config.shutdown_grace;

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
        let app_for_conn = Arc::clone(&app);
        let service = service_fn(move |request| {
            let app = Arc::clone(&app_for_conn);
            async move { Ok::<_, Infallible>(app.handle(request, peer).await) }
        });
        let io = TokioIo::new(IdleTimeout::new(stream, idle_timeout));
        let connection = graceful.watch(builder.serve_connection(io, service).into_owned());
        let metrics = app.metrics();
        metrics.connection_opened();
        tokio::spawn(async move {
            if let Err(error) = connection.await {
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
