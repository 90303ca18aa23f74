//! A room that never goes silent, against the real server: when its queue
//! runs dry it plays on from its history or a linked playlist, the longest
//! unheard first (no repeat before everything has played), marked as
//! autofill, and gives way at once to anything a person queues.

use crate::support::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn add(app: &TestApp, room: &str, token: &str, name: &str, seconds: f64) -> String {
    app.upload_bytes(room, token, name, long_wav(seconds)).await.body["track"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn now_playing(app: &TestApp, room: &str, token: &str) -> Value {
    app.get(&format!("/rooms/{room}/playback/status"), token).await.body["data"]["track"].clone()
}

async fn skip(app: &TestApp, room: &str, token: &str) -> Value {
    let answer = app
        .post(&format!("/rooms/{room}/playback/skip"), token, json!({}))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    now_playing(app, room, token).await
}

#[tokio::test]
async fn a_dry_queue_plays_on_from_history_through_everything_before_any_repeat() {
    let app = spawn_app().await;
    let (admin, _) = app.user("admin").await;
    let room = app.room(&admin).await;
    // Three different recordings (different lengths: different files).
    for (name, seconds) in [("a.wav", 30.0), ("b.wav", 31.0), ("c.wav", 32.0)] {
        add(&app, &room, &admin, name, seconds).await;
    }
    skip(&app, &room, &admin).await;
    skip(&app, &room, &admin).await;
    // Off (the default): the dry queue stops.
    assert!(skip(&app, &room, &admin).await.is_null());
    let refused = app
        .put(&format!("/rooms/{room}"), &admin, json!({ "autofill": "radio" }))
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let set = app
        .put(&format!("/rooms/{room}"), &admin, json!({ "autofill": "history" }))
        .await;
    assert_eq!(set.body["data"]["autofill"], "history");
    app.post(
        &format!("/rooms/{room}/tracks/{}/play", first_track(&app, &room).await),
        &admin,
        json!({}),
    )
    .await;
    // a plays again (played by hand); then the dry queue plays the longest
    // unheard first: b, c, a, b, c — never one twice within three.
    let mut heard = Vec::new();
    for _ in 0..5 {
        let track = skip(&app, &room, &admin).await;
        assert_eq!(track["autofill"], true, "{track}");
        heard.push(track["original_name"].as_str().unwrap().to_owned());
    }
    assert_eq!(heard, ["b.wav", "c.wav", "a.wav", "b.wav", "c.wav"]);
    // Copies are deleted once played: the room holds its three and the one playing.
    assert_eq!(app.count("tracks").await, 4);
    let history = app.get(&format!("/rooms/{room}/history?limit=3"), &admin).await.body;
    assert_eq!(history["data"][0]["track_name"], "b.wav");
}

async fn first_track(app: &TestApp, room: &str) -> String {
    sqlx::query_scalar::<_, uuid::Uuid>("SELECT id FROM tracks WHERE room_id = $1::uuid AND original_name = 'a.wav'")
        .bind(room)
        .fetch_one(&app.state.db)
        .await
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn autofill_gives_way_at_once_to_what_a_person_queues() {
    let app = spawn_app().await;
    let (admin, _) = app.user("admin").await;
    let (guest, _) = app.user("guest").await;
    let room = app.room(&admin).await;
    app.post(&format!("/rooms/{room}/join"), &guest, json!({})).await;
    app.put(&format!("/rooms/{room}"), &admin, json!({ "autofill": "history" }))
        .await;
    add(&app, &room, &admin, "old.wav", 30.0).await;
    let filler = skip(&app, &room, &admin).await;
    assert_eq!(
        (filler["original_name"].clone(), filler["autofill"].clone()),
        (json!("old.wav"), json!(true))
    );
    add(&app, &room, &guest, "mine.wav", 31.0).await;
    let playing = now_playing(&app, &room, &admin).await;
    assert_eq!(playing["original_name"], "mine.wav", "the person's track plays at once");
    assert_eq!(playing["autofill"], false);
    let history = app.get(&format!("/rooms/{room}/history?limit=1"), &admin).await.body;
    assert_eq!(
        (
            history["data"][0]["track_name"].clone(),
            history["data"][0]["ending"].clone()
        ),
        (json!("old.wav"), json!("replaced"))
    );
}

#[tokio::test]
async fn a_room_plays_on_from_a_linked_playlist_of_another_rooms_tracks() {
    let app = spawn_app().await;
    let (admin, _) = app.user("admin").await;
    let (stranger, _) = app.user("stranger").await;
    let elsewhere = app.room(&admin).await;
    let track = add(&app, &elsewhere, &admin, "from elsewhere.wav", 30.0).await;
    let playlist = app
        .post("/playlists", &admin, json!({ "name": "Filler", "is_public": false }))
        .await
        .body["data"]["id"]
        .as_i64()
        .unwrap();
    app.post(
        &format!("/playlists/{playlist}/tracks"),
        &admin,
        json!({ "track_id": track }),
    )
    .await;
    let room = app.room(&admin).await;
    // Somebody else's private playlist cannot be linked.
    let theirs = app.room(&stranger).await;
    let refused = app
        .put(
            &format!("/rooms/{theirs}"),
            &stranger,
            json!({ "autofill": "playlist", "autofill_playlist_id": playlist }),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", refused.body);
    let set = app
        .put(
            &format!("/rooms/{room}"),
            &admin,
            json!({ "autofill": "playlist", "autofill_playlist_id": playlist }),
        )
        .await;
    assert_eq!(set.body["data"]["autofill_playlist_id"], playlist);
    add(&app, &room, &admin, "here.wav", 31.0).await;
    let filler = skip(&app, &room, &admin).await;
    assert_eq!(filler["original_name"], "from elsewhere.wav");
    assert_eq!(filler["room_id"], room.as_str(), "a copy in this room");
    assert_eq!(filler["autofill"], true);
}
