//! Signed URLs, as nginx's `secure_link` module checks them.

use crate::support::*;
use http::StatusCode;
use spotik_shared::signed_link;
use std::time::{SystemTime, UNIX_EPOCH};

const SECRET: &str = "s3cret";

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

#[tokio::test]
async fn signed_links_are_required_checked_and_expire() {
    let edge = Edge::with(|c| c.signing_secret = Some(SECRET.into())).await;
    let uri = "/audio/tone-1500ms.mp3";
    let valid = signed_link::signed_path(SECRET, uri, now() + 600);
    let reply = edge.get(&valid).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, edge.media.bytes("tone-1500ms.mp3"));

    let expired = signed_link::signed_path(SECRET, uri, now() - 10);
    let forged = signed_link::signed_path("guess", uri, now() + 600);
    let other_file = signed_link::signed_path(SECRET, "/audio/one.mp3", now() + 600).replace("/audio/one.mp3", uri);
    let sig = signed_link::sign(SECRET, uri, now() + 600);
    let cases = [
        (uri.to_owned(), StatusCode::FORBIDDEN),
        (expired, StatusCode::GONE),
        (forged, StatusCode::FORBIDDEN),
        (other_file, StatusCode::FORBIDDEN),
        (format!("{uri}?md5={sig}"), StatusCode::FORBIDDEN),
        (format!("{uri}?md5={sig}&expires=abc"), StatusCode::FORBIDDEN),
        (format!("{uri}?md5={sig}==&expires={}", now() + 600), StatusCode::OK),
        (format!("{uri}?expires={}&md5={sig}", now() + 600), StatusCode::OK),
        (format!("{uri}?md5=!!!!&expires={}", now() + 600), StatusCode::FORBIDDEN),
    ];
    for (path, want) in cases {
        assert_eq!(edge.get(&path).await.status, want, "{path}");
    }
}

#[tokio::test]
async fn the_signature_covers_the_normalised_path() {
    let edge = Edge::with(|c| c.signing_secret = Some(SECRET.into())).await;
    let expires = now() + 600;
    let sig = signed_link::sign(SECRET, "/audio/a b+c%.mp3", expires);
    let reply = edge
        .get(&format!("/audio//a%20b+c%25.mp3?md5={sig}&expires={expires}"))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(&reply.body[..], b"odd name");
}

#[tokio::test]
async fn ping_and_health_need_no_signature() {
    let edge = Edge::with(|c| c.signing_secret = Some(SECRET.into())).await;
    assert_eq!(edge.get("/ping").await.status, StatusCode::OK);
    assert_eq!(edge.get("/health").await.status, StatusCode::OK);
}
