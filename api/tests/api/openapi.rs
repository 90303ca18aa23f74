//! The OpenAPI document at `/api/openapi.json` and its page at `/api/docs`,
//! as a client author meets them. (Every answer the other tests see is
//! checked against the document by `TestApp::call`: `openapi_check`.)

use crate::dashboard::chromium;
use crate::support::*;
use serde_json::Value;

/// Each call the front end makes (`frontend/src`), as method and template.
const FRONT_END_CALLS: &[(&str, &str)] = &[
    ("post", "/api/auth/register"),
    ("post", "/api/auth/login"),
    ("post", "/api/auth/refresh"),
    ("post", "/api/auth/logout"),
    ("get", "/api/auth/me"),
    ("get", "/api/rooms"),
    ("post", "/api/rooms"),
    ("get", "/api/rooms/{room}"),
    ("post", "/api/rooms/{room}/join"),
    ("post", "/api/rooms/{room}/leave"),
    ("get", "/api/rooms/{room}/tracks"),
    ("post", "/api/rooms/{room}/tracks"),
    ("delete", "/api/rooms/{room}/tracks/{track}"),
    ("post", "/api/rooms/{room}/tracks/{track}/vote"),
    ("delete", "/api/rooms/{room}/tracks/{track}/vote"),
    ("post", "/api/rooms/{room}/tracks/{track}/play"),
    ("post", "/api/rooms/{room}/playback/pause"),
    ("post", "/api/rooms/{room}/playback/resume"),
    ("post", "/api/rooms/{room}/playback/skip"),
    ("post", "/api/rooms/{room}/playback/stop"),
    ("get", "/api/rooms/{room}/playback/status"),
    ("post", "/api/rooms/{room}/cover"),
    ("get", "/api/genres"),
    ("get", "/api/tracks"),
    ("get", "/api/playlists"),
    ("post", "/api/playlists"),
    ("get", "/api/playlists/{playlist}"),
    ("post", "/api/playlists/{playlist}/tracks"),
    ("delete", "/api/playlists/{playlist}/tracks/{track}"),
    ("post", "/api/broadcasting/auth"),
    ("get", "/api/time"),
];

/// The calls anyone may make without a bearer token: sign-up and sign-in,
/// the health and figures, covers (an `<img>` sends none), the sockets
/// (their token is in the query), Pusher's HTTP API (signed instead), the
/// dashboard (its own token) and the web app's pages and files.
const PUBLIC: &[&str] = &[
    "/api/auth/register",
    "/api/auth/login",
    "/api/ping",
    "/api/health",
    "/api/time",
    "/api/metrics",
    "/api/metrics/prometheus",
    "/api/covers/{name}",
    "/ws",
    "/app/{key}",
    "/apps/{app_id}/events",
    "/apps/{app_id}/batch_events",
    "/apps/{app_id}/channels",
    "/apps/{app_id}/channels/{channel}",
    "/apps/{app_id}/channels/{channel}/users",
    "/dashboard",
    "/dashboard/dashboard.js",
    "/dashboard/data",
    "/",
    "/login",
    "/register",
    "/rooms/{room}",
    "/playlists",
    "/playlists/{playlist}",
    "/search",
    "/genres",
    "/assets/{version}/{name}",
];

/// Every route the server answers, as `(method, path template)`, read from
/// its router the way the document's generator reads it: a goal under path
/// and method filters. `ANY` where a goal has no method filter.
fn routes() -> Vec<(String, String)> {
    fn walk(router: &salvo::Router, base: &str, method: Option<String>, out: &mut Vec<(String, String)>) {
        let mut path = base.to_owned();
        let mut method = method;
        for filter in router.filters() {
            let info = format!("{filter:?}");
            if let Some(segment) = info.strip_prefix("path:") {
                path = format!("{}/{}", path.trim_end_matches('/'), segment.trim_start_matches('/'));
            } else if let Some(verb) = info.strip_prefix("method:") {
                method = Some(verb.to_ascii_lowercase());
            }
        }
        if router.goal.is_some() {
            let template = path.replace("{**", "{").replace("{*", "{");
            let template = if template.is_empty() { "/".to_owned() } else { template };
            out.push((method.clone().unwrap_or_else(|| "ANY".into()), template));
        }
        for child in router.routers() {
            walk(child, &path, method.clone(), out);
        }
    }
    let mut out = Vec::new();
    walk(&spotik_api::router(), "", None, &mut out);
    out
}

/// Each route is an operation of the document, under its own method: a
/// route added with a plain `#[handler]`, or without a method, fails here.
/// (The document's own routes, `/api/openapi.json` and `/api/docs`, are
/// the document.)
#[test]
fn every_route_is_an_operation_of_the_document() {
    let doc = serde_json::to_value(spotik_api::http::openapi::document(&spotik_api::router())).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    let routes = routes();
    assert!(routes.len() > 80, "the router was not read: {routes:?}");
    let mut missing = Vec::new();
    for (method, path) in &routes {
        if path.starts_with("/api/openapi.json") || path.starts_with("/api/docs") {
            continue;
        }
        if paths.get(path).and_then(|item| item.get(method)).is_none() {
            missing.push(format!("{method} {path}"));
        }
    }
    assert!(
        missing.is_empty(),
        "routes missing from the OpenAPI document: {missing:#?}"
    );
}

/// The document as `/api/openapi.json` serves it.
async fn served(app: &TestApp) -> Value {
    let answer = app.client.get(app.url("/openapi.json")).send().await.unwrap();
    answer.json().await.unwrap()
}

#[tokio::test]
async fn the_document_describes_every_call_of_the_front_end_with_its_shapes() {
    let app = spawn_app().await;
    let doc = served(&app).await;
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "{}",
        doc["openapi"]
    );
    assert_eq!(doc["info"]["title"], "Spotik API");
    let paths = doc["paths"].as_object().unwrap();
    for (method, path) in FRONT_END_CALLS {
        let operation = &paths.get(*path).unwrap_or_else(|| panic!("{path} is not described"))[method];
        assert!(operation.is_object(), "{method} {path} is not described");
        let ok = operation["responses"]
            .as_object()
            .unwrap()
            .iter()
            .find(|(status, _)| status.starts_with('2'))
            .unwrap_or_else(|| panic!("{method} {path} has no success"));
        assert!(
            ok.1.pointer("/content/application~1json/schema").is_some(),
            "{method} {path}: its success has no shape"
        );
        if !PUBLIC.contains(path) {
            assert!(
                operation["responses"]["default"].is_object(),
                "{method} {path}: failures not described"
            );
        }
    }
    // Every templated parameter is declared, every route but the public
    // ones asks for the bearer token, and each operation has a unique id.
    let mut ids = std::collections::HashSet::new();
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            let declared: Vec<&str> = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "path")
                .filter_map(|p| p["name"].as_str())
                .collect();
            let templated: Vec<&str> = path
                .split('/')
                .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
                .collect();
            assert_eq!(declared, templated, "{method} {path}");
            let secured = operation["security"].as_array().is_some_and(|s| !s.is_empty());
            assert_eq!(secured, !PUBLIC.contains(&path.as_str()), "{method} {path}: security");
            let id = operation["operationId"].as_str().unwrap();
            assert!(ids.insert(id.to_owned()), "{id} twice");
        }
    }
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    // Names a generator can use: no Rust paths, no `<`.
    for name in doc["components"]["schemas"].as_object().unwrap().keys() {
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)) && !name.contains("spotik"),
            "{name}"
        );
    }
    let room = &doc["components"]["schemas"]["RoomView"];
    assert!(room.to_string().contains("TrackView"), "{room}");
}

/// The binary prints the same document without a database (for generators
/// and for `./deploy/test`'s check against the OpenAPI schema).
#[tokio::test]
async fn the_binary_prints_the_document_it_serves() {
    let app = spawn_app().await;
    let served = served(&app).await;
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_spotik-api"))
        .arg("openapi")
        .env_clear()
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let printed: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(printed, served);
}

/// A real browser opens `/api/docs` and draws the operations from the
/// document, with nothing fetched from outside (the page's scripts are
/// served by the API itself).
#[tokio::test(flavor = "multi_thread")]
async fn a_browser_shows_the_operations_on_the_docs_page() {
    let app = spawn_app().await;
    let page = app.client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        !html.contains("https://"),
        "the page loads something from outside:\n{html}"
    );
    for asset in ["swagger-ui-bundle.js", "swagger-ui.css"] {
        let served = app.client.get(app.url(&format!("/docs/{asset}"))).send().await.unwrap();
        assert_eq!(served.status(), 200, "{asset}");
    }
    let url = app.url("/docs");
    let output = tokio::task::spawn_blocking(move || chromium(&["--virtual-time-budget=10000", "--dump-dom", &url]))
        .await
        .unwrap();
    let dom = String::from_utf8_lossy(&output.stdout);
    for shown in ["Spotik API", "/api/rooms/{room}/tracks/{track}/vote", "TrackView"] {
        assert!(
            dom.contains(shown),
            "the page does not show {shown}:\n{}",
            &dom[..dom.len().min(3000)]
        );
    }
}
