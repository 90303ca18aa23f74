//! A track that played, as the room's history lists it.

use crate::views::iso_format;
use chrono::{DateTime, Utc};
use salvo::oapi::ToSchema;
use serde::Serialize;
use sqlx::FromRow;
use uuid::Uuid;

/// A track that played, as the history lists it.
#[derive(Debug, FromRow, Serialize, ToSchema)]
pub struct Played {
    pub id: i64,
    /// Null once the track is deleted; its name stays.
    pub track_id: Option<Uuid>,
    pub track_name: String,
    pub duration_ms: i64,
    #[sqlx(flatten)]
    pub added_by: AddedBy,
    /// How far it played (ms).
    pub played_ms: i64,
    #[serde(with = "iso_format")]
    pub ended_at: DateTime<Utc>,
    /// `finished`, or why it was cut short: `admin`, `vote`, `removed`,
    /// `replaced`, `stopped`.
    pub ending: String,
}

/// Who added a track that played: their id is null once their account is gone.
#[derive(Debug, Serialize, ToSchema)]
pub struct AddedBy {
    pub id: Option<Uuid>,
    pub username: String,
}

impl<'r> FromRow<'r, sqlx::postgres::PgRow> for AddedBy {
    fn from_row(row: &'r sqlx::postgres::PgRow) -> Result<Self, sqlx::Error> {
        use sqlx::Row;
        Ok(Self {
            id: row.try_get("added_by")?,
            username: row.try_get("added_by_name")?,
        })
    }
}
