//! Votes under concurrency, and the queue order they produce.

use crate::support::*;
use reqwest::StatusCode;
use serde_json::json;
use std::sync::Arc;

async fn room_with_two_tracks(app: &TestApp) -> (String, String, String, String) {
    let (alice, _) = app.user("alice").await;
    let room = app.room(&alice).await;
    app.upload(&room, &alice, "tone-1500ms.wav").await; // starts playing
    let a = app.upload(&room, &alice, "tone-1500ms.flac").await.body["track"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let b = app.upload(&room, &alice, "tone-1500ms.ogg").await.body["track"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post(&format!("/rooms/{room}/playback/pause"), &alice, json!({}))
        .await;
    (alice, room, a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_users_voting_at_once_make_a_hundred() {
    let app = Arc::new(spawn_app().await);
    let (_, room, track, _) = room_with_two_tracks(&app).await;
    let mut tokens = Vec::new();
    for i in 0..100 {
        let (token, _) = app.user(&format!("voter{i}")).await;
        app.post(&format!("/rooms/{room}/join"), &token, json!({})).await;
        tokens.push(token);
    }
    let votes = tokens.into_iter().map(|token| {
        let (app, path) = (Arc::clone(&app), format!("/rooms/{room}/tracks/{track}/vote"));
        tokio::spawn(async move { app.post(&path, &token, json!({})).await.status })
    });
    for vote in futures_util::future::join_all(votes).await {
        assert_eq!(vote.unwrap(), StatusCode::OK);
    }
    let score: i32 = sqlx::query_scalar("SELECT vote_score FROM tracks WHERE id = $1::uuid")
        .bind(&track)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(score, 100);
    assert_eq!(app.count("track_votes").await, 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_user_voting_fifty_times_at_once_counts_once() {
    let app = Arc::new(spawn_app().await);
    let (alice, room, track, _) = room_with_two_tracks(&app).await;
    let votes = (0..50).map(|_| {
        let (app, path, token) = (
            Arc::clone(&app),
            format!("/rooms/{room}/tracks/{track}/vote"),
            alice.clone(),
        );
        tokio::spawn(async move { app.post(&path, &token, json!({})).await })
    });
    for vote in futures_util::future::join_all(votes).await {
        let vote = vote.unwrap();
        assert_eq!(vote.status, StatusCode::OK);
        assert_eq!(vote.body["vote_score"], 1);
        assert_eq!(vote.body["user_has_voted"], true);
    }
    let unvote = app.delete(&format!("/rooms/{room}/tracks/{track}/vote"), &alice).await;
    assert_eq!(
        (
            unvote.body["vote_score"].as_i64(),
            unvote.body["user_has_voted"].as_bool()
        ),
        (Some(0), Some(false))
    );
    let again = app.delete(&format!("/rooms/{room}/tracks/{track}/vote"), &alice).await;
    assert_eq!(again.body["vote_score"], 0, "unvoting is idempotent");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_queue_follows_votes_then_age_with_each_users_flags() {
    let app = spawn_app().await;
    let (alice, room, older, newer) = room_with_two_tracks(&app).await;
    let (bob, _) = app.user("bob").await;
    app.post(&format!("/rooms/{room}/join"), &bob, json!({})).await;
    let queue = |token: String| {
        let app = &app;
        let room = room.clone();
        async move { app.get(&format!("/rooms/{room}/tracks"), &token).await.body }
    };
    let before = queue(alice.clone()).await;
    let position =
        |list: &serde_json::Value, id: &str| list["tracks"].as_array().unwrap().iter().position(|t| t["id"] == id);
    assert!(
        position(&before, &older) < position(&before, &newer),
        "equal scores: older first"
    );
    app.post(&format!("/rooms/{room}/tracks/{newer}/vote"), &bob, json!({}))
        .await;
    let for_bob = queue(bob.clone()).await;
    assert_eq!(for_bob["total_count"], 3, "every track, the playing one included");
    assert_eq!(for_bob["tracks"][0]["id"], newer, "the voted track moves up");
    assert_eq!(for_bob["tracks"][0]["user_has_voted"], true);
    assert_eq!(for_bob["tracks"][0]["vote_score"], 1);
    let for_alice = queue(alice.clone()).await;
    assert_eq!(for_alice["tracks"][0]["id"], newer);
    assert_eq!(
        for_alice["tracks"][0]["user_has_voted"], false,
        "flags are per user, not cached per user"
    );
    let (outsider, _) = app.user("outsider").await;
    assert_eq!(
        app.post(&format!("/rooms/{room}/tracks/{newer}/vote"), &outsider, json!({}))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}

/// One step of a visitor's vote sequence: who, on which track, through
/// which room's URL, and whether it is a vote or an unvote.
#[derive(Clone, Debug)]
struct Step {
    voter: usize,
    track: usize,
    through: usize,
    up: bool,
}

/// Issue 19, item 6: votes and unvotes through any room's URL, in any
/// order, never move a score away from the rows it counts.
#[test]
fn any_votes_and_unvotes_through_any_rooms_url_keep_scores_exact() {
    use proptest::prelude::*;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (app, rooms, tracks, voters) = runtime.block_on(async {
        let app = spawn_app().await;
        let (alice, _) = app.user("alice").await;
        let mut rooms = Vec::new();
        let mut tracks = Vec::new();
        for fixtures in [
            ["tone-1500ms.wav", "tone-1500ms.flac"],
            ["tone-1500ms.ogg", "tone-1500ms.mp3"],
        ] {
            let room = app.room(&alice).await;
            for fixture in fixtures {
                let uploaded = app.upload(&room, &alice, fixture).await;
                tracks.push(uploaded.body["track"]["id"].as_str().unwrap().to_owned());
            }
            app.post(&format!("/rooms/{room}/playback/pause"), &alice, json!({}))
                .await;
            rooms.push(room);
        }
        let mut voters = vec![alice];
        for name in ["bob", "carol"] {
            let (token, _) = app.user(name).await;
            for room in &rooms {
                app.post(&format!("/rooms/{room}/join"), &token, json!({})).await;
            }
            voters.push(token);
        }
        (app, rooms, tracks, voters)
    });
    let step = (0..3usize, 0..4usize, 0..2usize, any::<bool>()).prop_map(|(voter, track, through, up)| Step {
        voter,
        track,
        through,
        up,
    });
    let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config::with_cases(24));
    runner
        .run(&proptest::collection::vec(step, 1..30), |steps| {
            runtime.block_on(async {
                for step in &steps {
                    let path = format!("/rooms/{}/tracks/{}/vote", rooms[step.through], tracks[step.track]);
                    let reply = if step.up {
                        app.post(&path, &voters[step.voter], json!({})).await
                    } else {
                        app.delete(&path, &voters[step.voter]).await
                    };
                    let own_room = step.track / 2 == step.through;
                    let expected = if own_room {
                        StatusCode::OK
                    } else {
                        StatusCode::NOT_FOUND
                    };
                    prop_assert_eq!(reply.status, expected, "{:?}: {:?}", step, reply.body);
                }
                let drifted: Vec<(String, i32, i64)> = sqlx::query_as(
                    "SELECT t.id::text, t.vote_score, count(v.user_id) FROM tracks t \
                     LEFT JOIN track_votes v ON v.track_id = t.id GROUP BY t.id \
                     HAVING t.vote_score <> count(v.user_id)",
                )
                .fetch_all(&app.state.db)
                .await
                .unwrap();
                prop_assert!(drifted.is_empty(), "scores apart from their rows: {:?}", drifted);
                Ok(())
            })
        })
        .unwrap();
    runtime.block_on(async move { drop(app) });
}

/// Who voted, earliest first, for members only and only for a track of the
/// room in the URL; an unvote takes the name off.
#[tokio::test]
async fn members_see_who_voted_for_a_track() {
    let app = spawn_app().await;
    let (alice, room, track, other) = room_with_two_tracks(&app).await;
    let (bob, bob_id) = app.user("bob").await;
    let (stranger, _) = app.user("stranger").await;
    app.post(&format!("/rooms/{room}/join"), &bob, json!({})).await;
    let voters = |token: &str, track: &str| {
        let (token, path) = (token.to_owned(), format!("/rooms/{room}/tracks/{track}/votes"));
        let app = &app;
        async move { app.get(&path, &token).await }
    };
    assert_eq!(voters(&alice, &track).await.body["data"], json!([]));
    app.post(&format!("/rooms/{room}/tracks/{track}/vote"), &bob, json!({}))
        .await;
    app.post(&format!("/rooms/{room}/tracks/{track}/vote"), &alice, json!({}))
        .await;
    let listed = voters(&bob, &track).await;
    assert_eq!(listed.status, StatusCode::OK, "{:?}", listed.body);
    let names: Vec<&str> = listed.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bob", "alice"]);
    assert_eq!(listed.body["data"][0]["id"], bob_id.as_str());
    assert!(listed.body["data"][0]["voted_at"].is_string());
    assert_eq!(voters(&alice, &other).await.body["data"], json!([]));

    app.delete(&format!("/rooms/{room}/tracks/{track}/vote"), &bob).await;
    assert_eq!(
        voters(&alice, &track).await.body["data"].as_array().map(Vec::len),
        Some(1)
    );

    assert_eq!(voters(&stranger, &track).await.status, StatusCode::FORBIDDEN);
    // A track of another room, through this room's URL, names nobody.
    let elsewhere = app.room(&stranger).await;
    let foreign = app.upload(&elsewhere, &stranger, "tone-1500ms.wav").await.body["track"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post(
        &format!("/rooms/{elsewhere}/tracks/{foreign}/vote"),
        &stranger,
        json!({}),
    )
    .await;
    assert_eq!(voters(&alice, &foreign).await.body["data"], json!([]));
}
