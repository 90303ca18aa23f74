//! A user as others see them, and as they see themselves.

use crate::domain::models::User;
use crate::views::iso_format;
use chrono::{DateTime, Utc};
use salvo::oapi::ToSchema;
use serde::Serialize;
use uuid::Uuid;

/// Another user as everyone may see them: no e-mail address.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct UserRef {
    pub id: Uuid,
    pub username: String,
}

/// The user as they see themselves.
#[derive(Serialize, ToSchema)]
pub struct PrivateUser {
    pub id: Uuid,
    pub username: String,
    pub email: String,
    #[serde(with = "iso_format")]
    pub created_at: DateTime<Utc>,
}

impl User {
    pub fn private_view(&self) -> PrivateUser {
        PrivateUser {
            id: self.id,
            username: self.username.clone(),
            email: self.email.clone(),
            created_at: self.created_at,
        }
    }

    pub fn public_view(&self) -> UserRef {
        UserRef {
            id: self.id,
            username: self.username.clone(),
        }
    }
}
