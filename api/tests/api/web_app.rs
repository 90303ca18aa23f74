//! Spotik's own web app: how the binary serves it (the page at its routes,
//! fingerprinted files cached for a year, ETags, gzip, the policy), and the
//! app itself driven through its UI in headless Chromium
//! (`web/tests/app.mjs`) against the real `spotik-api` binary and a real
//! edge: two users, a room, uploads, votes, playback, a late joiner,
//! playlists, search, a reload, errors, the API going away, hostile names.

use crate::support::*;
use reqwest::header;
use std::path::Path;
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

fn assets_of(page: &str) -> Vec<String> {
    page.split(['"', '\''])
        .filter(|part| part.starts_with("/assets/"))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn the_app_is_served_at_its_routes_with_its_files_cached_by_version() {
    let app = spawn_app().await;
    let client = reqwest::Client::new();
    let base = format!("http://{}", app.addr);
    let page = client.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()[header::CACHE_CONTROL], "no-cache");
    let policy = page.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    for rule in [
        "script-src 'self'",
        "frame-ancestors 'none'",
        "default-src 'none'",
        "style-src 'self'",
    ] {
        assert!(policy.contains(rule), "{rule} in {policy}");
    }
    assert!(!policy.contains("unsafe"), "{policy}");
    let etag = page.headers()[header::ETAG].clone();
    let html = page.text().await.unwrap();
    assert!(html.contains("<title>Spotik</title>"));

    // A deep link loads the same page; a path of nobody's is a 404.
    for route in [
        "/login",
        "/register",
        "/rooms/7b0f8a1c-0000-4000-8000-000000000000",
        "/playlists",
        "/playlists/3",
        "/search",
        "/genres",
    ] {
        let answer = client.get(format!("{base}{route}")).send().await.unwrap();
        assert_eq!(answer.status(), 200, "{route}");
        assert_eq!(answer.text().await.unwrap(), html, "{route}");
    }
    for nowhere in ["/nowhere", "/rooms", "/assets/x/src/none.js", "/api/nowhere"] {
        assert_eq!(
            client.get(format!("{base}{nowhere}")).send().await.unwrap().status(),
            404,
            "{nowhere}"
        );
    }

    // Revalidation answers 304 with no body.
    let again = client
        .get(format!("{base}/"))
        .header(header::IF_NONE_MATCH, etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);

    // Every file the page names is served, gzipped when asked, immutable.
    let assets = assets_of(&html);
    assert!(assets.iter().any(|a| a.ends_with("/src/main.js")), "{assets:?}");
    let mut compressed = 0;
    for asset in &assets {
        let plain = reqwest::Client::builder().no_gzip().build().unwrap();
        let answer = plain
            .get(format!("{base}{asset}"))
            .header(header::ACCEPT_ENCODING, "gzip, br")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200, "{asset}");
        assert_eq!(
            answer.headers()[header::CACHE_CONTROL],
            "public, max-age=31536000, immutable"
        );
        assert_eq!(answer.headers()[header::CONTENT_ENCODING], "gzip");
        compressed += answer.bytes().await.unwrap().len();
        let identity = plain.get(format!("{base}{asset}")).send().await.unwrap();
        assert!(identity.headers().get(header::CONTENT_ENCODING).is_none());
    }
    // The weight budget of the first load: ≤ 150 KiB compressed.
    assert!(compressed + html.len() < 150 * 1024, "{compressed} bytes");

    // A page of an earlier release still gets its files, but not for keeps.
    let rest = assets[0].splitn(4, '/').nth(3).unwrap();
    let stale = format!("/assets/0ld/{rest}");
    let answer = client.get(format!("{base}{stale}")).send().await.unwrap();
    assert_eq!(answer.status(), 200, "{stale}");
    assert_eq!(answer.headers()[header::CACHE_CONTROL], "no-cache");
}

#[tokio::test]
async fn people_use_spotik_through_the_web_app_in_chromium() {
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("../web");
    assert!(
        web.join("node_modules/playwright-core").is_dir(),
        "the web app's test tools are not installed: run `npm ci --prefix web` (deploy/test does)"
    );
    let database = TestDatabase::create();
    let media = tempfile::tempdir().unwrap();
    let edge = spawn_edge(media.path()).await;
    let port = free_port();
    let configure = |command: &mut std::process::Command| {
        command
            .env("EDGE_PUBLIC_URL", format!("http://{edge}"))
            .env("EDGE_SIGNING_SECRET", "edge-secret")
            .env("API_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
            // Tokens of a minute: the pages renew theirs while the run goes on.
            .env("JWT_TTL", "1");
    };
    let mut api = Some(ApiProcess::start_with(&database.url, media.path(), port, configure).await);
    let screenshots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
    let mut node = Command::new("node")
        .arg("tests/app.mjs")
        .current_dir(&web)
        .env("BASE", format!("http://127.0.0.1:{port}"))
        .env(
            "COVER",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/images/cover.png"),
        )
        .env("SCREENSHOTS", &screenshots)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node is installed");
    let mut stdin = node.stdin.take().unwrap();
    let mut lines = BufReader::new(node.stdout.take().unwrap()).lines();
    let mut report = Vec::new();
    let run = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            match line.as_str() {
                "ASK stop-api" => {
                    if let Some(mut process) = api.take() {
                        process.kill();
                    }
                }
                "ASK start-api" => {
                    api = Some(ApiProcess::start_with(&database.url, media.path(), port, configure).await);
                }
                _ => {
                    report.push(line);
                    continue;
                }
            }
            stdin.write_all(b"ok\n").await.unwrap();
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(240), run)
        .await
        .expect("the Chromium run finished within 4 minutes");
    let status = node.wait().await.unwrap();
    let report = report.join("\n");
    println!("{report}");
    assert!(status.success() && !report.contains("FAIL"), "{report}");
    assert!(report.matches("PASS").count() >= 30, "{report}");
}
