//! The Vue front end's calls (FALLENEZER/Spotik, `frontend/src`), one test
//! per call site: each names the file that makes the call and asserts the
//! fields that file reads, over the real server, PostgreSQL and Redis.

use crate::support::*;
use reqwest::Method;
use serde_json::{json, Value};

fn is_whole_number(value: &Value) -> bool {
    value.as_i64().is_some() && value.as_f64().is_some_and(|f| f.fract() == 0.0)
}

/// `stores/auth.js`: login, register, refresh read `data.{user, token,
/// token_type, expires_in}`; `me` reads `data.user`.
#[tokio::test]
async fn stores_auth_js_reads_user_and_token() {
    let app = spawn_app().await;
    let register = app
        .call(
            Method::POST,
            "/auth/register",
            None,
            Some(json!({ "username": "alice", "email": "alice@example.com", "password": "password123", "password_confirmation": "password123" })),
        )
        .await;
    let id = register.body["data"]["user"]["id"].as_str().unwrap().to_owned();
    let token = register.body["data"]["token"].as_str().unwrap().to_owned();
    let login = app
        .call(
            Method::POST,
            "/auth/login",
            None,
            Some(json!({ "email": "alice@example.com", "password": "password123" })),
        )
        .await;
    for reply in [&register, &login] {
        let data = &reply.body["data"];
        assert_eq!(data["user"]["id"], id.as_str());
        assert!(data["token"].is_string() && data["token_type"] == "bearer" && data["expires_in"].is_number());
    }
    let refreshed = app.call(Method::POST, "/auth/refresh", Some(&token), None).await;
    assert!(refreshed.body["data"]["token"].is_string(), "{:?}", refreshed.body);
    let me = app
        .get("/auth/me", refreshed.body["data"]["token"].as_str().unwrap())
        .await;
    assert_eq!(me.body["data"]["user"]["username"], "alice");
}

/// `stores/room.js` `createRoom` sends `name` and `description`
/// (`CreateRoomModal.vue`) and reads `data` with `participants`;
/// `RoomList.vue` and `Dashboard.vue` read the list's `description`,
/// `track_count`, `participant_count`, `is_playing`, `administrator.username`.
#[tokio::test]
async fn room_list_and_create_room_read_description_and_counts() {
    let app = spawn_app().await;
    let (admin, admin_id) = app.user("admin").await;
    let created = app
        .post(
            "/rooms",
            &admin,
            json!({ "name": "Jazz night", "description": "Only the smooth stuff" }),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let room = &created.body["data"];
    assert_eq!(room["description"], "Only the smooth stuff");
    assert_eq!(room["participants"][0]["user_id"], admin_id.as_str());
    let id = room["id"].as_str().unwrap();
    app.upload(id, &admin, "tone-1500ms.mp3").await;
    let listed = app.get("/rooms", &admin).await;
    let entry = &listed.body["data"][0];
    assert_eq!(entry["name"], "Jazz night");
    assert_eq!(entry["description"], "Only the smooth stuff");
    assert_eq!(entry["track_count"], 1);
    assert_eq!(entry["participant_count"], 1);
    assert_eq!(entry["administrator"]["username"], "admin");
    assert!(entry["is_playing"].is_boolean() && entry["created_at"].is_string());
    let too_long = app
        .post("/rooms", &admin, json!({ "name": "x", "description": "d".repeat(501) }))
        .await;
    assert_eq!(too_long.status, 422);
    assert!(too_long.body["errors"]["description"].is_array());
}

/// `Room.vue` and `ParticipantList.vue` (via `stores/room.js`
/// `fetchRoomDetails` and `joinRoom`): the admin badge compares
/// `currentRoom.administrator_id` with each participant's `user_id`
/// (`user.id`), and shows `user.username` and `joined_at`.
#[tokio::test]
async fn room_details_and_join_carry_the_admin_badge_fields() {
    let app = spawn_app().await;
    let (admin, admin_id) = app.user("admin").await;
    let (guest, guest_id) = app.user("guest").await;
    let room = app.room(&admin).await;
    let joined = app.post(&format!("/rooms/{room}/join"), &guest, json!({})).await;
    assert_eq!(joined.status, 200);
    let data = &joined.body["data"];
    assert_eq!(data["participant"]["user_id"], guest_id.as_str());
    assert_eq!(data["room"]["administrator_id"], admin_id.as_str());
    let again = app.post(&format!("/rooms/{room}/join"), &guest, json!({})).await;
    assert_eq!(
        again.status, 200,
        "joining twice is not an error the front end must handle"
    );
    let details = app.get(&format!("/rooms/{room}"), &guest).await.body["data"].clone();
    assert_eq!(details["administrator_id"], admin_id.as_str());
    assert_eq!(details["is_participant"], true);
    // stores/websocket.js tells its own votes and uploads by `currentRoom.user.id`.
    assert_eq!(details["user"]["id"], guest_id.as_str());
    let participants = details["participants"].as_array().unwrap();
    let admin_row = participants.iter().find(|p| p["user_id"] == admin_id.as_str()).unwrap();
    assert_eq!(admin_row["user"]["username"], "admin");
    assert_eq!(admin_row["user"]["id"], admin_id.as_str());
    assert!(admin_row["joined_at"].is_string());
    assert!(
        details["cover_url"].is_null(),
        "no cover yet: Room.vue draws a gradient"
    );
}

/// `stores/track.js` `fetchTrackQueue` reads `tracks` and `user_has_voted`;
/// `TrackQueue.vue` reads `original_name`, a whole-number `duration_seconds`
/// (it prints `seconds % 60`), `file_size_bytes`, `uploader.username`,
/// `created_at`, `vote_score`, `genre.{name,color}`, `cover_url`. Every track
/// of the room is listed, played ones too, so late joiners see the same list.
#[tokio::test]
async fn the_queue_lists_every_track_with_whole_second_durations() {
    let app = spawn_app().await;
    let (admin, _) = app.user("admin").await;
    let (late, _) = app.user("late").await;
    let room = app.room(&admin).await;
    let first = app.upload(&room, &admin, "tone-1500ms.mp3").await.body["track"]["id"].clone();
    let second = app.upload(&room, &admin, "tone-1500ms.wav").await.body["track"]["id"].clone();
    app.post(&format!("/rooms/{room}/playback/skip"), &admin, json!({}))
        .await;
    app.post(&format!("/rooms/{room}/join"), &late, json!({})).await;
    let early = app.get(&format!("/rooms/{room}/tracks"), &admin).await;
    let later = app.get(&format!("/rooms/{room}/tracks"), &late).await;
    let ids = |a: &Answer| -> Vec<Value> {
        a.body["tracks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].clone())
            .collect()
    };
    assert_eq!(ids(&early), ids(&later), "every listener sees the same list");
    assert!(
        ids(&early).contains(&first) && ids(&early).contains(&second),
        "played tracks stay listed"
    );
    assert_eq!(early.body["total_count"], 2);
    for track in early.body["tracks"].as_array().unwrap() {
        assert!(is_whole_number(&track["duration_seconds"]), "{track}");
        assert_eq!(track["duration_seconds"], 2);
        assert_eq!(track["uploader"]["username"], "admin");
        for field in ["original_name", "created_at", "formatted_duration", "file_url"] {
            assert!(track[field].is_string(), "{field} in {track}");
        }
        assert!(track["user_has_voted"].is_boolean() && track["vote_score"].is_number());
        assert!(track["file_size_bytes"].is_number() && track["room_id"].is_string());
    }
    let played = early.body["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == first)
        .unwrap()
        .clone();
    assert!(
        played["played_at"].is_string(),
        "the skipped track is marked played: {played}"
    );
}

/// `FileUpload.vue` → `stores/track.js` `uploadTrack`: multipart
/// `audio_file`, `cover_image`, `genre_id` (a genre of `GET /genres`); reads
/// `track`; on failure shows `errors.audio_file[0]`, else `error`, else
/// `message` — so `error` is a sentence, not a code.
#[tokio::test]
async fn upload_with_cover_and_genre_and_readable_errors() {
    let app = spawn_app().await;
    let (admin, _) = app.user("admin").await;
    let room = app.room(&admin).await;
    let genres = app.get("/genres", &admin).await.body["data"].clone();
    let jazz = genres
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "Jazz")
        .unwrap()
        .clone();
    let uploaded = app
        .upload_form(
            &room,
            &admin,
            ("song.mp3", std::fs::read(fixture("tone-1500ms.mp3")).unwrap()),
            Some(("cover.png", image_fixture("cover.png"))),
            Some(&jazz["id"].to_string()),
        )
        .await;
    assert_eq!(uploaded.status, 201, "{:?}", uploaded.body);
    let track = &uploaded.body["track"];
    assert_eq!(track["genre"]["name"], "Jazz");
    assert_eq!(track["genre"]["color"], jazz["color"]);
    // Absolute: the front end, served from its own origin, loads it as is.
    let cover_url = track["cover_url"].as_str().unwrap();
    let cover = app.client.get(cover_url).send().await.unwrap();
    assert_eq!(cover.status(), 200);
    assert_eq!(
        cover.bytes().await.unwrap().as_ref(),
        image_fixture("cover.png").as_slice()
    );

    let bad_genre = app
        .upload_form(
            &room,
            &admin,
            ("a.mp3", std::fs::read(fixture("tone-1500ms.mp3")).unwrap()),
            None,
            Some("9999"),
        )
        .await;
    assert_eq!(bad_genre.status, 422);
    assert!(bad_genre.body["errors"]["genre_id"][0].is_string());
    let bad_cover = app
        .upload_form(
            &room,
            &admin,
            ("a.mp3", std::fs::read(fixture("tone-1500ms.mp3")).unwrap()),
            Some(("cover.png", b"<html>not an image</html>".to_vec())),
            None,
        )
        .await;
    assert_eq!(bad_cover.status, 422);
    assert!(bad_cover.body["errors"]["cover_image"][0]
        .as_str()
        .unwrap()
        .contains("JPEG, PNG or WebP"));
    let too_large = app.post("/rooms", &admin, json!({ "name": "x".repeat(70_000) })).await;
    assert_eq!(too_large.status, 413);
    let shown = too_large.body["error"].as_str().unwrap();
    assert!(
        shown.contains("too large"),
        "the front end shows `error` first: {shown}"
    );
    assert_eq!(too_large.body["code"], "payload_too_large");
    assert_eq!(app.count("tracks").await, 1, "refused uploads leave no row");
}

/// `stores/track.js` `voteForTrack` reads `vote_score` and `user_has_voted`
/// at the top level, and finds the room in `track.room_id`.
#[tokio::test]
async fn vote_reads_top_level_score() {
    let app = spawn_app().await;
    let (admin, _) = app.user("admin").await;
    let room = app.room(&admin).await;
    let track = app.upload(&room, &admin, "tone-1500ms.mp3").await.body["track"].clone();
    assert_eq!(track["room_id"], room.as_str());
    let path = format!("/rooms/{room}/tracks/{}/vote", track["id"].as_str().unwrap());
    let up = app.post(&path, &admin, json!({})).await;
    assert_eq!(
        (up.body["vote_score"].clone(), up.body["user_has_voted"].clone()),
        (json!(1), json!(true))
    );
    let down = app.delete(&path, &admin).await;
    assert_eq!(
        (down.body["vote_score"].clone(), down.body["user_has_voted"].clone()),
        (json!(0), json!(false))
    );
}

/// `stores/playback.js`: play reads `data.{track_id, started_at}`; pause
/// `data.{paused_at, position}`; resume `data.{resumed_at, position}`; skip
/// `data.{next_track_id, server_time}` (without it the administrator's own
/// player goes blank); stop `data.server_time`; status `data.current_position`.
#[tokio::test]
async fn playback_controls_read_what_the_store_reads() {
    let app = spawn_app().await;
    let (admin, _) = app.user("admin").await;
    let room = app.room(&admin).await;
    let first = app.upload_bytes(&room, &admin, "first.wav", long_wav(30.0)).await.body["track"]["id"].clone();
    let second = app.upload_bytes(&room, &admin, "second.wav", long_wav(30.0)).await.body["track"]["id"].clone();
    let played = app
        .post(
            &format!("/rooms/{room}/tracks/{}/play", first.as_str().unwrap()),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(played.body["data"]["track_id"], first);
    assert!(played.body["data"]["started_at"].is_string());
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let status = app.get(&format!("/rooms/{room}/playback/status"), &admin).await.body["data"].clone();
    let position = status["current_position"].as_f64().unwrap();
    assert!(
        position >= 0.3,
        "current_position is the true position while playing: {status}"
    );
    assert_eq!(status["current_track"]["id"], first);
    let paused = app
        .post(&format!("/rooms/{room}/playback/pause"), &admin, json!({}))
        .await
        .body["data"]
        .clone();
    assert!(
        paused["paused_at"].is_string() && paused["position"].as_f64().unwrap() >= 0.3,
        "{paused}"
    );
    let resumed = app
        .post(&format!("/rooms/{room}/playback/resume"), &admin, json!({}))
        .await
        .body["data"]
        .clone();
    assert!(resumed["resumed_at"].is_string(), "{resumed}");
    assert!(resumed["position"].as_f64().unwrap() >= 0.3);
    let skipped = app
        .post(&format!("/rooms/{room}/playback/skip"), &admin, json!({}))
        .await
        .body["data"]
        .clone();
    assert_eq!(skipped["skipped_track_id"], first, "{skipped}");
    assert_eq!(skipped["next_track_id"], second);
    assert!(skipped["server_time"].is_number());
    let skipped = app
        .post(&format!("/rooms/{room}/playback/skip"), &admin, json!({}))
        .await
        .body["data"]
        .clone();
    assert_eq!(skipped["skipped_track_id"], second);
    assert!(
        skipped["next_track_id"].is_null(),
        "nothing left: the store clears its player"
    );
    app.post(
        &format!("/rooms/{room}/tracks/{}/play", first.as_str().unwrap()),
        &admin,
        json!({}),
    )
    .await;
    let stopped = app
        .post(&format!("/rooms/{room}/playback/stop"), &admin, json!({}))
        .await;
    assert_eq!(stopped.status, 200);
    assert!(stopped.body["data"]["server_time"].is_number());
}

/// `useAudioPlayer.js` syncs its clock with `fetch(VITE_API_URL + '/time')`
/// sending `Cache-Control: no-cache` — from another origin, so preflighted —
/// and reads `timestamp`.
#[tokio::test]
async fn the_clock_sync_passes_cors_and_reads_timestamp() {
    let app = spawn_app().await;
    let preflight = app
        .client
        .request(Method::OPTIONS, app.url("/time"))
        .header("origin", "http://localhost:3000")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "accept,cache-control")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204);
    let allowed = preflight.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(allowed.contains("cache-control"));
    let time = app
        .client
        .get(app.url("/time"))
        .header("origin", "http://localhost:3000")
        .header("cache-control", "no-cache")
        .send()
        .await
        .unwrap();
    assert_eq!(time.headers()["access-control-allow-origin"], "http://localhost:3000");
    let body: Value = time.json().await.unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(body["timestamp"].as_str().unwrap()).is_ok());
}

/// `Dashboard.vue` polls `GET /metrics` and reads
/// `metrics.requests.{total, avg_response_time}`, `metrics.status_codes['200']`
/// and `metrics.routes[route].count`.
#[tokio::test]
async fn the_dashboard_reads_metrics_in_its_shape() {
    let app = spawn_app().await;
    let (token, _) = app.user("alice").await;
    app.get("/rooms", &token).await;
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap();
    let body: Value = metrics.json().await.unwrap();
    let m = &body["metrics"];
    assert!(m["requests"]["total"].as_u64().unwrap() >= 2, "{m}");
    assert!(m["requests"]["avg_response_time"].as_f64().is_some());
    assert!(m["status_codes"]["200"].as_u64().unwrap() >= 1);
    assert!(m["routes"]["GET /api/rooms"]["count"].as_u64().unwrap() >= 1, "{m}");
}

/// `FileUpload.vue` fills its dropdown from `genreApi.getAll()` (`data`,
/// each `id` and `name`); `services/api.js` also has `getPopular`, `create`,
/// `update`, `delete`. Only whoever added a genre may change it; the
/// built-in ones are fixed; one still in use cannot be deleted.
#[tokio::test]
async fn genres_list_popular_and_ownership() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, _) = app.user("bob").await;
    let all = app.get("/genres", &alice).await;
    let names: Vec<&str> = all.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 10);
    assert!(names.contains(&"Hip Hop") && names.windows(2).all(|w| w[0].to_lowercase() <= w[1].to_lowercase()));
    let created = app
        .post("/genres", &alice, json!({ "name": "Synthwave", "color": "#ff00aa" }))
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.body["data"]["id"].as_i64().unwrap();
    assert_eq!(created.body["data"]["is_owner"], true);
    let duplicate = app.post("/genres", &bob, json!({ "name": "synthwave" })).await;
    assert_eq!(duplicate.status, 422);
    assert!(duplicate.body["errors"]["name"].is_array());
    let bad_color = app.post("/genres", &bob, json!({ "name": "X", "color": "red" })).await;
    assert!(bad_color.body["errors"]["color"].is_array());
    let defaulted = app
        .post("/genres", &bob, json!({ "name": "Ambient", "color": null }))
        .await;
    assert_eq!(
        defaulted.body["data"]["color"], "#6366f1",
        "null colour is the default, not a 500"
    );
    assert_eq!(
        app.put(&format!("/genres/{id}"), &bob, json!({ "name": "Mine" }))
            .await
            .status,
        403
    );
    assert_eq!(app.delete(&format!("/genres/{id}"), &bob).await.status, 403);
    let builtin = all.body["data"][0]["id"].as_i64().unwrap();
    assert_eq!(app.delete(&format!("/genres/{builtin}"), &alice).await.status, 403);
    let renamed = app
        .put(&format!("/genres/{id}"), &alice, json!({ "name": "Outrun" }))
        .await;
    assert_eq!(renamed.body["data"]["name"], "Outrun");

    let room = app.room(&alice).await;
    app.upload_form(
        &room,
        &alice,
        ("a.mp3", std::fs::read(fixture("tone-1500ms.mp3")).unwrap()),
        None,
        Some(&id.to_string()),
    )
    .await;
    let popular = app.get("/genres/popular?limit=3", &alice).await;
    assert_eq!(popular.body["data"].as_array().unwrap().len(), 3);
    assert_eq!(popular.body["data"][0]["name"], "Outrun");
    assert_eq!(popular.body["data"][0]["tracks_count"], 1);
    assert_eq!(app.get("/genres/popular?limit=lots", &alice).await.status, 422);
    assert_eq!(
        app.delete(&format!("/genres/{id}"), &alice).await.status,
        409,
        "still in use"
    );
}

/// `stores/playlist.js`, `PlaylistManager.vue`, `AddToPlaylistModal.vue`,
/// `PlaylistDetail.vue`: `getAll` reads `data` (each `is_owner`,
/// `is_public`, `tracks_count`, `total_duration`, `description`,
/// `created_at`); `create`/`update` read `data`; `get` reads `data.tracks`
/// (`original_name`, `duration_seconds`) and `data.creator.username`;
/// `addTrack(id, track_id, position)` and `removeTrack`.
#[tokio::test]
async fn playlists_as_the_pages_read_them() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, _) = app.user("bob").await;
    let room = app.room(&alice).await;
    let one = app.upload(&room, &alice, "tone-1500ms.mp3").await.body["track"]["id"].clone();
    let two = app.upload(&room, &alice, "tone-1500ms.wav").await.body["track"]["id"].clone();
    let created = app
        .post(
            "/playlists",
            &alice,
            json!({ "name": "Road trip", "description": "Loud", "is_public": false }),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.body["data"]["id"].as_i64().unwrap();
    let tracks = format!("/playlists/{id}/tracks");
    assert_eq!(app.post(&tracks, &alice, json!({ "track_id": one })).await.status, 200);
    let added = app
        .post(&tracks, &alice, json!({ "track_id": two, "position": 0 }))
        .await;
    assert_eq!(added.body["data"]["tracks"][0]["id"], two, "inserted at position 0");
    assert_eq!(app.post(&tracks, &alice, json!({ "track_id": one })).await.status, 409);

    let shown = app.get(&format!("/playlists/{id}"), &alice).await.body["data"].clone();
    assert_eq!(shown["creator"]["username"], "alice");
    assert_eq!(shown["tracks"][1]["original_name"], "tone-1500ms.mp3");
    assert_eq!(shown["tracks"][1]["duration_seconds"], 2);
    assert_eq!(shown["tracks_count"], 2);
    assert_eq!(shown["total_duration"], 3);
    assert!(
        shown["tracks"][0].get("file_url").is_none(),
        "no audio URL in a playlist"
    );

    assert_eq!(app.get(&format!("/playlists/{id}"), &bob).await.status, 403, "private");
    let all_for_bob = app.get("/playlists", &bob).await;
    assert_eq!(all_for_bob.body["data"].as_array().unwrap().len(), 0);
    let published = app
        .put(&format!("/playlists/{id}"), &alice, json!({ "is_public": true }))
        .await;
    assert_eq!(published.body["data"]["is_public"], true);
    assert_eq!(
        published.body["data"]["name"], "Road trip",
        "a partial update keeps the rest"
    );
    let listed = app.get("/playlists", &bob).await.body["data"][0].clone();
    assert_eq!(
        (listed["is_owner"].clone(), listed["is_public"].clone()),
        (json!(false), json!(true))
    );
    assert_eq!(listed["tracks_count"], 2);
    assert_eq!(
        app.put(&format!("/playlists/{id}"), &bob, json!({ "name": "Mine" }))
            .await
            .status,
        403
    );

    // Bob cannot file Alice's room's tracks into his playlist: he is not in the room.
    let bobs = app.post("/playlists", &bob, json!({ "name": "Bob's" })).await.body["data"]["id"]
        .as_i64()
        .unwrap();
    let refused = app
        .post(&format!("/playlists/{bobs}/tracks"), &bob, json!({ "track_id": one }))
        .await;
    assert_eq!(refused.status, 422);

    let removed = app.delete(&format!("{tracks}/{}", two.as_str().unwrap()), &alice).await;
    assert_eq!(removed.body["data"]["tracks"][0]["position"], 0, "positions close up");
    assert_eq!(
        app.delete(&format!("{tracks}/{}", two.as_str().unwrap()), &alice)
            .await
            .status,
        404
    );
    assert_eq!(app.delete(&format!("/playlists/{id}"), &alice).await.status, 200);
    assert_eq!(app.get(&format!("/playlists/{id}"), &alice).await.status, 404);
}

/// `TrackSearch.vue` calls `GET /tracks?search=` and reads `data` (each
/// `original_name`, `duration_seconds`). Only tracks of the caller's rooms.
#[tokio::test]
async fn track_search_finds_by_name_within_the_callers_rooms() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (bob, _) = app.user("bob").await;
    let room = app.room(&alice).await;
    app.upload_bytes(&room, &alice, "Blue in Green.wav", long_wav(1.0))
        .await;
    app.upload_bytes(&room, &alice, "So What.wav", long_wav(1.2)).await;
    app.upload_bytes(&room, &alice, "100% Blue_Notes.wav", long_wav(1.4))
        .await;
    let found = app.get("/tracks?search=blue", &alice).await;
    let names: Vec<&str> = found.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["original_name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["100% Blue_Notes.wav", "Blue in Green.wav"],
        "newest first among equal votes"
    );
    assert!(is_whole_number(&found.body["data"][0]["duration_seconds"]));
    let literal = app.get("/tracks?search=100%25", &alice).await;
    assert_eq!(
        literal.body["data"].as_array().unwrap().len(),
        1,
        "% is matched literally"
    );
    let underscore = app.get("/tracks?search=e_N", &alice).await;
    assert_eq!(
        underscore.body["data"].as_array().unwrap().len(),
        1,
        "_ is matched literally"
    );
    let short = app.get("/tracks?search=bl", &alice).await;
    assert_eq!(short.body["data"][0]["original_name"], "Blue in Green.wav");
    assert_eq!(
        short.body["data"].as_array().unwrap().len(),
        1,
        "two characters match the start of a name"
    );
    assert_eq!(
        app.get("/tracks?search=blue", &bob).await.body["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(app.get("/tracks?search=", &alice).await.body["data"], json!([]));
}
