//! HTTP glue shared by every route: errors and answers, request reading, CORS, the acceptor.

pub mod acceptor;
pub mod client;
pub mod client_addr;
pub mod connections;
pub mod cors;
pub mod error;
pub mod openapi;
pub(crate) mod page;
pub mod path;
pub(crate) mod reply;
pub(crate) mod request;
