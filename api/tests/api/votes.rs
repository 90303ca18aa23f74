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
