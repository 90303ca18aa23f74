//! Accounts and tokens: register, login, refresh, logout, me.

use crate::auth::hashing::Lane;
use crate::auth::jwt;
use crate::domain::failure::FieldErrors;
use crate::domain::models::User;
use crate::http::error::{ApiError, ApiResult};
use crate::http::reply::{Created, Nothing, Reply};
use crate::http::request::json_body;
use crate::services::caller::Caller;
use crate::services::sessions::{bearer, revoke, token_data, TokenData};
use crate::state::from_depot;
use crate::views::users::PrivateUser;
use chrono::{DateTime, Utc};
use salvo::oapi::{endpoint, ToSchema};
use salvo::prelude::*;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What `GET /auth/me` answers (`data.user`).
#[derive(Serialize, ToSchema)]
pub struct Me {
    user: PrivateUser,
}

#[derive(Deserialize, ToSchema)]
struct Registration {
    #[serde(default)]
    username: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirmation: String,
}

fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && email.len() <= 254
        && !email.chars().any(char::is_whitespace)
}

fn validate_registration(r: &Registration) -> Result<(), ApiError> {
    let mut errors = FieldErrors::default();
    let mut add = |field: &str, message: &str| errors.add(field, message);
    let name_len = r.username.chars().count();
    if !(3..=50).contains(&name_len) {
        add("username", "The username must be between 3 and 50 characters.");
    }
    if !r
        .username
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        add(
            "username",
            "The username may only contain letters, numbers, dashes and underscores.",
        );
    }
    if !valid_email(&r.email) {
        add("email", "The email must be a valid email address.");
    }
    if r.password.chars().count() < 8 {
        add("password", "The password must be at least 8 characters.");
    }
    if r.password != r.password_confirmation {
        add("password", "The password confirmation does not match.");
    }
    Ok(errors.into_result()?)
}

/// Creates an account and signs it in.
#[endpoint(tags("auth"), request_body = Registration)]
pub async fn register(req: &mut Request, depot: &mut Depot) -> ApiResult<Created<TokenData>> {
    let state = from_depot(depot)?.clone();
    let input: Registration = json_body(req).await?;
    validate_registration(&input)?;
    let client = crate::http::client_addr::of(req, &state.config.trusted_proxies);
    state
        .registrations
        .count(client)
        .map_err(|wait| ApiError::TooManyRequests {
            message: "Too many accounts registered from this address, try again later".into(),
            retry_after_secs: wait,
        })?;
    let hash = state.passwords.hash(input.password.clone(), Lane::Registration).await?;
    let inserted = sqlx::query_as::<_, User>(
        "INSERT INTO users (username, email, password_hash) VALUES ($1, $2, $3) \
         RETURNING id, username, email, created_at",
    )
    .bind(input.username.trim())
    .bind(input.email.trim().to_lowercase())
    .bind(hash)
    .fetch_one(&state.db)
    .await;
    let user = match inserted {
        Ok(user) => user,
        Err(sqlx::Error::Database(e)) if e.constraint() == Some("idx_users_email") => {
            return Err(ApiError::field("email", "The email has already been taken."))
        }
        Err(sqlx::Error::Database(e)) if e.constraint() == Some("idx_users_username") => {
            return Err(ApiError::field("username", "The username has already been taken."))
        }
        Err(e) => return Err(e.into()),
    };
    Ok(Reply::created(
        "User registered successfully",
        token_data(&state, &user),
    ))
}

#[derive(Deserialize, ToSchema)]
struct Credentials {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

/// Signs in: a token for `Authorization: Bearer …`. Failed attempts are
/// limited per client and per account (429 with `Retry-After`).
#[endpoint(tags("auth"), request_body = Credentials)]
pub async fn login(req: &mut Request, depot: &mut Depot) -> ApiResult<Reply<TokenData>> {
    let state = from_depot(depot)?.clone();
    let input: Credentials = json_body(req).await?;
    let email = input.email.trim().to_lowercase();
    let client = crate::http::client_addr::of(req, &state.config.trusted_proxies);
    let row: Option<(Uuid, String, String, DateTime<Utc>, String)> =
        sqlx::query_as("SELECT id, username, email, created_at, password_hash FROM users WHERE lower(email) = $1")
            .bind(&email)
            .fetch_optional(&state.db)
            .await?;
    // Reserved before verifying: parallel guesses cannot all pass the check.
    let attempt = state
        .login_limiter
        .reserve(client, &email, row.is_some())
        .await
        .map_err(|wait| ApiError::TooManyRequests {
            message: "Too many login attempts, try again later".into(),
            retry_after_secs: wait,
        })?;
    let stored = row.as_ref().map(|r| r.4.clone());
    // A missing account is checked against the decoy hash: same cost, same answer.
    let verdict = match state.passwords.verify(input.password.clone(), stored).await {
        Ok(verdict) => verdict,
        Err(busy) => {
            attempt.cancel();
            return Err(busy);
        }
    };
    let Some((id, username, email_db, created_at, _)) = row.filter(|_| verdict.matches) else {
        attempt.failed();
        return Err(ApiError::Unauthorized("Invalid credentials".into()));
    };
    attempt.succeeded();
    if verdict.rehash {
        if let Ok(hash) = state.passwords.hash(input.password.clone(), Lane::Login).await {
            sqlx::query("UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1")
                .bind(id)
                .bind(hash)
                .execute(&state.db)
                .await?;
        }
    }
    let user = User {
        id,
        username,
        email: email_db,
        created_at,
    };
    Ok(Reply::data("Login successful", token_data(&state, &user)))
}

/// A new token for a valid or recently expired one, which is revoked.
#[endpoint(tags("auth"), security(("bearer" = [])))]
pub async fn refresh(req: &mut Request, depot: &mut Depot) -> ApiResult<Reply<TokenData>> {
    let state = from_depot(depot)?.clone();
    let token = bearer(req, false).ok_or_else(|| ApiError::Unauthorized("Authentication required".into()))?;
    let now = Utc::now().timestamp();
    let claims = jwt::verify(&state.config.jwt_secret, &token, now, true)
        .map_err(|_| ApiError::Unauthorized("Invalid token".into()))?;
    if claims.iat + state.config.jwt_refresh_ttl.as_secs() as i64 <= now {
        return Err(ApiError::Unauthorized("Token can no longer be refreshed".into()));
    }
    // Revoke first, atomically: of two concurrent refreshes of one token, one wins.
    let revoked = sqlx::query("INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, now() + $2 * interval '1 second') ON CONFLICT DO NOTHING")
        .bind(claims.jti)
        .bind(state.config.jwt_refresh_ttl.as_secs() as f64)
        .execute(&state.db)
        .await?;
    if revoked.rows_affected() == 0 {
        return Err(ApiError::Unauthorized("Token has been revoked".into()));
    }
    state.sessions.forget(claims.jti);
    state.hub.revoke_session(claims.jti).await;
    let user = sqlx::query_as::<_, User>("SELECT id, username, email, created_at FROM users WHERE id = $1")
        .bind(claims.sub)
        .fetch_optional(&state.db)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("Invalid token".into()))?;
    Ok(Reply::data("Token refreshed", token_data(&state, &user)))
}

/// Revokes the token.
#[endpoint(tags("auth"))]
pub async fn logout(caller: Caller) -> ApiResult<Reply<Nothing>> {
    revoke(&caller.state, &caller.claims).await?;
    Ok(Reply::data("Logged out", Nothing))
}

/// The signed-in user, with their e-mail address.
#[endpoint(tags("auth"))]
pub async fn me(caller: Caller) -> ApiResult<Reply<Me>> {
    Ok(Reply::data(
        "User",
        Me {
            user: caller.user.private_view(),
        },
    ))
}

/// `/api/auth`.
pub fn router() -> Router {
    Router::with_path("auth")
        .push(Router::with_path("register").post(register))
        .push(Router::with_path("login").post(login))
        .push(Router::with_path("refresh").post(refresh))
        .push(Router::with_path("logout").post(logout))
        .push(Router::with_path("me").get(me))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(username: &str, email: &str, password: &str, confirmation: &str) -> Registration {
        Registration {
            username: username.into(),
            email: email.into(),
            password: password.into(),
            password_confirmation: confirmation.into(),
        }
    }

    proptest::proptest! {
        /// Any JSON body for register: refused with a clear error or, when
        /// accepted, within every rule — never a panic.
        #[test]
        fn any_registration_body_is_judged(
            username in proptest::option::of(".{0,60}"),
            email in proptest::option::of(".{0,60}"),
            password in proptest::option::of(".{0,20}"),
            confirmation in proptest::option::of(".{0,20}"),
            number in proptest::prelude::any::<i64>(),
        ) {
            let mut body = serde_json::Map::new();
            for (key, value) in [("username", &username), ("email", &email), ("password", &password), ("password_confirmation", &confirmation)] {
                body.insert(key.into(), value.as_ref().map_or(serde_json::json!(number), |v| serde_json::json!(v)));
            }
            if let Ok(registration) = serde_json::from_value::<Registration>(serde_json::Value::Object(body)) {
                if validate_registration(&registration).is_ok() {
                    proptest::prop_assert!((3..=50).contains(&registration.username.chars().count()));
                    proptest::prop_assert!(valid_email(&registration.email));
                    proptest::prop_assert_eq!(&registration.password, &registration.password_confirmation);
                }
            }
        }
    }

    #[test]
    fn registration_rules() {
        assert!(validate_registration(&reg("alice_1", "alice@example.com", "password1", "password1")).is_ok());
        let Err(ApiError::Validation(errors)) = validate_registration(&reg("a!", "nope", "short", "other")) else {
            panic!("expected validation errors");
        };
        for field in ["username", "email", "password"] {
            assert!(errors.contains(field), "{field}");
        }
        assert!(!valid_email("a@b"));
        assert!(!valid_email("a b@example.com"));
        assert!(valid_email("A.B+c@Example.co.uk"));
    }
}
