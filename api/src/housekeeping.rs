//! The server advances a room when its track ends: nobody has to press skip.
//!
//! Every replica runs this loop. A room whose track has ended is claimed
//! with `FOR UPDATE SKIP LOCKED` and advanced in the same transaction; the
//! condition is in the claiming query, so once one replica has advanced a
//! room no other finds it — each end of track is acted on exactly once.

use crate::services::playback;
use crate::state::State;
use std::time::Duration;
use uuid::Uuid;

/// How often partial uploads left by a process that ended (on this host or
/// another sharing the media) are looked for; start-up looks too.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

pub async fn run(state: State, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(state.config.advance_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut pruned_at = tokio::time::Instant::now();
    let mut swept_at = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        if let Err(error) = advance_ended(&state).await {
            tracing::warn!(%error, "advancing ended tracks failed; retrying");
        }
        if swept_at.elapsed() > SWEEP_EVERY {
            swept_at = tokio::time::Instant::now();
            let config = state.config.clone();
            let _ = tokio::task::spawn_blocking(move || crate::files::storage::sweep_partial_uploads(&config)).await;
        }
        if pruned_at.elapsed() > Duration::from_secs(3600) {
            pruned_at = tokio::time::Instant::now();
            if let Ok(n) = crate::services::sessions::prune_revocations(&state.db).await {
                tracing::debug!(pruned = n, "expired revocations removed");
            }
        }
    }
}

/// Advances every room whose track has ended; returns how many.
pub async fn advance_ended(state: &State) -> Result<usize, crate::http::error::ApiError> {
    let mut tx = state.db.begin().await?;
    let ended: Vec<(Uuid,)> = sqlx::query_as(
        "SELECT r.id FROM rooms r JOIN tracks t ON t.id = r.current_track_id \
         WHERE r.is_playing AND r.playback_started_at + t.duration_ms * interval '1 millisecond' <= now() \
         ORDER BY r.id LIMIT 50 FOR UPDATE OF r SKIP LOCKED",
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut pending = Vec::new();
    for (room,) in &ended {
        pending.extend(playback::advance(state, &mut tx, *room, crate::store::history::Ending::Finished).await?);
    }
    tx.commit().await?;
    state.publish(pending).await;
    Ok(ended.len())
}
