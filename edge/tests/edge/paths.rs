//! Path safety, routing and methods. Hostile paths go over a raw socket,
//! because real clients normalise them before sending.

use crate::support::*;
use http::StatusCode;

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").into_bytes()
}

#[tokio::test]
async fn dot_segments_and_repeated_slashes_are_normalised() {
    let edge = Edge::start().await;
    let file = edge.media.bytes("tone-1500ms.mp3");
    for path in [
        "/audio/./tone-1500ms.mp3",
        "/audio//tone-1500ms.mp3",
        "//audio/tone-1500ms.mp3",
        "/audio/%74one-1500ms.mp3",
    ] {
        let reply = edge.raw(&get(path)).await;
        assert_eq!(reply.status(), Some(200), "{path}");
        assert!(reply.0.ends_with(&file), "{path}");
    }
    let deep = edge.get("/audio/sub/dir/deep.ogg").await;
    assert_eq!(deep.body, pattern(5000));
    let odd = edge.get("/audio/a%20b+c%25.mp3").await;
    assert_eq!(&odd.body[..], b"odd name");
}

#[tokio::test]
async fn traversal_in_every_spelling_is_refused() {
    let edge = Edge::start().await;
    for path in [
        "/audio/../outside/secret.mp3",
        "/audio/%2e%2e/outside/secret.mp3",
        "/audio/%2E%2E%2Foutside%2Fsecret.mp3",
        "/audio/sub/../../outside/secret.mp3",
        "/audio/..%2f..%2fetc%2fpasswd",
        "/audio/..\\outside\\secret.mp3",
        "/audio/%5c..%5coutside%5csecret.mp3",
        "/audio/tone-1500ms.mp3%00.txt",
        "/audio/%",
        "/audio/%zz.mp3",
        "/../../etc/passwd",
    ] {
        let reply = edge.raw(&get(path)).await;
        assert!(matches!(reply.status(), Some(400 | 404)), "{path}: {}", reply.text());
        assert!(
            !reply.text().contains("SECRET"),
            "{path} leaked a file outside the root"
        );
    }
}

#[tokio::test]
async fn symlinks_are_followed_only_inside_the_root() {
    let edge = Edge::start().await;
    let inside = edge.get("/audio/alias.mp3").await;
    assert_eq!(inside.status, StatusCode::OK);
    assert_eq!(inside.body, edge.media.bytes("tone-1500ms.mp3"));
    for path in ["/audio/escape.mp3", "/audio/outlink/secret.mp3"] {
        let reply = edge.get(path).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        assert!(!String::from_utf8_lossy(&reply.body).contains("SECRET"));
    }
}

#[tokio::test]
async fn only_regular_audio_files_that_are_not_hidden_are_served() {
    let edge = Edge::start().await;
    for path in [
        "/audio/folder.mp3",
        "/audio/.hidden.mp3",
        "/audio/notes.txt",
        "/audio/missing.mp3",
        "/audio/sub",
        "/audio/",
        "/audio",
        "/",
        "/elsewhere/tone-1500ms.mp3",
        "/audiotone-1500ms.mp3",
    ] {
        assert_eq!(edge.get(path).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    let txt = Edge::with(|c| c.extensions.push("txt".into())).await;
    let notes = txt.get("/audio/notes.txt").await;
    assert_eq!(
        (notes.status, notes.header("content-type")),
        (StatusCode::OK, "application/octet-stream")
    );
}

#[tokio::test]
async fn the_prefix_is_configurable() {
    let edge = Edge::with(|c| c.prefix = "/media/v1".into()).await;
    assert_eq!(edge.get("/media/v1/one.mp3").await.status, StatusCode::OK);
    assert_eq!(edge.get("/audio/one.mp3").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn other_methods_get_405_with_allow() {
    let edge = Edge::start().await;
    for method in ["POST", "PUT", "DELETE", "PATCH", "PROPFIND"] {
        let reply = edge.request(method, "/audio/tone-1500ms.mp3", &[]).await;
        assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
        assert_eq!(reply.header("allow"), "GET, HEAD, OPTIONS");
    }
    let trace = edge
        .raw(b"TRACE /audio/one.mp3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await;
    assert_eq!(trace.status(), Some(405));
}

#[tokio::test]
async fn options_answers_a_cors_preflight() {
    let edge = Edge::start().await;
    let reply = edge
        .request(
            "OPTIONS",
            "/audio/tone-1500ms.mp3",
            &[
                ("origin", "https://app.example"),
                ("access-control-request-method", "GET"),
                ("access-control-request-headers", "range"),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(reply.header("access-control-allow-origin"), "*");
    assert_eq!(reply.header("access-control-allow-methods"), "GET, HEAD, OPTIONS");
    let allowed = reply.header("access-control-allow-headers").to_ascii_lowercase();
    for name in ["range", "if-none-match", "if-modified-since", "if-range"] {
        assert!(allowed.contains(name), "{name} not allowed: {allowed}");
    }
    let off = Edge::with(|c| c.cors = false).await;
    let plain = off.get("/audio/one.mp3").await;
    assert!(!plain.has("access-control-allow-origin"));
    assert!(!off
        .request("OPTIONS", "/audio/one.mp3", &[])
        .await
        .has("access-control-allow-methods"));
}

#[tokio::test]
async fn metadata_describes_the_file() {
    let edge = Edge::start().await;
    let file = edge.get("/audio/sub/dir/deep.ogg").await;
    let reply = edge.get("/audio/sub/dir/deep.ogg/metadata").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("content-type"), "application/json");
    let json: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(json["filename"], "deep.ogg");
    assert_eq!(json["size"], 5000);
    assert_eq!(json["mime_type"], "audio/ogg");
    assert_eq!(json["etag"], file.header("etag"));
    assert_eq!(json["last_modified"], file.header("last-modified"));
    assert_eq!(
        edge.get("/audio/missing.mp3/metadata").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        edge.get("/audio/notes.txt/metadata").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_file_followed_by_a_slash_is_not_found() {
    let edge = Edge::start().await;
    for path in [
        "/audio/tone-1500ms.mp3/",
        "/audio/tone-1500ms.mp3//",
        "/audio/tone-1500ms.mp3/.",
        "/audio/tone-1500ms.mp3%2F",
        "/audio/sub/dir/deep.ogg/",
    ] {
        let reply = edge.raw(&get(path)).await;
        assert_eq!(reply.status(), Some(404), "{path}");
    }
    assert_eq!(edge.raw(&get("/audio/tone-1500ms.mp3")).await.status(), Some(200));
}

#[tokio::test]
async fn http_1_1_needs_exactly_one_host() {
    let edge = Edge::start().await;
    let without = edge
        .raw(b"GET /audio/tone-1500ms.mp3 HTTP/1.1\r\nConnection: close\r\n\r\n")
        .await;
    assert_eq!(without.status(), Some(400), "no Host");
    let twice = edge
        .raw(b"GET /audio/tone-1500ms.mp3 HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n")
        .await;
    assert_eq!(twice.status(), Some(400), "two Hosts");
    let old = edge.raw(b"GET /audio/tone-1500ms.mp3 HTTP/1.0\r\n\r\n").await;
    assert_eq!(old.status(), Some(200), "HTTP/1.0 may leave it out");
    let absolute = edge
        .raw(b"GET http://x/audio/tone-1500ms.mp3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await;
    assert_eq!(absolute.status(), Some(200));
}

#[tokio::test]
async fn webm_audio_is_served_under_both_extensions() {
    let edge = Edge::start().await;
    for name in ["clip.webm", "clip.weba"] {
        std::fs::write(edge.media.path(name), b"\x1a\x45\xdf\xa3 webm audio").unwrap();
        let reply = edge.get(&format!("/audio/{name}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{name}");
        assert_eq!(reply.header("content-type"), "audio/webm", "{name}");
    }
}
