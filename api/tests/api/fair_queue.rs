//! The fair queue against the real server: turns by fewest plays this
//! session, votes within a turn, skips not counted as a turn. (The order
//! itself is checked against an independent model in domain/fair.rs.)

use crate::support::*;
use reqwest::StatusCode;
use serde_json::json;

async fn add(app: &TestApp, room: &str, token: &str, name: &str) -> String {
    app.upload_bytes(room, token, name, long_wav(30.0)).await.body["track"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The waiting tracks' names, in the order the room lists them.
async fn waiting(app: &TestApp, room: &str, token: &str) -> Vec<String> {
    let playing = app.get(&format!("/rooms/{room}/playback/status"), token).await.body["data"]["track_id"].clone();
    app.get(&format!("/rooms/{room}/tracks"), token).await.body["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["id"] != playing && t["played_at"].is_null())
        .map(|t| t["original_name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_fair_room_takes_turns_votes_order_a_turn_and_a_skip_is_no_turn() {
    let app = spawn_app().await;
    let (ann, _) = app.user("ann").await;
    let (bob, _) = app.user("bob").await;
    let (cat, _) = app.user("cat").await;
    let room = app.room(&ann).await;
    for token in [&bob, &cat] {
        app.post(&format!("/rooms/{room}/join"), token, json!({})).await;
    }
    let refused = app
        .put(&format!("/rooms/{room}"), &ann, json!({ "queue_mode": "random" }))
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let set = app
        .put(&format!("/rooms/{room}"), &ann, json!({ "queue_mode": "fair" }))
        .await;
    assert_eq!(set.body["data"]["queue_mode"], "fair");
    add(&app, &room, &ann, "a1.wav").await; // plays at once: ann's turn
    add(&app, &room, &ann, "a2.wav").await;
    let a3 = add(&app, &room, &ann, "a3.wav").await;
    add(&app, &room, &bob, "b1.wav").await;
    add(&app, &room, &cat, "c1.wav").await;
    for token in [&bob, &cat] {
        app.post(&format!("/rooms/{room}/tracks/{a3}/vote"), token, json!({}))
            .await;
    }
    // Bob and Cat have had no turn, Ann one (playing): theirs first, then
    // Ann's, her most voted first. By votes alone a3 would lead.
    assert_eq!(
        waiting(&app, &room, &ann).await,
        ["b1.wav", "c1.wav", "a3.wav", "a2.wav"]
    );
    // Skipped, a1 was no turn: all three are level, and votes decide who
    // goes first — Ann's a3; then Bob and Cat, then Ann again.
    app.post(&format!("/rooms/{room}/playback/skip"), &ann, json!({})).await;
    let playing =
        app.get(&format!("/rooms/{room}/playback/status"), &ann).await.body["data"]["track"]["original_name"].clone();
    assert_eq!(playing, "a3.wav");
    assert_eq!(waiting(&app, &room, &ann).await, ["b1.wav", "c1.wav", "a2.wav"]);
    // Played to its end, a turn counts: when a3 ends, Bob plays.
    sqlx::query("UPDATE rooms SET playback_started_at = now() - interval '31 seconds' WHERE id = $1::uuid")
        .bind(&room)
        .execute(&app.state.db)
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + crate::ws::PATIENCE;
    loop {
        let now = app.get(&format!("/rooms/{room}/playback/status"), &ann).await.body["data"]["track"]["original_name"]
            .clone();
        if now == "b1.wav" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "still {now}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(waiting(&app, &room, &ann).await, ["c1.wav", "a2.wav"]);
    // By votes again: the queue as the original backend ordered it.
    app.put(&format!("/rooms/{room}"), &ann, json!({ "queue_mode": "votes" }))
        .await;
    add(&app, &room, &cat, "c2.wav").await;
    assert_eq!(waiting(&app, &room, &ann).await, ["a2.wav", "c1.wav", "c2.wav"]);
}
