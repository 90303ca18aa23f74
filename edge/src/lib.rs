//! spotik-edge: serves Spotik's audio files to players.
//!
//! A standalone file server with nginx's semantics for ranges, validators
//! and signed links, and in-process caches in front of the disk. Pure
//! protocol logic lives in modules that do no I/O ([`path`], [`range`],
//! [`conditional`]); [`store`] owns the disk and the caches; [`app`] composes
//! them into the request pipeline; [`server`] runs connections.

pub mod access_log;
pub mod app;
pub mod body;
pub mod conditional;
pub mod config;
mod deadlines;
mod headers;
pub mod mapping;
mod media;
pub mod metrics;
pub mod mime;
pub mod path;
mod pipeline;
mod prefixed;
pub mod range;
mod response;
mod sendfile;
pub mod server;
mod status;
pub mod store;
mod uring;

pub use app::App;
pub use config::Config;

use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Serves `config` on an already bound `listener` until `shutdown` resolves.
///
/// `main` and the tests start the server the same way: bind (port 0 in
/// tests), then call this.
pub async fn run(config: Config, listener: TcpListener, shutdown: impl Future<Output = ()>) -> std::io::Result<()> {
    let app = Arc::new(App::new(config)?);
    server::serve(app, listener, shutdown).await
}
