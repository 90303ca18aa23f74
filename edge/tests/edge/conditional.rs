//! Validators and conditional requests, in RFC 9110 §13.2.2 order.

use crate::support::*;
use http::StatusCode;
use spotik_shared::etag::EtagFormat;
use std::os::unix::fs::MetadataExt;

const FILE: &str = "/audio/tone-1500ms.mp3";

fn date(secs: i64) -> String {
    httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs as u64))
}

struct Known {
    etag: String,
    mtime: i64,
}

async fn known(edge: &Edge) -> Known {
    let meta = std::fs::metadata(edge.media.path("tone-1500ms.mp3")).unwrap();
    let reply = edge.get(FILE).await;
    assert_eq!(reply.header("last-modified"), date(meta.mtime()));
    Known {
        etag: reply.header("etag").to_owned(),
        mtime: meta.mtime(),
    }
}

#[tokio::test]
async fn etag_formats_are_the_documented_ones() {
    let edge = Edge::start().await;
    let meta = std::fs::metadata(edge.media.path("tone-1500ms.mp3")).unwrap();
    let digest = md5_hex(format!("tone-1500ms.mp3{}{}", meta.mtime(), meta.len()).as_bytes());
    assert_eq!(edge.get(FILE).await.header("etag"), format!("\"{digest}\""));

    let nginx = Edge::with(|c| c.etag_format = EtagFormat::Nginx).await;
    let meta = std::fs::metadata(nginx.media.path("tone-1500ms.mp3")).unwrap();
    assert_eq!(
        nginx.get(FILE).await.header("etag"),
        format!("\"{:x}-{:x}\"", meta.mtime(), meta.len())
    );
}

fn md5_hex(input: &[u8]) -> String {
    // An independent computation: the `md5sum` program.
    let mut child = std::process::Command::new("md5sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("md5sum");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap()[..32].to_owned()
}

#[tokio::test]
async fn if_none_match_gives_304_with_validators_and_no_body() {
    let edge = Edge::start().await;
    let k = known(&edge).await;
    let weak = format!("W/{}", k.etag);
    let list = format!("\"other\", {}", k.etag);
    for value in [k.etag.as_str(), weak.as_str(), list.as_str(), "*"] {
        let reply = edge.get_with(FILE, &[("if-none-match", value)]).await;
        assert_eq!(reply.status, StatusCode::NOT_MODIFIED, "{value}");
        assert!(reply.body.is_empty());
        assert_eq!(reply.header("etag"), k.etag);
        assert_eq!(reply.header("last-modified"), date(k.mtime));
        assert!(reply.has("cache-control") && reply.has("date"));
        assert!(!reply.has("content-range"));
    }
    let miss = edge.get_with(FILE, &[("if-none-match", "\"nope\"")]).await;
    assert_eq!(miss.status, StatusCode::OK);
    let head = edge.request("HEAD", FILE, &[("if-none-match", &k.etag)]).await;
    assert_eq!(head.status, StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn if_modified_since_compares_dates_and_yields_to_if_none_match() {
    let edge = Edge::start().await;
    let k = known(&edge).await;
    let cases = [
        (vec![("if-modified-since", date(k.mtime))], StatusCode::NOT_MODIFIED),
        (
            vec![("if-modified-since", date(k.mtime + 3600))],
            StatusCode::NOT_MODIFIED,
        ),
        (vec![("if-modified-since", date(k.mtime - 1))], StatusCode::OK),
        (vec![("if-modified-since", "not a date".into())], StatusCode::OK),
        (
            vec![
                ("if-none-match", "\"other\"".into()),
                ("if-modified-since", date(k.mtime)),
            ],
            StatusCode::OK,
        ),
    ];
    for (headers, want) in cases {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        assert_eq!(edge.get_with(FILE, &headers).await.status, want, "{headers:?}");
    }
}

#[tokio::test]
async fn if_match_and_if_unmodified_since_fail_with_412() {
    let edge = Edge::start().await;
    let k = known(&edge).await;
    let weak = format!("W/{}", k.etag);
    let cases = [
        (vec![("if-match", k.etag.clone())], StatusCode::OK),
        (vec![("if-match", "*".into())], StatusCode::OK),
        (vec![("if-match", format!("\"x\", {}", k.etag))], StatusCode::OK),
        (vec![("if-match", "\"x\"".into())], StatusCode::PRECONDITION_FAILED),
        (vec![("if-match", weak)], StatusCode::PRECONDITION_FAILED),
        (
            vec![("if-unmodified-since", date(k.mtime - 1))],
            StatusCode::PRECONDITION_FAILED,
        ),
        (vec![("if-unmodified-since", date(k.mtime))], StatusCode::OK),
        (vec![("if-unmodified-since", "garbage".into())], StatusCode::OK),
        // If-Match decides before If-None-Match is looked at.
        (
            vec![("if-match", "\"x\"".into()), ("if-none-match", k.etag.clone())],
            StatusCode::PRECONDITION_FAILED,
        ),
        (
            vec![("if-match", k.etag.clone()), ("if-none-match", k.etag.clone())],
            StatusCode::NOT_MODIFIED,
        ),
        // A failed precondition wins over a Range.
        (
            vec![("if-match", "\"x\"".into()), ("range", "bytes=0-1".into())],
            StatusCode::PRECONDITION_FAILED,
        ),
    ];
    for (headers, want) in cases {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        assert_eq!(edge.get_with(FILE, &headers).await.status, want, "{headers:?}");
    }
}

#[tokio::test]
async fn if_range_honours_the_range_only_for_the_current_validator() {
    let edge = Edge::start().await;
    let k = known(&edge).await;
    let weak = format!("W/{}", k.etag);
    let cases = [
        (k.etag.clone(), StatusCode::PARTIAL_CONTENT),
        (date(k.mtime), StatusCode::PARTIAL_CONTENT),
        ("\"stale\"".to_owned(), StatusCode::OK),
        (weak, StatusCode::OK),
        (date(k.mtime - 10), StatusCode::OK),
        ("garbage".to_owned(), StatusCode::OK),
    ];
    for (if_range, want) in cases {
        let reply = edge
            .get_with(FILE, &[("range", "bytes=0-9"), ("if-range", &if_range)])
            .await;
        assert_eq!(reply.status, want, "{if_range}");
        let expected_len = if want == StatusCode::OK { 25121 } else { 10 };
        assert_eq!(reply.body.len(), expected_len);
    }
}

#[tokio::test]
async fn malformed_conditional_headers_are_harmless() {
    let edge = Edge::start().await;
    for (name, value) in [
        ("if-none-match", "\"unterminated"),
        ("if-none-match", ",,,,"),
        ("if-match", "W/"),
        ("if-modified-since", "Mon, 99 Foo 2024 99:99:99 GMT"),
        ("if-range", "\""),
    ] {
        let reply = edge.get_with(FILE, &[(name, value)]).await;
        assert!(
            matches!(reply.status, StatusCode::OK | StatusCode::PRECONDITION_FAILED),
            "{name}: {value} → {}",
            reply.status
        );
    }
    let huge = "\"x\",".repeat(3000);
    assert_eq!(
        edge.get_with(FILE, &[("if-none-match", &huge)]).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_tag_followed_by_garbage_never_matches() {
    let edge = Edge::start().await;
    let Known { etag, mtime } = known(&edge).await;
    for garbage in [
        format!("{etag}x"),
        format!("{etag} x"),
        format!("{etag}{etag}"),
        format!("x, {etag}"),
    ] {
        let fresh = edge.get_with(FILE, &[("if-none-match", &garbage)]).await;
        assert_eq!(fresh.status, StatusCode::OK, "If-None-Match: {garbage}");
        assert_eq!(fresh.body.len(), 25121, "the whole file");
        let guarded = edge.get_with(FILE, &[("if-match", &garbage)]).await;
        assert_eq!(guarded.status, StatusCode::PRECONDITION_FAILED, "If-Match: {garbage}");
        let ranged = edge
            .get_with(FILE, &[("range", "bytes=0-9"), ("if-range", &garbage)])
            .await;
        assert_eq!(ranged.status, StatusCode::OK, "If-Range: {garbage}");
    }
    // A date with garbage after it is not a date: ignored (RFC 9110 §13.1.3).
    let later = format!("{}x", date(mtime + 3600));
    let reply = edge.get_with(FILE, &[("if-modified-since", &later)]).await;
    assert_eq!(reply.status, StatusCode::OK);
    // The well-formed spellings still match.
    let list = format!(" \"other\" ,, {etag} ");
    assert_eq!(
        edge.get_with(FILE, &[("if-none-match", &list)]).await.status,
        StatusCode::NOT_MODIFIED
    );
}
