//! Late joiners: a listener who subscribes to a room while a track is
//! current is told, alone, how to start hearing it ([`playback::catch_up`]).
//!
//! It is told a moment after subscribing (`WS_CATCH_UP_DELAY_MS`), not at
//! once: the front end subscribes while its room page is still loading, and
//! its player, mounted when the page's requests have returned, acts only on
//! track changes it sees after mounting. The state is read when the moment
//! comes, so what is sent is current, and the frames go through the
//! connection's queue behind any event delivered meanwhile.

use crate::hub::message::RoomEvent;
use crate::hub::outbox::{Frame, Outbox};
use crate::services::playback;
use crate::state::State;
use uuid::Uuid;

/// After the delay, if connection `id` still listens on `channel`, queues
/// the catch-up of `room` in the form `frames` gives each event.
pub fn schedule(
    state: State,
    room: Uuid,
    channel: String,
    id: u64,
    outbox: Outbox,
    frames: impl Fn(&RoomEvent) -> Vec<Frame> + Send + 'static,
) {
    let since = crate::domain::clock::now_ms();
    tokio::spawn(async move {
        tokio::time::sleep(state.hub.config.catch_up_delay).await;
        if !state.hub.is_subscribed(&channel, id) {
            return;
        }
        match playback::catch_up(&state, room, since).await {
            Ok(events) => {
                for event in &events {
                    for frame in frames(event) {
                        outbox.push(&frame);
                    }
                }
            }
            Err(error) => tracing::warn!(%error, %room, "could not tell a new listener the room's playback"),
        }
    });
}
