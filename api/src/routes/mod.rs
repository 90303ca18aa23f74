//! The REST handlers, one file per resource.

pub mod auth;
pub mod chat;
pub mod covers;
pub mod dashboard;
pub mod figures;
pub mod genres;
pub mod history;
pub mod moderation;
pub mod monitoring;
pub mod playback;
pub mod playlists;
pub mod rooms;
pub mod skips;
pub mod sync_reports;
pub mod tracks;
pub mod votes;
pub mod web;
