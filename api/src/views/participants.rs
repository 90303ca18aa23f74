//! A room's participants and a track's voters, as the room sees them.

use crate::domain::models::Participant;
use crate::views::iso_format;
use crate::views::users::UserRef;
use chrono::{DateTime, Utc};
use salvo::oapi::ToSchema;
use serde::Serialize;
use sqlx::FromRow;
use uuid::Uuid;

/// Who voted for a track, and when: Spotik's web app lists them under the
/// score (the Vue front end shows only the score).
#[derive(Clone, Debug, FromRow, Serialize, ToSchema)]
pub struct Voter {
    pub id: Uuid,
    pub username: String,
    #[serde(with = "iso_format")]
    pub voted_at: DateTime<Utc>,
}

/// A participant (`ParticipantList.vue` reads `user.username`/`username`,
/// `user_id`/`user.id` and `joined_at`; the store removes them by `id`,
/// which is therefore the user's id, as in `user.left`).
#[derive(Clone, Serialize, ToSchema)]
pub struct ParticipantView {
    pub id: Uuid,
    pub user_id: Uuid,
    pub username: String,
    pub user: UserRef,
    #[serde(with = "iso_format")]
    pub joined_at: DateTime<Utc>,
    pub is_administrator: bool,
    /// Made a moderator by the administrator (docs/room-life.md).
    pub is_moderator: bool,
    /// Muted until then (may not queue, chat or react); null when not.
    #[serde(with = "iso_format::option")]
    pub muted_until: Option<DateTime<Utc>>,
}

impl Participant {
    pub fn view(&self, administrator: Uuid) -> ParticipantView {
        ParticipantView {
            id: self.user_id,
            user_id: self.user_id,
            username: self.username.clone(),
            user: UserRef {
                id: self.user_id,
                username: self.username.clone(),
            },
            joined_at: self.joined_at,
            is_administrator: self.user_id == administrator,
            is_moderator: self.is_moderator,
            muted_until: self.muted_until.filter(|until| *until > Utc::now()),
        }
    }
}
