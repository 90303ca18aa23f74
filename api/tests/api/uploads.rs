//! Uploads: real audio accepted with its duration, everything else refused
//! with nothing left behind.

use crate::support::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn every_format_is_accepted_and_stored_by_content() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let room = app.room(&alice).await;
    for (name, mime) in [
        ("tone-1500ms.mp3", "audio/mpeg"),
        ("tone-1500ms.m4a", "audio/mp4"),
        ("tone-1500ms.wav", "audio/wav"),
        ("tone-1500ms.flac", "audio/flac"),
        ("tone-1500ms.ogg", "audio/ogg"),
        ("tone-1500ms.opus", "audio/ogg; codecs=opus"),
    ] {
        let reply = app.upload(&room, &alice, name).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{name}: {}", reply.body);
        let track = &reply.body["track"];
        assert_eq!(track["mime_type"], mime, "{name}");
        assert_eq!(track["original_name"], name);
        let ms = track["duration_ms"].as_i64().unwrap();
        assert!((1_400..=1_650).contains(&ms), "{name}: {ms} ms");
        let url = track["file_url"].as_str().unwrap();
        assert!(
            url.starts_with("http://edge.test/audio/") && url.contains("md5=") && url.contains("expires="),
            "{url}"
        );
        let path = app.media.path().join(
            url.trim_start_matches("http://edge.test/audio/")
                .split('?')
                .next()
                .unwrap(),
        );
        assert_eq!(
            std::fs::read(path).unwrap(),
            std::fs::read(fixture(name)).unwrap(),
            "{name} stored byte for byte"
        );
    }
    // The same content twice shares one file.
    let files = app.media_files().len();
    assert_eq!(
        app.upload(&room, &alice, "tone-1500ms.mp3").await.status,
        StatusCode::CREATED
    );
    assert_eq!(app.media_files().len(), files);
}

#[tokio::test(flavor = "multi_thread")]
async fn fakes_truncations_empty_and_oversized_files_leave_nothing_behind() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let room = app.room(&alice).await;
    for (name, bytes, want) in [
        (
            "fake.mp3",
            std::fs::read(fixture("fake-text.mp3")).unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "truncated.mp3",
            std::fs::read(fixture("truncated.mp3")).unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("empty.mp3", Vec::new(), StatusCode::UNPROCESSABLE_ENTITY),
        ("huge.mp3", vec![0u8; 51 * 1024 * 1024], StatusCode::PAYLOAD_TOO_LARGE),
    ] {
        let refused_before = app.responses_with(want.as_u16()).await;
        match app.try_upload_bytes(&room, &alice, name, bytes).await {
            Ok(reply) => {
                assert_eq!(reply.status, want, "{name}: {}", reply.body);
                assert_eq!(reply.body["success"], false);
                if want == StatusCode::UNPROCESSABLE_ENTITY {
                    assert!(reply.body["errors"]["audio_file"].is_array(), "{name}: {}", reply.body);
                }
            }
            // Refused by its length before the body was read: the client may
            // only see the connection close; the server's count says what it answered.
            Err(_) if want == StatusCode::PAYLOAD_TOO_LARGE => {
                assert_eq!(app.responses_with(413).await, refused_before + 1, "{name}");
            }
            Err(error) => panic!("{name}: {error}"),
        }
        assert!(app.media_files().is_empty(), "{name} left {:?}", app.media_files());
        assert_eq!(app.count("tracks").await, 0, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn only_participants_upload_and_the_first_upload_starts_an_idle_room() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (mallory, _) = app.user("mallory").await;
    let room = app.room(&alice).await;
    assert_eq!(
        app.upload(&room, &mallory, "tone-1500ms.mp3").await.status,
        StatusCode::FORBIDDEN
    );
    let first = app.upload(&room, &alice, "tone-1500ms.wav").await;
    let shown = app.get(&format!("/rooms/{room}"), &alice).await.body["data"].clone();
    assert_eq!(shown["is_playing"], true);
    assert_eq!(shown["current_track"]["id"], first.body["track"]["id"]);
    // Paused, so that the 1.5 s track cannot end before the queue is read.
    app.post(&format!("/rooms/{room}/playback/pause"), &alice, json!({}))
        .await;
    let second = app.upload(&room, &alice, "tone-1500ms.flac").await;
    // The list holds every track of the room, the playing one included.
    let queue = app.get(&format!("/rooms/{room}/tracks"), &alice).await;
    assert_eq!(queue.body["total_count"], 2);
    assert_eq!(queue.body["tracks"][0]["id"], first.body["track"]["id"]);
    assert_eq!(queue.body["tracks"][1]["id"], second.body["track"]["id"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn stream_redirects_to_a_signed_edge_url_with_a_query_token() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let (mallory, _) = app.user("mallory").await;
    let room = app.room(&alice).await;
    let track = app.upload(&room, &alice, "tone-1500ms.mp3").await.body["track"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = app
        .client
        .get(app.url(&format!("/tracks/{track}/stream?token={alice}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    let location = response.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with("http://edge.test/audio/") && location.contains("md5="),
        "{location}"
    );
    let outsider = app
        .client
        .get(app.url(&format!("/tracks/{track}/stream?token={mallory}")))
        .send()
        .await
        .unwrap();
    assert_eq!(outsider.status(), StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oversized_upload_without_a_length_is_stopped_while_streaming() {
    let app = spawn_app().await;
    let (alice, _) = app.user("alice").await;
    let room = app.room(&alice).await;
    // 51 MiB in 1 MiB chunks, sent chunked: no Content-Length to refuse up front.
    let chunks = (0..51).map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![0u8; 1024 * 1024])));
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let form = reqwest::multipart::Form::new().part(
        "audio_file",
        reqwest::multipart::Part::stream(body).file_name("huge.mp3"),
    );
    let response = app
        .client
        .post(app.url(&format!("/rooms/{room}/tracks")))
        .bearer_auth(&alice)
        // Refused mid-body, the connection is closed: not one for the pool.
        .header("connection", "close")
        .multipart(form)
        .send()
        .await;
    // The server may answer and close before the client has sent everything.
    if let Ok(response) = response {
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
    // Whatever the client saw, the server answered 413 (not a 422 after
    // reading it all); its count may land just after the client gave up.
    for _ in 0..250 {
        if app.responses_with(413).await >= 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(app.responses_with(413).await, 1);
    assert_eq!(app.responses_with(422).await, 0);
    assert!(app.media_files().is_empty(), "left {:?}", app.media_files());
    assert_eq!(app.count("tracks").await, 0);
}
