//! What the routes and real-time endpoints share over the application state:
//! who is calling and what they may do in a room, sessions, a room's playback
//! and its skip votes.

pub mod access;
pub mod caller;
pub mod playback;
pub mod sessions;
pub mod skips;
