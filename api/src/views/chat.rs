//! A chat message as everyone in the room sees it.

use crate::views::iso_format;
use chrono::{DateTime, Utc};
use salvo::oapi::ToSchema;
use serde::Serialize;
use sqlx::FromRow;
use uuid::Uuid;

/// A message as everyone in the room sees it.
#[derive(Clone, Debug, FromRow, Serialize, ToSchema)]
pub struct Message {
    pub id: i64,
    /// Null once the author's account is gone; the name stays.
    pub user_id: Option<Uuid>,
    pub username: String,
    pub body: String,
    #[serde(with = "iso_format")]
    pub created_at: DateTime<Utc>,
}
