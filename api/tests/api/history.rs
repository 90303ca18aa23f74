//! The play history: what played, who added it, how far and why it ended,
//! newest first and paged, for members only, bounded per room.

use crate::support::*;
use crate::ws::PATIENCE;
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;

async fn upload(app: &TestApp, room: &str, token: &str, name: &str, seconds: f64) -> String {
    app.upload_bytes(room, token, name, long_wav(seconds)).await.body["track"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn the_history_says_what_played_who_added_it_and_why_it_ended() {
    let app = spawn_app().await;
    let (admin, _) = app.user("admin").await;
    let (guest, guest_id) = app.user("guest").await;
    let (stranger, _) = app.user("stranger").await;
    let room = app.room(&admin).await;
    app.post(&format!("/rooms/{room}/join"), &guest, json!({})).await;
    // Plays at once, and to its end.
    upload(&app, &room, &guest, "short.wav", 1.0).await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while app.count("play_history").await == 0 {
        assert!(tokio::time::Instant::now() < deadline, "the short track never ended");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let skipped = upload(&app, &room, &admin, "skipped.wav", 30.0).await;
    let removed = upload(&app, &room, &admin, "removed.wav", 30.0).await;
    let replaced = upload(&app, &room, &admin, "replaced.wav", 30.0).await;
    let last = upload(&app, &room, &admin, "last.wav", 30.0).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.post(&format!("/rooms/{room}/playback/skip"), &admin, json!({}))
        .await;
    app.delete(&format!("/rooms/{room}/tracks/{removed}"), &admin).await;
    app.post(&format!("/rooms/{room}/tracks/{last}/play"), &admin, json!({}))
        .await;
    app.post(&format!("/rooms/{room}/playback/stop"), &admin, json!({}))
        .await;

    let page = app.get(&format!("/rooms/{room}/history"), &guest).await;
    assert_eq!(page.status, StatusCode::OK, "{:?}", page.body);
    let rows = page.body["data"].as_array().unwrap();
    let endings: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r["track_name"].as_str().unwrap(), r["ending"].as_str().unwrap()))
        .collect();
    assert_eq!(
        endings,
        [
            ("last.wav", "stopped"),
            ("replaced.wav", "replaced"),
            ("removed.wav", "removed"),
            ("skipped.wav", "admin"),
            ("short.wav", "finished"),
        ],
        "newest first"
    );
    let short = &rows[4];
    assert_eq!(short["added_by"], json!({ "id": guest_id, "username": "guest" }));
    assert_eq!(short["played_ms"], short["duration_ms"], "played to its end");
    let cut = &rows[3];
    assert_eq!(cut["track_id"], skipped.as_str());
    assert!(
        cut["played_ms"].as_i64().unwrap() >= 300 && cut["played_ms"].as_i64().unwrap() < 30_000,
        "{cut}"
    );
    assert!(rows[2]["track_id"].is_null(), "a deleted track keeps its name only");
    assert_eq!(rows[1]["track_id"], replaced.as_str());
    assert!(page.body["next_before"].is_null());
    // Paged: two at a time, then the rest.
    let first = app.get(&format!("/rooms/{room}/history?limit=2"), &guest).await.body;
    assert_eq!(first["data"].as_array().unwrap().len(), 2);
    let before = first["next_before"].as_i64().expect("a next page");
    let rest = app
        .get(&format!("/rooms/{room}/history?limit=10&before={before}"), &guest)
        .await
        .body;
    assert_eq!(rest["data"][0]["track_name"], "removed.wav");
    assert_eq!(rest["data"].as_array().unwrap().len(), 3);
    for bad in ["limit=0", "limit=101", "limit=x", "before=-1"] {
        let refused = app.get(&format!("/rooms/{room}/history?{bad}"), &guest).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {:?}",
            refused.body
        );
    }
    let refused = app.get(&format!("/rooms/{room}/history"), &stranger).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_room_keeps_its_newest_two_hundred_rows() {
    let app = spawn_app().await;
    let (admin, _) = app.user("admin").await;
    let room = app.room(&admin).await;
    upload(&app, &room, &admin, "playing.wav", 30.0).await;
    // 250 old rows, as if the room had played for days.
    sqlx::query(
        "INSERT INTO play_history (room_id, track_name, duration_ms, added_by_name, played_ms, ending) \
         SELECT $1::uuid, 'old ' || n, 1000, 'admin', 1000, 'finished' FROM generate_series(1, 250) n",
    )
    .bind(&room)
    .execute(&app.state.db)
    .await
    .unwrap();
    app.post(&format!("/rooms/{room}/playback/skip"), &admin, json!({}))
        .await;
    assert_eq!(app.count("play_history").await, 200);
    let newest = app.get(&format!("/rooms/{room}/history?limit=1"), &admin).await.body;
    assert_eq!(newest["data"][0]["track_name"], "playing.wav");
}
