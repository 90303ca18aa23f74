//! Sessions: who a bearer token stands for (valid, unexpired, unrevoked, of
//! an existing user), the tokens sign-in hands out, and their revocation.

use crate::auth::jwt;
use crate::domain::models::User;
use crate::http::error::{ApiError, ApiResult};
use crate::state::{from_depot, AppState};
use crate::views::users::PrivateUser;
use chrono::{DateTime, Utc};
use salvo::oapi::ToSchema;
use salvo::prelude::*;
use serde::Serialize;
use uuid::Uuid;

/// The authenticated caller of a request.
#[derive(Clone, Debug)]
pub struct AuthUser {
    pub user: User,
    pub claims: jwt::Claims,
}

impl AuthUser {
    pub fn id(&self) -> Uuid {
        self.user.id
    }
}

/// The bearer token of a request; `?token=` too where `allow_query` (for
/// `<audio src>`, which cannot send headers).
pub fn bearer(req: &Request, allow_query: bool) -> Option<String> {
    let from_header = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(|t| t.trim().to_owned());
    from_header.or_else(|| allow_query.then(|| req.query::<String>("token")).flatten())
}

/// Authenticates the request: a valid, unexpired, unrevoked token of an existing user.
pub async fn authenticate(req: &Request, depot: &Depot, allow_query: bool) -> ApiResult<AuthUser> {
    let state = from_depot(depot)?;
    let token = bearer(req, allow_query).ok_or_else(|| ApiError::Unauthorized("Authentication required".into()))?;
    authenticate_token(state, &token).await
}

/// The caller a token stands for, if it is valid, unexpired and unrevoked.
pub async fn authenticate_token(state: &AppState, token: &str) -> ApiResult<AuthUser> {
    let claims = jwt::verify(&state.config.jwt_secret, token, Utc::now().timestamp(), false).map_err(|e| match e {
        jwt::TokenError::Expired => ApiError::Unauthorized("Token has expired".into()),
        jwt::TokenError::Invalid => ApiError::Unauthorized("Invalid token".into()),
    })?;
    // Seen within the last second (and not revoked here since): no round trip.
    if let Some(user) = state.sessions.get(&claims.jti).filter(|u| u.id == claims.sub) {
        return Ok(AuthUser { user, claims });
    }
    let asked = std::time::Instant::now();
    // One round trip: the user and whether this token was revoked.
    let row: Option<(Uuid, String, String, DateTime<Utc>, bool)> = sqlx::query_as(
        "SELECT u.id, u.username, u.email, u.created_at, \
                EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = $2) \
         FROM users u WHERE u.id = $1",
    )
    .bind(claims.sub)
    .bind(claims.jti)
    .fetch_optional(&state.db)
    .await?;
    match row {
        Some((id, username, email, created_at, false)) => {
            let user = User {
                id,
                username,
                email,
                created_at,
            };
            state.sessions.put(claims.jti, user.clone(), asked);
            Ok(AuthUser { user, claims })
        }
        Some((.., true)) => Err(ApiError::Unauthorized("Token has been revoked".into())),
        None => Err(ApiError::Unauthorized("Invalid token".into())),
    }
}

/// Whether session `jti` of `user` still stands: not revoked (logout,
/// refresh) and the user still there. For what was signed while it stood,
/// such as a channel subscription's `channel_data`.
pub async fn session_is_live(state: &AppState, jti: Uuid, user: Uuid) -> ApiResult<bool> {
    if state.sessions.get(&jti).is_some_and(|u| u.id == user) {
        return Ok(true);
    }
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM users WHERE id = $1) \
         AND NOT EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = $2)",
    )
    .bind(user)
    .bind(jti)
    .fetch_one(&state.db)
    .await?)
}

/// What sign-up, sign-in and refresh answer (`stores/auth.js` reads
/// `data.{user, token, token_type, expires_in}`).
#[derive(Serialize, ToSchema)]
pub struct TokenData {
    user: PrivateUser,
    token: String,
    token_type: &'static str,
    /// Seconds.
    expires_in: u64,
}

pub fn token_data(state: &AppState, user: &User) -> TokenData {
    let (token, _) = jwt::issue(
        &state.config.jwt_secret,
        user.id,
        Utc::now().timestamp(),
        state.config.jwt_ttl,
    );
    TokenData {
        user: user.private_view(),
        token,
        token_type: "bearer",
        expires_in: state.config.jwt_ttl.as_secs(),
    }
}

/// Revokes the session of `claims` here and on every replica's sockets.
pub async fn revoke(state: &AppState, claims: &jwt::Claims) -> ApiResult<()> {
    let expires = DateTime::<Utc>::from_timestamp(
        claims
            .exp
            .max(claims.iat + state.config.jwt_refresh_ttl.as_secs() as i64),
        0,
    )
    .unwrap_or_else(Utc::now);
    sqlx::query("INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(claims.jti)
        .bind(expires)
        .execute(&state.db)
        .await?;
    state.sessions.forget(claims.jti);
    state.hub.revoke_session(claims.jti).await;
    Ok(())
}

/// Removes revocations of tokens that have expired anyway.
pub async fn prune_revocations(db: &sqlx::PgPool) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM revoked_tokens WHERE expires_at < now()")
        .execute(db)
        .await?
        .rows_affected())
}
