//! Access tokens: HS256 JWTs with a `jti` so that each can be revoked.
//!
//! Only HS256 is accepted — `alg: none` and every other algorithm fail
//! verification, as do bad signatures and expired tokens.

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use uuid::Uuid;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub sub: Uuid,
    pub jti: Uuid,
    pub iat: i64,
    pub exp: i64,
}

#[derive(Debug, PartialEq, Eq)]
pub enum TokenError {
    Invalid,
    Expired,
}

pub fn issue(secret: &str, user: Uuid, now: i64, ttl: Duration) -> (String, Claims) {
    let claims = Claims {
        sub: user,
        jti: Uuid::new_v4(),
        iat: now,
        exp: now + ttl.as_secs() as i64,
    };
    let token = encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("HS256 encoding of plain claims cannot fail");
    (token, claims)
}

/// Verifies signature and algorithm; with `allow_expired`, an expired token
/// is still returned (for refresh, whose window the caller checks).
pub fn verify(secret: &str, token: &str, now: i64, allow_expired: bool) -> Result<Claims, TokenError> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_exp = false;
    validation.leeway = 0;
    validation.required_spec_claims = ["exp", "sub", "iat"].iter().map(|s| s.to_string()).collect();
    let data = decode::<Claims>(token, &DecodingKey::from_secret(secret.as_bytes()), &validation)
        .map_err(|_| TokenError::Invalid)?;
    if !allow_expired && data.claims.exp <= now {
        return Err(TokenError::Expired);
    }
    Ok(data.claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    const SECRET: &str = "secret";

    #[test]
    fn issued_tokens_verify_until_they_expire() {
        let user = Uuid::new_v4();
        let (token, claims) = issue(SECRET, user, 1_000, Duration::from_secs(60));
        assert_eq!(verify(SECRET, &token, 1_059, false), Ok(claims.clone()));
        assert_eq!(verify(SECRET, &token, 1_060, false), Err(TokenError::Expired));
        assert_eq!(verify(SECRET, &token, 9_999, true), Ok(claims));
        assert_eq!(verify("other", &token, 1_000, false), Err(TokenError::Invalid));
    }

    #[test]
    fn alg_none_and_other_algorithms_are_refused() {
        let (token, _) = issue(SECRET, Uuid::new_v4(), 1_000, Duration::from_secs(60));
        let payload = token.split('.').nth(1).unwrap();
        for header in [
            r#"{"alg":"none","typ":"JWT"}"#,
            r#"{"alg":"HS512","typ":"JWT"}"#,
            r#"{"alg":"RS256","typ":"JWT"}"#,
        ] {
            let forged = format!("{}.{payload}.", URL_SAFE_NO_PAD.encode(header));
            assert_eq!(
                verify(SECRET, &forged, 1_000, false),
                Err(TokenError::Invalid),
                "{header}"
            );
        }
        assert_eq!(verify(SECRET, "not.a.token", 1_000, false), Err(TokenError::Invalid));
        assert_eq!(verify(SECRET, "", 1_000, false), Err(TokenError::Invalid));
    }
}
