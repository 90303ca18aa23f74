//! A room's chat as stored: messages in, newest first out, the newest
//! [`MESSAGES_KEPT`] of a room kept (docs/capacity.md prices them).

use crate::domain::models::User;
use crate::views::chat::Message;
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

/// Messages kept per room: what a newcomer scrolls back through, and more.
pub const MESSAGES_KEPT: i64 = 200;

/// Stores `body` from `author` in `room` and trims the room's chat.
pub async fn add(tx: &mut PgConnection, room: Uuid, author: &User, body: &str) -> Result<Message, sqlx::Error> {
    let message = sqlx::query_as::<_, Message>(
        "INSERT INTO chat_messages (room_id, user_id, username, body) VALUES ($1, $2, $3, $4) \
         RETURNING id, user_id, username, body, created_at",
    )
    .bind(room)
    .bind(author.id)
    .bind(&author.username)
    .bind(body)
    .fetch_one(&mut *tx)
    .await?;
    super::newest::keep(&mut *tx, "chat_messages", room, MESSAGES_KEPT).await?;
    Ok(message)
}

/// The room's messages, newest first: `limit` older than `before`.
pub async fn page(
    db: impl PgExecutor<'_>,
    room: Uuid,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<Message>, sqlx::Error> {
    sqlx::query_as::<_, Message>(
        "SELECT id, user_id, username, body, created_at FROM chat_messages \
         WHERE room_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
    )
    .bind(room)
    .bind(before.unwrap_or(i64::MAX))
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Who wrote a message (by name), and what.
pub struct Written {
    pub username: String,
    pub text: String,
}

/// The author of message `id` of `room` (`None` inside once their account
/// is gone) and what it says; `None` if there is no such message there.
pub async fn author(
    db: impl PgExecutor<'_>,
    room: Uuid,
    id: i64,
) -> Result<Option<(Option<Uuid>, Written)>, sqlx::Error> {
    let row: Option<(Option<Uuid>, String, String)> =
        sqlx::query_as("SELECT user_id, username, body FROM chat_messages WHERE room_id = $1 AND id = $2")
            .bind(room)
            .bind(id)
            .fetch_optional(db)
            .await?;
    Ok(row.map(|(user, username, text)| (user, Written { username, text })))
}

/// Deletes message `id` of `room`; whether there was one.
pub async fn delete(tx: &mut PgConnection, room: Uuid, id: i64) -> Result<bool, sqlx::Error> {
    let deleted = sqlx::query("DELETE FROM chat_messages WHERE room_id = $1 AND id = $2")
        .bind(room)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    Ok(deleted.rows_affected() > 0)
}
