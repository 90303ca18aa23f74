//! The front end runs on its own origin (`:3000`) and calls the API on
//! `:8000`: CORS for configured origins only, and the same list for pages
//! opening the API's WebSockets.

use crate::support::*;
use crate::ws::*;
use reqwest::Method;

async fn preflight(app: &TestApp, path: &str, origin: &str, method: &str, headers: &str) -> reqwest::Response {
    app.client
        .request(Method::OPTIONS, app.url(path))
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header("access-control-request-headers", headers)
        .send()
        .await
        .unwrap()
}

/// `Register.vue` posts JSON from `http://localhost:3000`: the first call a
/// new user makes, which answered `405` before.
#[tokio::test]
async fn the_front_ends_origin_is_allowed_with_its_headers() {
    let app = spawn_app().await;
    let answer = preflight(
        &app,
        "/auth/register",
        "http://localhost:3000",
        "POST",
        "content-type,authorization",
    )
    .await;
    assert_eq!(answer.status(), 204);
    let h = answer.headers();
    assert_eq!(h["access-control-allow-origin"], "http://localhost:3000");
    let methods = h["access-control-allow-methods"].to_str().unwrap();
    assert!(methods.contains("POST") && methods.contains("DELETE") && methods.contains("PUT"));
    let allowed = h["access-control-allow-headers"].to_str().unwrap().to_ascii_lowercase();
    assert!(allowed.contains("authorization") && allowed.contains("content-type"));
    assert!(h["access-control-max-age"].to_str().unwrap().parse::<u64>().unwrap() >= 600);
    assert!(
        h.get("access-control-allow-credentials").is_none(),
        "tokens are headers, not cookies"
    );
    // Every route, the broadcasting auth endpoint included.
    for path in [
        "/rooms/00000000-0000-0000-0000-000000000000/tracks",
        "/broadcasting/auth",
        "/genres/1",
    ] {
        assert_eq!(
            preflight(&app, path, "http://127.0.0.1:3000", "DELETE", "authorization")
                .await
                .status(),
            204,
            "{path}"
        );
    }
    let registered = app
        .client
        .post(app.url("/auth/register"))
        .header("origin", "http://localhost:3000")
        .json(&serde_json::json!({ "username": "newcomer", "email": "n@example.com", "password": "password123", "password_confirmation": "password123" }))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);
    assert_eq!(
        registered.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );
    assert!(registered.headers()["vary"].to_str().unwrap().contains("Origin"));
    // Errors carry the header too, or the page could not read them.
    let refused = app
        .client
        .get(app.url("/rooms"))
        .header("origin", "http://localhost:3000")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(
        refused.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );
}

/// An origin nobody configured is never reflected.
#[tokio::test]
async fn other_origins_are_not_reflected() {
    let app = spawn_app().await;
    let answer = preflight(&app, "/rooms", "https://evil.example", "GET", "authorization").await;
    assert_eq!(answer.status(), 403);
    assert!(answer.headers().get("access-control-allow-origin").is_none());
    let simple = app
        .client
        .get(app.url("/ping"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        simple.status(),
        200,
        "the request itself is served; the browser hides it"
    );
    assert!(simple.headers().get("access-control-allow-origin").is_none());
}

/// `CORS_ALLOWED_ORIGINS` replaces the development list; `FRONTEND_URL` adds to it.
#[tokio::test]
async fn configured_origins_replace_the_defaults() {
    let app = spawn_with(Options {
        tweak: |config| {
            config.cors_origins = spotik_api::http::cors::AllowedOrigins::parse(["https://spotik.example"]).unwrap();
        },
        ..Options::default()
    })
    .await;
    assert_eq!(
        preflight(&app, "/rooms", "https://spotik.example", "GET", "authorization")
            .await
            .status(),
        204
    );
    assert_eq!(
        preflight(&app, "/rooms", "http://localhost:3000", "GET", "authorization")
            .await
            .status(),
        403
    );
}

/// Browsers let any page open a WebSocket anywhere: `Origin` is checked
/// against the same list (tools that send none are let through).
#[tokio::test]
async fn websockets_refuse_pages_of_other_origins() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let app = spawn_app().await;
    let (token, _) = app.user("alice").await;
    let key = app.state.config.hub.app_key.clone();
    for path in [format!("/ws?token={token}"), format!("/app/{key}?protocol=7")] {
        let url = format!("ws://{}{path}", app.addr);
        let mut request = url.as_str().into_client_request().unwrap();
        request
            .headers_mut()
            .insert("origin", "https://evil.example".parse().unwrap());
        match tokio_tungstenite::connect_async(request).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => assert_eq!(response.status(), 403, "{path}"),
            other => panic!("{path}: expected a refusal, got {:?}", other.map(|_| ())),
        }
        let mut request = url.as_str().into_client_request().unwrap();
        request
            .headers_mut()
            .insert("origin", "http://localhost:3000".parse().unwrap());
        let (mut socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("the front end's origin");
        assert!(next_json(&mut socket, PATIENCE).await.is_some(), "{path}");
    }
}
