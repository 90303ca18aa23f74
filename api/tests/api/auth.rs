//! Accounts and tokens.

use crate::support::*;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn register_login_me_refresh_logout() {
    let app = spawn_app().await;
    let reply = app
        .call(Method::POST, "/auth/register", None, Some(json!({ "username": "alice", "email": "Alice@Example.com", "password": "password123", "password_confirmation": "password123" })))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let data = &reply.body["data"];
    assert_eq!(data["token_type"], "bearer");
    assert_eq!(data["expires_in"], 3600);
    assert_eq!(data["user"]["username"], "alice");
    assert_eq!(data["user"]["email"], "alice@example.com");

    // E-mail lookups ignore case.
    let login = app
        .call(
            Method::POST,
            "/auth/login",
            None,
            Some(json!({ "email": "ALICE@example.com", "password": "password123" })),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK);
    let token = login.body["data"]["token"].as_str().unwrap().to_owned();
    let me = app.get("/auth/me", &token).await;
    assert_eq!(me.body["data"]["user"]["username"], "alice");

    let refreshed = app.call(Method::POST, "/auth/refresh", Some(&token), None).await;
    assert_eq!(refreshed.status, StatusCode::OK);
    let new_token = refreshed.body["data"]["token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.get("/auth/me", &token).await.status,
        StatusCode::UNAUTHORIZED,
        "the refreshed token is revoked"
    );
    assert_eq!(
        app.call(Method::POST, "/auth/refresh", Some(&token), None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.get("/auth/me", &new_token).await.status, StatusCode::OK);

    assert_eq!(
        app.call(Method::POST, "/auth/logout", Some(&new_token), None)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(app.get("/auth/me", &new_token).await.status, StatusCode::UNAUTHORIZED);

    // Revocation lives in PostgreSQL: a new process over the same database still refuses it.
    let again = spawn_with(Options {
        database_url: Some(app.database_url.clone()),
        ..Options::default()
    })
    .await;
    assert_eq!(again.get("/auth/me", &new_token).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_email_and_wrong_password_look_the_same() {
    let app = spawn_app().await;
    app.user("bob").await;
    let wrong_password = app
        .call(
            Method::POST,
            "/auth/login",
            None,
            Some(json!({ "email": "bob@example.com", "password": "nope-nope" })),
        )
        .await;
    let wrong_email = app
        .call(
            Method::POST,
            "/auth/login",
            None,
            Some(json!({ "email": "nobody@example.com", "password": "nope-nope" })),
        )
        .await;
    assert_eq!(wrong_password.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong_password.status, wrong_email.status);
    assert_eq!(wrong_password.body, wrong_email.body);
    assert_eq!(wrong_email.body["message"], "Invalid credentials");
}

#[tokio::test(flavor = "multi_thread")]
async fn registration_is_validated() {
    let app = spawn_app().await;
    app.user("carol").await;
    let cases = [
        (
            json!({ "username": "x", "email": "bad", "password": "short", "password_confirmation": "other" }),
            vec!["username", "email", "password"],
        ),
        (
            json!({ "username": "carol2", "email": "CAROL@example.com", "password": "password123", "password_confirmation": "password123" }),
            vec!["email"],
        ),
        (
            json!({ "username": "Carol", "email": "c2@example.com", "password": "password123", "password_confirmation": "password123" }),
            vec!["username"],
        ),
    ];
    for (body, fields) in cases {
        let reply = app.call(Method::POST, "/auth/register", None, Some(body.clone())).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(reply.body["success"], false);
        for field in fields {
            assert!(reply.body["errors"][field].is_array(), "{field} in {}", reply.body);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_expired_none_and_garbage_tokens_are_401() {
    let app = spawn_app().await;
    let (token, user) = app.user("dave").await;
    let parts: Vec<&str> = token.split('.').collect();
    let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let now = chrono::Utc::now().timestamp();
    let expired_claims = json!({ "sub": user, "jti": uuid::Uuid::new_v4(), "iat": now - 7200, "exp": now - 3600 });
    let expired = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &expired_claims,
        &jsonwebtoken::EncodingKey::from_secret(b"test-jwt-secret"),
    )
    .unwrap();
    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({ "sub": user, "jti": uuid::Uuid::new_v4(), "iat": now, "exp": now + 3600 }),
        &jsonwebtoken::EncodingKey::from_secret(b"guessed-secret"),
    )
    .unwrap();
    for bad in [
        format!("{none_header}.{}.", parts[1]),
        format!("{}.{}.AAAA", parts[0], parts[1]),
        expired,
        forged,
        "garbage".to_owned(),
        String::new(),
    ] {
        let reply = app.get("/auth/me", &bad).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{bad}");
        assert_eq!(reply.body["success"], false);
    }
    assert_eq!(
        app.call(Method::GET, "/auth/me", None, None).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn repeated_failed_logins_are_limited_with_retry_after() {
    let app = spawn_with(Options {
        tweak: |c| {
            c.login_limit.per_account = 3;
        },
        ..Options::default()
    })
    .await;
    app.user("erin").await;
    for _ in 0..3 {
        let reply = app
            .call(
                Method::POST,
                "/auth/login",
                None,
                Some(json!({ "email": "erin@example.com", "password": "wrong-wrong" })),
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
    let limited = app
        .call(
            Method::POST,
            "/auth/login",
            None,
            Some(json!({ "email": "erin@example.com", "password": "password123" })),
        )
        .await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers.get("retry-after").is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_bodies_get_400_415_and_unknown_routes_404_json() {
    let app = spawn_app().await;
    let malformed = app
        .client
        .post(app.url("/auth/login"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    let form = app
        .client
        .post(app.url("/auth/login"))
        .header("content-type", "text/plain")
        .body("email=x")
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let missing = answer(app.client.get(app.url("/no/such/route")).send().await.unwrap()).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.body["success"], false);
}

#[tokio::test(flavor = "multi_thread")]
async fn laravel_bcrypt_hashes_still_log_in_and_are_upgraded() {
    let app = spawn_app().await;
    let hash = bcrypt::hash("legacy-pass", 4).unwrap().replacen("$2b$", "$2y$", 1);
    sqlx::query("INSERT INTO users (username, email, password_hash) VALUES ('legacy', 'legacy@example.com', $1)")
        .bind(&hash)
        .execute(&app.state.db)
        .await
        .unwrap();
    let login = app
        .call(
            Method::POST,
            "/auth/login",
            None,
            Some(json!({ "email": "legacy@example.com", "password": "legacy-pass" })),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK);
    let stored: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE username = 'legacy'")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert!(stored.starts_with("$argon2id$"), "{stored}");
}
