//! Votes: one per user per track, counted in the same statement that records them.

use crate::auth::authenticate;
use crate::error::{ApiError, ApiResult};
use crate::events;
use crate::reply::Reply;
use crate::request::{state, uuid_param};
use crate::rooms::require_member;
use salvo::http::StatusCode;
use salvo::prelude::*;
use serde_json::json;

/// Adds (`up`) or removes the caller's vote. Both are idempotent; concurrent
/// votes neither lose nor double count, because the vote row and the score
/// change in one statement (the row lock on the track orders them).
async fn vote(req: &mut Request, depot: &mut Depot, up: bool) -> ApiResult<Reply> {
    let caller = authenticate(req, depot, false).await?;
    let state = state(depot)?;
    let room_id = uuid_param(req, "room")?;
    let track_id = uuid_param(req, "track")?;
    require_member(state, room_id, caller.id()).await?;
    let sql = if up {
        "WITH changed AS (INSERT INTO track_votes (track_id, user_id) \
                          SELECT $1, $2 WHERE EXISTS (SELECT 1 FROM tracks WHERE id = $1 AND room_id = $3) \
                          ON CONFLICT DO NOTHING RETURNING 1) \
         UPDATE tracks SET vote_score = vote_score + (SELECT count(*) FROM changed), updated_at = now() \
         WHERE id = $1 AND room_id = $3 RETURNING vote_score, (SELECT count(*) FROM changed)"
    } else {
        "WITH changed AS (DELETE FROM track_votes WHERE track_id = $1 AND user_id = $2 RETURNING 1) \
         UPDATE tracks SET vote_score = vote_score - (SELECT count(*) FROM changed), updated_at = now() \
         WHERE id = $1 AND room_id = $3 RETURNING vote_score, (SELECT count(*) FROM changed)"
    };
    let mut tx = state.db.begin().await?;
    let row: Option<(i32, i64)> = sqlx::query_as(sql)
        .bind(track_id)
        .bind(caller.id())
        .bind(room_id)
        .fetch_optional(&mut *tx)
        .await?;
    let (score, changed) = row.ok_or_else(|| ApiError::NotFound("Track not found".into()))?;
    let event = if changed > 0 {
        Some(
            events::stamp(
                &mut tx,
                room_id,
                "track.voted",
                json!({ "track": { "id": track_id, "vote_score": score }, "user": caller.user.public_json(), "vote_added": up }),
            )
            .await?,
        )
    } else {
        None
    };
    tx.commit().await?;
    state.publish(event).await;
    let message = match (up, changed > 0) {
        (true, true) => "Vote added",
        (true, false) => "Already voted",
        (false, true) => "Vote removed",
        (false, false) => "No vote to remove",
    };
    Ok(Reply::top_level(
        StatusCode::OK,
        message,
        json!({ "vote_score": score, "user_has_voted": up }),
    ))
}

#[handler]
pub async fn add_vote(req: &mut Request, depot: &mut Depot) -> ApiResult<Reply> {
    vote(req, depot, true).await
}

#[handler]
pub async fn remove_vote(req: &mut Request, depot: &mut Depot) -> ApiResult<Reply> {
    vote(req, depot, false).await
}
