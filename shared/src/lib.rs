//! What spotik-edge and spotik-api both need, and nothing more.
//!
//! The edge and the API never talk to each other: they agree through the
//! functions here. The API signs links that the edge verifies
//! ([`signed_link`]), and both compute the same validators for a file
//! ([`etag`]), so any replica (or nginx) answers a URL the same way.

pub mod demo_audio;
pub mod etag;
pub mod pusher_auth;
pub mod shutdown;
pub mod signed_link;
pub mod system;
pub mod telemetry;
#[cfg(feature = "test-database")]
pub mod test_database;
