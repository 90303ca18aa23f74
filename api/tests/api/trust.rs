//! Sessions and memberships are trusted in process for a second at most:
//! a logout, a refresh or a leave is refused at once on the replica that
//! served it and within that second on every other — with the bus between
//! them working, and without it.

use crate::support::*;
use reqwest::StatusCode;
use serde_json::json;
use std::time::{Duration, Instant};

/// The Redis of the machine, and one nobody listens on: no bus at all.
const BUSES: [(&str, &str); 2] = [
    ("with the bus", "redis://127.0.0.1:6379"),
    ("without a bus", "redis://127.0.0.1:1"),
];

/// How long `path` keeps answering something else than `refused` on `app`.
async fn until_refused(app: &TestApp, path: &str, token: &str, refused: StatusCode) -> Duration {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(5) {
        if app.get(path, token).await.status == refused {
            return started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{path} still accepted after 5 s");
}

/// Two replicas over one database, talking over `redis_url` (or not at all).
async fn two_replicas(redis_url: &str) -> (TestApp, TestApp) {
    let here = spawn_with(Options {
        redis_url: redis_url.into(),
        ..Options::default()
    })
    .await;
    let there = replica_of(&here, redis_url).await;
    (here, there)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revoked_token_is_refused_everywhere_within_a_second() {
    for (bus, redis_url) in BUSES {
        let (here, there) = two_replicas(redis_url).await;
        for ending in ["logout", "refresh"] {
            let (token, _) = here.user(&format!("u{}", uuid::Uuid::new_v4().simple())).await;
            // Both replicas have just seen the token, and trust it.
            assert_eq!(here.get("/auth/me", &token).await.status, StatusCode::OK);
            assert_eq!(there.get("/auth/me", &token).await.status, StatusCode::OK);
            let answer = here.post(&format!("/auth/{ending}"), &token, json!({})).await;
            assert_eq!(answer.status, StatusCode::OK, "{bus}: {ending}");
            assert_eq!(
                here.get("/auth/me", &token).await.status,
                StatusCode::UNAUTHORIZED,
                "{bus}: refused at once where the {ending} happened"
            );
            let took = until_refused(&there, "/auth/me", &token, StatusCode::UNAUTHORIZED).await;
            assert!(
                took < Duration::from_millis(1300),
                "{bus}: {ending} reached the other replica after {took:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_participant_who_left_is_refused_everywhere_within_a_second() {
    for (bus, redis_url) in BUSES {
        let (here, there) = two_replicas(redis_url).await;
        let (alice, _) = here.user("alice").await;
        let room = here.room(&alice).await;
        let (bob, _) = here.user("bob").await;
        assert_eq!(
            here.post(&format!("/rooms/{room}/join"), &bob, json!({})).await.status,
            StatusCode::OK
        );
        let status = format!("/rooms/{room}/playback/status");
        // Both replicas have just seen bob take part.
        assert_eq!(here.get(&status, &bob).await.status, StatusCode::OK);
        assert_eq!(there.get(&status, &bob).await.status, StatusCode::OK);
        let left = here.post(&format!("/rooms/{room}/leave"), &bob, json!({})).await;
        assert_eq!(left.status, StatusCode::OK, "{bus}");
        assert_eq!(
            here.get(&status, &bob).await.status,
            StatusCode::FORBIDDEN,
            "{bus}: refused at once where he left"
        );
        let took = until_refused(&there, &status, &bob, StatusCode::FORBIDDEN).await;
        assert!(
            took < Duration::from_millis(1300),
            "{bus}: the leave reached the other replica after {took:?}"
        );
        // The administrator, who stayed, is still let in on both.
        assert_eq!(there.get(&status, &alice).await.status, StatusCode::OK);
    }
}
