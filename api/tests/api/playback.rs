//! Playback control, millisecond positions, events, and the server-side advance.

use crate::support::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

async fn playing_room(app: &TestApp) -> (String, String, String) {
    let (alice, _) = app.user("alice").await;
    let room = app.room(&alice).await;
    let track = app.upload(&room, &alice, "tone-1500ms.wav").await.body["track"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    (alice, room, track)
}

fn data(reply: &Answer) -> &Value {
    &reply.body["data"]
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_administrator_controls_playback() {
    let app = spawn_app().await;
    let (_, room, track) = playing_room(&app).await;
    let (bob, _) = app.user("bob").await;
    app.post(&format!("/rooms/{room}/join"), &bob, json!({})).await;
    for path in [
        format!("/rooms/{room}/tracks/{track}/play"),
        format!("/rooms/{room}/playback/pause"),
        format!("/rooms/{room}/playback/resume"),
        format!("/rooms/{room}/playback/skip"),
        format!("/rooms/{room}/playback/stop"),
    ] {
        assert_eq!(
            app.post(&path, &bob, json!({})).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    assert_eq!(
        app.get(&format!("/rooms/{room}/playback/status"), &bob).await.status,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_paused_then_resumed_track_is_exact_to_the_millisecond() {
    let app = spawn_app().await;
    let (alice, room, track) = playing_room(&app).await;
    let played = app
        .post(&format!("/rooms/{room}/tracks/{track}/play"), &alice, json!({}))
        .await;
    assert_eq!(data(&played)["track_id"], track);
    assert!(data(&played)["started_at"].is_string() && data(&played)["server_time"].is_i64());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let paused = app
        .post(&format!("/rooms/{room}/playback/pause"), &alice, json!({}))
        .await;
    let frozen = data(&paused)["position_ms"].as_i64().unwrap();
    assert!(frozen >= 200, "{frozen}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let status = app.get(&format!("/rooms/{room}/playback/status"), &alice).await;
    assert_eq!(
        data(&status)["position_ms"].as_i64().unwrap(),
        frozen,
        "frozen while paused"
    );
    assert_eq!(data(&status)["is_playing"], false);
    assert_eq!(
        app.post(&format!("/rooms/{room}/playback/pause"), &alice, json!({}))
            .await
            .status,
        StatusCode::CONFLICT
    );

    let resumed = app
        .post(&format!("/rooms/{room}/playback/resume"), &alice, json!({}))
        .await;
    let d = data(&resumed);
    // At the answer's server time, exactly the frozen position has been played:
    // the start moved forward by exactly the pause.
    assert_eq!(
        d["server_time"].as_i64().unwrap() - d["started_at_ms"].as_i64().unwrap(),
        d["position_ms"].as_i64().unwrap()
    );
    assert!(
        d["position_ms"].as_i64().unwrap() - frozen < 50,
        "resumed near {frozen}: {}",
        d["position_ms"]
    );
    let started_before = data(&paused)["started_at_ms"].as_i64().unwrap();
    let paused_at = chrono::DateTime::parse_from_rfc3339(data(&paused)["paused_at"].as_str().unwrap())
        .unwrap()
        .timestamp_millis();
    let moved_by = d["started_at_ms"].as_i64().unwrap() - started_before;
    let resumed_at = d["server_time"].as_i64().unwrap() - (d["position_ms"].as_i64().unwrap() - frozen);
    assert_eq!(
        moved_by,
        resumed_at - paused_at,
        "started_at moved forward by the pause, to the ms"
    );
    // Not an identity: the pause lasted at least the 300 ms slept through it.
    assert!((300..5_000).contains(&moved_by), "started_at moved by {moved_by} ms");
    assert_eq!(
        app.post(&format!("/rooms/{room}/playback/resume"), &alice, json!({}))
            .await
            .status,
        StatusCode::CONFLICT
    );
    let legacy = app.get(&format!("/rooms/{room}"), &alice).await;
    assert_eq!(
        legacy.body["data"]["current_playback_position"], 0.0,
        "0 while playing, for the old front end"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pause_or_stop_asked_ahead_names_its_instant_for_every_page() {
    let app = spawn_app().await;
    let (alice, room, track) = playing_room(&app).await;
    let played = app
        .post(&format!("/rooms/{room}/tracks/{track}/play"), &alice, json!({}))
        .await;
    let started = data(&played)["started_at_ms"].as_i64().unwrap();
    let mut events = app.state.events.subscribe();
    let paused = app
        .post(&format!("/rooms/{room}/playback/pause?lead_ms=400"), &alice, json!({}))
        .await;
    assert_eq!(paused.status, StatusCode::OK);
    let d = data(&paused);
    let at = d["paused_at_ms"].as_i64().unwrap();
    let ahead = at - d["server_time"].as_i64().unwrap();
    // The answer is stamped a moment after the pause was decided.
    assert!((300..=400).contains(&ahead), "paused {ahead} ms ahead");
    assert_eq!(d["is_playing"], false, "paused from the answer on");
    assert_eq!(
        d["position_ms"].as_i64().unwrap(),
        at - started,
        "the position at the pause's instant"
    );
    let event = events.try_recv().unwrap();
    assert_eq!(event.name.to_string(), "playback.paused");
    assert_eq!(event.payload["paused_at_ms"], at);
    let status = app.get(&format!("/rooms/{room}/playback/status"), &alice).await;
    assert_eq!(data(&status)["position_ms"].as_i64().unwrap(), at - started);
    assert_eq!(data(&status)["paused_at_ms"], at);

    // A resume inside the lead continues as if never paused.
    let resumed = app
        .post(&format!("/rooms/{room}/playback/resume"), &alice, json!({}))
        .await;
    assert_eq!(data(&resumed)["started_at_ms"], started);

    for wrong in ["0", "1001", "-5", "soon"] {
        let refused = app
            .post(
                &format!("/rooms/{room}/playback/pause?lead_ms={wrong}"),
                &alice,
                json!({}),
            )
            .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "lead_ms={wrong}");
    }
    let refused = app
        .post(&format!("/rooms/{room}/playback/stop?lead_ms=5000"), &alice, json!({}))
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);

    let stopped = app
        .post(&format!("/rooms/{room}/playback/stop?lead_ms=250"), &alice, json!({}))
        .await;
    let d = data(&stopped);
    let ahead = d["stops_at_ms"].as_i64().unwrap() - d["server_time"].as_i64().unwrap();
    assert!((150..=250).contains(&ahead), "stops {ahead} ms ahead");
    assert!(d["track_id"].is_null(), "idle from the answer on");
    // Without a lead, nothing changes for the front ends that never ask.
    app.post(&format!("/rooms/{room}/tracks/{track}/play"), &alice, json!({}))
        .await;
    let paused = app
        .post(&format!("/rooms/{room}/playback/pause"), &alice, json!({}))
        .await;
    let d = data(&paused);
    assert!(d["paused_at_ms"].as_i64().unwrap() <= d["server_time"].as_i64().unwrap());
    let stopped = app
        .post(&format!("/rooms/{room}/playback/stop"), &alice, json!({}))
        .await;
    assert!(data(&stopped).get("stops_at_ms").is_none());

    // Never past the track's end (1.5 s): the end's advance must still come.
    let played = app
        .post(&format!("/rooms/{room}/tracks/{track}/play"), &alice, json!({}))
        .await;
    let started = data(&played)["started_at_ms"].as_i64().unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    let late = app
        .post(&format!("/rooms/{room}/playback/pause?lead_ms=1000"), &alice, json!({}))
        .await;
    let d = data(&late);
    assert_eq!(d["paused_at_ms"].as_i64().unwrap(), started + 1_500, "{d}");
    assert_eq!(d["position_ms"], 1_500);
}

#[tokio::test(flavor = "multi_thread")]
async fn skip_stop_and_their_events_with_sequence_numbers() {
    let app = spawn_app().await;
    let (alice, room, first) = playing_room(&app).await;
    let second = app.upload(&room, &alice, "tone-1500ms.flac").await.body["track"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut events = app.state.events.subscribe();
    let skipped = app
        .post(&format!("/rooms/{room}/playback/skip"), &alice, json!({}))
        .await;
    assert_eq!(skipped.status, StatusCode::OK);
    assert_eq!(data(&skipped)["track_id"], second);
    let names: Vec<(String, i64, Value)> = (0..2)
        .map(|_| events.try_recv().unwrap())
        .map(|e| (e.name.to_string(), e.seq, e.payload.clone()))
        .collect();
    assert_eq!(names[0].0, "track.skipped");
    assert_eq!(names[0].2["previous_track"]["id"], first);
    assert_eq!(names[0].2["next_track"]["id"], second);
    assert_eq!(names[1].0, "playback.started");
    assert_eq!(names[1].1, names[0].1 + 1, "seq grows by one per event");
    for (_, seq, payload) in &names {
        assert_eq!(payload["seq"], *seq);
        assert_eq!(payload["room_id"], room);
        assert!(payload["timestamp"].is_string() && payload["server_time"].is_i64() && payload["position_ms"].is_i64());
    }
    let shown = app.get(&format!("/rooms/{room}"), &alice).await;
    assert_eq!(shown.body["data"]["event_seq"], names[1].1);

    assert_eq!(
        app.post(&format!("/rooms/{room}/playback/stop"), &alice, json!({}))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.post(&format!("/rooms/{room}/playback/skip"), &alice, json!({}))
            .await
            .status,
        StatusCode::CONFLICT,
        "nothing to skip"
    );
    assert_eq!(
        app.post(&format!("/rooms/{room}/playback/stop"), &alice, json!({}))
            .await
            .status,
        StatusCode::CONFLICT
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_track_that_ends_advances_the_room_by_itself_exactly_once_across_replicas() {
    let app = spawn_app().await;
    // A second API process over the same database and media.
    let other = spawn_with(Options {
        database_url: Some(app.database_url.clone()),
        media: Some(app.media.clone()),
        ..Options::default()
    })
    .await;
    let (alice, room, first) = playing_room(&app).await;
    let second = app.upload(&room, &alice, "tone-1500ms.flac").await.body["track"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut here = app.state.events.subscribe();
    let mut there = other.state.events.subscribe();
    // The first track lasts 1.5 s; give both replicas time to race for it.
    tokio::time::sleep(Duration::from_millis(2_300)).await;
    let shown = app.get(&format!("/rooms/{room}"), &alice).await;
    assert_eq!(
        shown.body["data"]["current_track"]["id"], second,
        "advanced to the next track"
    );
    let mut skipped = Vec::new();
    for receiver in [&mut here, &mut there] {
        while let Ok(event) = receiver.try_recv() {
            if event.name.as_str() == "track.skipped" {
                skipped.push(event.payload["previous_track"]["id"].clone());
            }
        }
    }
    assert_eq!(
        skipped,
        vec![Value::String(first.clone())],
        "one advance for the end of the first track"
    );
    let played: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT played_at FROM tracks WHERE id = $1::uuid")
            .bind(&first)
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert!(played.is_some(), "the finished track left the queue");
    // And when the last track ends, the room goes idle.
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    let idle = app.get(&format!("/rooms/{room}"), &alice).await;
    assert_eq!(idle.body["data"]["is_playing"], false);
    assert!(idle.body["data"]["current_track"].is_null());
}

#[tokio::test(flavor = "multi_thread")]
async fn removing_the_playing_track_moves_the_room_on() {
    let app = spawn_app().await;
    let (alice, room, first) = playing_room(&app).await;
    let second = app.upload(&room, &alice, "tone-1500ms.flac").await.body["track"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let removed = app.delete(&format!("/rooms/{room}/tracks/{first}"), &alice).await;
    assert_eq!(removed.status, StatusCode::OK);
    let shown = app.get(&format!("/rooms/{room}"), &alice).await;
    assert_eq!(shown.body["data"]["current_track"]["id"], second);
    assert_eq!(shown.body["data"]["is_playing"], true);
    let removed = app.delete(&format!("/rooms/{room}/tracks/{second}"), &alice).await;
    assert_eq!(removed.status, StatusCode::OK);
    let idle = app.get(&format!("/rooms/{room}"), &alice).await;
    assert!(idle.body["data"]["current_track"].is_null());
    assert_eq!(idle.body["data"]["is_playing"], false, "not playing nothing");
}

#[tokio::test(flavor = "multi_thread")]
async fn reading_a_room_never_waits_behind_a_change_in_progress() {
    let app = spawn_app().await;
    let (alice, room, track) = playing_room(&app).await;
    app.post(&format!("/rooms/{room}/tracks/{track}/play"), &alice, json!({}))
        .await;
    // A change in progress elsewhere: the room's row locked, not yet committed.
    let mut change = app.state.db.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM rooms WHERE id = $1::uuid FOR UPDATE")
        .bind(&room)
        .execute(&mut *change)
        .await
        .unwrap();
    for path in [
        format!("/rooms/{room}/playback/status"),
        format!("/rooms/{room}"),
        format!("/rooms/{room}/tracks"),
    ] {
        let started = std::time::Instant::now();
        let read = tokio::time::timeout(Duration::from_secs(3), app.get(&path, &alice)).await;
        let took = started.elapsed();
        let read = read.unwrap_or_else(|_| panic!("{path} waited for the lock"));
        assert_eq!(read.status, StatusCode::OK, "{path}");
        assert!(took < Duration::from_secs(1), "{path} took {took:?}");
    }
    change.rollback().await.unwrap();
}
