//! Full bodies, single and multipart ranges, 416, and range abuse.

use crate::support::*;
use http::StatusCode;

const MEDIA_HEADERS: [&str; 9] = [
    "content-type",
    "content-length",
    "accept-ranges",
    "etag",
    "last-modified",
    "cache-control",
    "x-content-type-options",
    "access-control-allow-origin",
    "date",
];

#[tokio::test]
async fn full_get_sends_the_file_with_every_header() {
    let edge = Edge::start().await;
    let reply = edge.get("/audio/tone-1500ms.mp3").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, edge.media.bytes("tone-1500ms.mp3"));
    for name in MEDIA_HEADERS {
        assert!(reply.has(name), "missing {name}: {:?}", reply.headers);
    }
    assert_eq!(reply.header("content-type"), "audio/mpeg");
    assert_eq!(reply.header("content-length"), "25121");
    assert_eq!(reply.header("accept-ranges"), "bytes");
    assert_eq!(reply.header("cache-control"), "public, max-age=3600, immutable");
    assert_eq!(reply.header("x-content-type-options"), "nosniff");
    assert_eq!(
        reply.header("access-control-expose-headers"),
        "Content-Length, Content-Range, Accept-Ranges, ETag"
    );
    assert!(!reply.has("content-range"));
}

#[tokio::test]
async fn content_type_follows_the_extension() {
    let edge = Edge::start().await;
    for (name, mime) in [
        ("tone-1500ms.mp3", "audio/mpeg"),
        ("tone-1500ms.m4a", "audio/mp4"),
        ("tone-1500ms.wav", "audio/wav"),
        ("tone-1500ms.flac", "audio/flac"),
        ("tone-1500ms.ogg", "audio/ogg"),
        ("tone-1500ms.opus", "audio/ogg; codecs=opus"),
    ] {
        let reply = edge.get(&format!("/audio/{name}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{name}");
        assert_eq!(reply.header("content-type"), mime, "{name}");
        assert_eq!(reply.body, edge.media.bytes(name), "{name}");
    }
}

#[tokio::test]
async fn head_has_the_headers_of_get_and_no_body() {
    let edge = Edge::start().await;
    for range in [None, Some("bytes=10-19")] {
        let headers: Vec<(&str, &str)> = range.map(|r| ("range", r)).into_iter().collect();
        let get = edge.get_with("/audio/pattern.mp3", &headers).await;
        let head = edge.request("HEAD", "/audio/pattern.mp3", &headers).await;
        assert_eq!(head.status, get.status);
        assert!(head.body.is_empty());
        for name in [
            "content-length",
            "content-type",
            "etag",
            "last-modified",
            "content-range",
        ] {
            assert_eq!(head.headers.get(name), get.headers.get(name), "{name}");
        }
    }
}

#[tokio::test]
async fn single_ranges_of_every_form_in_every_io_mode() {
    for io in IO_MODES {
        let edge = Edge::with(|c| c.io = io).await;
        for name in ["pattern.mp3", "tone-1500ms.wav"] {
            let file = edge.media.bytes(name);
            let size = file.len();
            let cases = [
                ("bytes=0-1", 0, 2),
                ("bytes=0-", 0, size),
                ("bytes=1000-", 1000, size),
                ("bytes=-500", size - 500, size),
                ("bytes=-99999999", 0, size),
                ("bytes=100-199", 100, 200),
                ("bytes=70000-200000", 70000, 200001.min(size)),
                (&*format!("bytes={}-{}", size - 1, size + 1000), size - 1, size),
            ];
            for (range, start, end) in cases {
                let reply = edge.get_with(&format!("/audio/{name}"), &[("range", range)]).await;
                assert_eq!(reply.status, StatusCode::PARTIAL_CONTENT, "{io:?} {name} {range}");
                assert_eq!(
                    reply.header("content-range"),
                    format!("bytes {start}-{}/{size}", end - 1),
                    "{io:?} {name} {range}"
                );
                assert_eq!(reply.header("content-length"), (end - start).to_string());
                assert!(reply.body == file[start..end], "{io:?} {name} {range}: wrong bytes");
            }
        }
    }
}

#[tokio::test]
async fn whole_large_files_are_byte_exact_in_every_io_mode() {
    for io in IO_MODES {
        let edge = Edge::with(|c| c.io = io).await;
        let reply = edge.get("/audio/pattern.mp3").await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.header("content-length"), PATTERN_LEN.to_string());
        assert!(reply.body == pattern(PATTERN_LEN), "{io:?}: wrong bytes");
    }
}

/// Splits a `multipart/byteranges` body into (headers, data) parts.
fn parts(body: &[u8], boundary: &str) -> Vec<(String, Vec<u8>)> {
    let delimiter = format!("\r\n--{boundary}");
    let text = body;
    let mut out = Vec::new();
    let mut rest = text;
    assert!(rest.starts_with(delimiter.as_bytes()), "body starts with the boundary");
    loop {
        rest = &rest[delimiter.len()..];
        if rest.starts_with(b"--\r\n") {
            assert_eq!(rest.len(), 4, "nothing after the closing boundary");
            return out;
        }
        let head_end = rest.windows(4).position(|w| w == b"\r\n\r\n").expect("part head");
        let head = String::from_utf8(rest[2..head_end].to_vec()).unwrap();
        rest = &rest[head_end + 4..];
        let next = rest
            .windows(delimiter.len())
            .position(|w| w == delimiter.as_bytes())
            .expect("next boundary");
        out.push((head, rest[..next].to_vec()));
        rest = &rest[next..];
    }
}

#[tokio::test]
async fn several_ranges_make_a_multipart_body_in_request_order() {
    for io in IO_MODES {
        let edge = Edge::with(|c| c.io = io).await;
        for name in ["pattern.mp3", "tone-1500ms.mp3"] {
            let file = edge.media.bytes(name);
            let size = file.len();
            let reply = edge
                .get_with(&format!("/audio/{name}"), &[("range", "bytes=500-599, 0-9, -5")])
                .await;
            assert_eq!(reply.status, StatusCode::PARTIAL_CONTENT);
            let content_type = reply.header("content-type");
            let boundary = content_type
                .strip_prefix("multipart/byteranges; boundary=")
                .expect("multipart type");
            assert_eq!(reply.header("content-length"), reply.body.len().to_string());
            let parts = parts(&reply.body, boundary);
            let expected = [(500, 600), (0, 10), (size - 5, size)];
            assert_eq!(parts.len(), 3);
            for ((head, data), (start, end)) in parts.iter().zip(expected) {
                assert!(head.contains("Content-Type: audio/mpeg"), "{head}");
                assert!(
                    head.contains(&format!("Content-Range: bytes {start}-{}/{size}", end - 1)),
                    "{head}"
                );
                assert!(data[..] == file[start..end], "{io:?} {name} part {start}-{end}");
            }
        }
    }
}

#[tokio::test]
async fn unsatisfiable_and_malformed_ranges_are_416_with_the_size() {
    let edge = Edge::start().await;
    for range in [
        "bytes=25121-",
        "bytes=99999-100000",
        "bytes=abc",
        "bytes=500-100",
        "bytes=-0",
        "bytes=--5",
        "bytes=1-2-3",
    ] {
        let reply = edge.get_with("/audio/tone-1500ms.mp3", &[("range", range)]).await;
        assert_eq!(reply.status, StatusCode::RANGE_NOT_SATISFIABLE, "{range}");
        assert_eq!(reply.header("content-range"), "bytes */25121", "{range}");
    }
    let reply = edge.get_with("/audio/empty.mp3", &[("range", "bytes=0-")]).await;
    assert_eq!(reply.status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(reply.header("content-range"), "bytes */0");
}

#[tokio::test]
async fn other_units_are_ignored() {
    let edge = Edge::start().await;
    for range in ["items=0-1", "bytes 0-1", "0-1"] {
        let reply = edge.get_with("/audio/one.mp3", &[("range", range)]).await;
        assert_eq!(reply.status, StatusCode::OK, "{range}");
        assert_eq!(&reply.body[..], b"x");
    }
}

#[tokio::test]
async fn tiny_files_serve_whole_and_by_range() {
    let edge = Edge::start().await;
    let empty = edge.get("/audio/empty.mp3").await;
    assert_eq!(
        (empty.status, empty.header("content-length"), empty.body.len()),
        (StatusCode::OK, "0", 0)
    );
    let one = edge.get_with("/audio/one.mp3", &[("range", "bytes=0-1")]).await;
    assert_eq!(one.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(one.header("content-range"), "bytes 0-0/1");
    assert_eq!(&one.body[..], b"x");
}

#[tokio::test]
async fn range_abuse_gets_the_whole_file_never_more() {
    let edge = Edge::with(|c| c.max_header_bytes = 256 * 1024).await;
    let file = edge.media.bytes("tone-1500ms.mp3");
    let overlapping = "bytes=0-,0-,0-";
    let too_many = format!(
        "bytes={}",
        (0..17)
            .map(|i| format!("{}-{}", i * 10, i * 10))
            .collect::<Vec<_>>()
            .join(",")
    );
    let ten_thousand = format!(
        "bytes={}",
        (0..10_000).map(|i| format!("{i}-{i}")).collect::<Vec<_>>().join(",")
    );
    for range in [overlapping, &too_many, &ten_thousand] {
        let reply = edge.get_with("/audio/tone-1500ms.mp3", &[("range", range)]).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", &range[..range.len().min(40)]);
        assert_eq!(reply.body, file);
    }
    let sixteen = format!(
        "bytes={}",
        (0..16)
            .map(|i| format!("{}-{}", i * 10, i * 10))
            .collect::<Vec<_>>()
            .join(",")
    );
    assert_eq!(
        edge.get_with("/audio/tone-1500ms.mp3", &[("range", &sixteen)])
            .await
            .status,
        StatusCode::PARTIAL_CONTENT
    );
}

#[tokio::test]
async fn player_probes_are_answered() {
    let edge = Edge::start().await;
    let size = PATTERN_LEN;
    let file = pattern(size);
    // Safari's probe, Chrome's opening request, a seek, and an MP4 moov tail read.
    for (range, start, end) in [
        ("bytes=0-1", 0, 2),
        ("bytes=0-", 0, size),
        ("bytes=2000000-", 2_000_000, size),
        ("bytes=-65536", size - 65536, size),
    ] {
        let reply = edge.get_with("/audio/pattern.mp3", &[("range", range)]).await;
        assert_eq!(reply.status, StatusCode::PARTIAL_CONTENT, "{range}");
        assert!(reply.body == file[start..end], "{range}");
    }
}
