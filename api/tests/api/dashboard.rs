//! The live dashboard as an operator sees it: rendered by a real browser
//! (Debian's `chromium`, headless, driven from here) with the figures of
//! the requests this test made, a screenshot left under
//! `target/screenshots/`; and who may open it.

use crate::support::*;
use crate::ws::NativeClient;
use reqwest::StatusCode;
use std::path::PathBuf;
use std::process::Command;

pub fn chromium(args: &[&str]) -> std::process::Output {
    let profile = tempfile::tempdir().unwrap();
    let output = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .output()
        .expect("chromium is required (apt-get install chromium); deploy/test installs it");
    assert!(
        output.status.success(),
        "chromium: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The text of the element whose opening tag contains `marker`.
fn text_of<'a>(dom: &'a str, marker: &str) -> &'a str {
    let start = dom
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} in the page:\n{dom}"));
    let after = &dom[start..];
    let open = after.find('>').unwrap() + 1;
    let close = after[open..].find('<').unwrap();
    &after[open..open + close]
}

pub fn screenshot_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots/dashboard.png")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_browser_draws_the_live_figures_of_the_api_and_the_edge() {
    let (app, edge) = spawn_app_with_edge().await;
    for _ in 0..37 {
        app.client.get(app.url("/ping")).send().await.unwrap();
    }
    for _ in 0..5 {
        reqwest::get(format!("http://{edge}/ping")).await.unwrap();
    }
    let (alice, _) = app.user("alice").await;
    let _listeners = (
        NativeClient::connect(&app, &alice).await,
        NativeClient::connect(&app, &alice).await,
    );

    let url = format!("http://{}/dashboard?every=500", app.addr);
    // Virtual time runs the page's timers without waiting for them: several polls.
    let dom = chromium(&["--virtual-time-budget=6000", "--dump-dom", &url]);
    let dom = String::from_utf8(dom.stdout).unwrap();
    assert_eq!(
        text_of(&dom, "data-count=\"GET /api/ping\""),
        "37",
        "the ping route's bar"
    );
    let total: u64 = text_of(&dom, "id=\"total-requests\"").replace(',', "").parse().unwrap();
    assert!(total > 37, "every request counted, the dashboard's own too: {total}");
    assert_eq!(text_of(&dom, "id=\"ws-connections\""), "2");
    assert_eq!(text_of(&dom, "id=\"edges-up\""), "1 / 1");
    let edge_requests: u64 = text_of(&dom, "id=\"edge-requests\"").replace(',', "").parse().unwrap();
    assert!(edge_requests >= 5, "{edge_requests}");
    assert!(
        text_of(&dom, "id=\"updated\"").starts_with("live"),
        "the page is polling"
    );
    // Pictures: the rate chart has a drawn line (moves, not one point).
    let chart = &dom[dom.find("id=\"chart-rate\"").unwrap()..];
    let chart = &chart[..chart.find("</svg>").unwrap()];
    assert!(chart.contains("data-series=\"API\"") && chart.contains(" L"), "{chart}");

    let screenshot = screenshot_path();
    std::fs::create_dir_all(screenshot.parent().unwrap()).unwrap();
    let _ = std::fs::remove_file(&screenshot);
    chromium(&[
        "--virtual-time-budget=6000",
        "--window-size=1400,1500",
        &format!("--screenshot={}", screenshot.display()),
        &url,
    ]);
    let png = std::fs::read(&screenshot).expect("the screenshot");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 20_000, "{} bytes", png.len());
    println!("dashboard screenshot: {}", screenshot.display());
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_token_or_a_listed_admin_opens_the_dashboard() {
    let app = spawn_with(Options {
        tweak: |config| {
            config.monitoring.dashboard.open = false;
            config.monitoring.dashboard.token = Some("s3cret-dashboard".into());
            config.monitoring.dashboard.admins = vec!["boss@example.com".into()];
        },
        ..Options::default()
    })
    .await;
    let (boss, _) = app.user("boss").await;
    let (someone, _) = app.user("someone").await;
    // The figures, and the metrics they are made of.
    for path in ["/dashboard/data", "/api/metrics", "/api/metrics/prometheus"] {
        let data = format!("http://{}{path}", app.addr);
        let asked = |token: Option<String>| {
            let mut request = app.client.get(&data);
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            request.send()
        };
        assert_eq!(asked(None).await.unwrap().status(), StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(
            asked(Some("guess".into())).await.unwrap().status(),
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
        assert_eq!(
            asked(Some("s3cret-dashboard".into())).await.unwrap().status(),
            StatusCode::OK,
            "{path}"
        );
        assert_eq!(
            asked(Some(boss.clone())).await.unwrap().status(),
            StatusCode::OK,
            "{path}"
        );
        assert_eq!(
            asked(Some(someone.clone())).await.unwrap().status(),
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    // The page itself holds no figures; it asks for the token.
    let page = app
        .client
        .get(format!("http://{}/dashboard", app.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("script-src 'self'"));

    // Production settings with neither: closed.
    let production = spawn_with(Options {
        tweak: |config| {
            config.monitoring.dashboard = spotik_api::config::DashboardAccess {
                open: false,
                token: None,
                admins: Vec::new(),
            }
        },
        ..Options::default()
    })
    .await;
    for path in [
        "/dashboard",
        "/dashboard/data",
        "/dashboard/dashboard.js",
        "/api/metrics",
        "/api/metrics/prometheus",
    ] {
        let answer = production
            .client
            .get(format!("http://{}{path}", production.addr))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::NOT_FOUND, "{path}");
    }
}

#[test]
fn production_settings_close_the_dashboard_unless_told() {
    let lookup = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
                .or_else(|| match name {
                    "APP_ENV" => Some("production".into()),
                    "JWT_SECRET" | "PUSHER_APP_SECRET" | "EDGE_SIGNING_SECRET" => Some("x".into()),
                    _ => None,
                })
        }
    };
    let config = spotik_api::config::Config::from_lookup(lookup(&[])).unwrap();
    assert!(!config.monitoring.dashboard.open);
    let config = spotik_api::config::Config::from_lookup(lookup(&[("DASHBOARD_TOKEN", "t")])).unwrap();
    assert_eq!(config.monitoring.dashboard.token.as_deref(), Some("t"));
    let development = spotik_api::config::Config::from_lookup(|_| None).unwrap();
    assert!(development.monitoring.dashboard.open);
}

/// The API's docs page says what it may load and may not be framed.
#[tokio::test(flavor = "multi_thread")]
async fn the_docs_page_has_a_policy_and_may_not_be_framed() {
    let app = spawn_app().await;
    let page = app
        .client
        .get(format!("http://{}/api/docs/", app.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let policy = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        policy.contains("frame-ancestors 'none'") && policy.contains("default-src 'none'"),
        "{policy}"
    );
    assert_eq!(page.headers()["x-frame-options"], "DENY");
}
