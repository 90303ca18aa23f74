//! What a room is, independent of HTTP: its rows and views, its clock, its events.

pub mod chat;
pub mod clock;
pub mod events;
pub mod fair;
pub mod models;
pub mod playback;
pub mod skips;
