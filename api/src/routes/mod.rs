//! The REST handlers, one file per resource; each file says where its
//! routes are, and [`router`] mounts them under `/api`.

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

use salvo::Router;

/// The REST API under `/api`, each file's routes where they belong.
pub fn router() -> Router {
    let track = Router::with_path("{track}")
        .push(tracks::in_track())
        .push(votes::in_track())
        .push(playback::in_track());
    let room = Router::with_path("{room}")
        .push(rooms::in_room())
        .push(sync_reports::in_room())
        .push(history::in_room())
        .push(chat::in_room())
        .push(moderation::in_room())
        .push(skips::in_room())
        .push(covers::in_room())
        .push(Router::with_path("tracks").push(tracks::in_room()).push(track))
        .push(playback::in_room());
    Router::with_path("api")
        .push(monitoring::router())
        .push(auth::router())
        .push(rooms::router().push(room))
        .push(tracks::router())
        .push(covers::router())
        .push(genres::router())
        .push(playlists::router())
}
