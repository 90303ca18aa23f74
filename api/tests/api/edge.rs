//! The whole audio path: the API issues a signed URL for a track and the
//! real spotik-edge, serving the same media directory with the same
//! secret, answers it — whole, by range, revalidated — and refuses it once
//! tampered with.

use crate::support::*;
use reqwest::StatusCode;

#[tokio::test(flavor = "multi_thread")]
async fn the_edge_serves_the_urls_the_api_issues() {
    let (app, edge) = spawn_app_with_edge().await;
    let (alice, _) = app.user("alice").await;
    let room = app.room(&alice).await;
    let audio = long_wav(3.0);
    let track = app.upload_bytes(&room, &alice, "song.wav", audio.clone()).await.body["track"].clone();

    // What <audio src="/api/tracks/{id}/stream?token=…"> follows.
    let stream = app
        .client
        .get(app.url(&format!(
            "/tracks/{}/stream?token={alice}",
            track["id"].as_str().unwrap()
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::FOUND);
    let location = stream.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(&format!("http://{edge}/audio/")), "{location}");
    assert_eq!(
        track["file_url"].as_str().unwrap(),
        location,
        "the track's file_url is the same link"
    );

    let whole = app.client.get(&location).send().await.unwrap();
    assert_eq!(whole.status(), StatusCode::OK);
    assert_eq!(whole.headers()["content-type"], "audio/wav");
    let etag = whole.headers()["etag"].clone();
    assert_eq!(whole.bytes().await.unwrap().as_ref(), audio.as_slice());

    let part = app
        .client
        .get(&location)
        .header("range", "bytes=1000-1999")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        part.headers()["content-range"].to_str().unwrap(),
        format!("bytes 1000-1999/{}", audio.len())
    );
    assert_eq!(part.bytes().await.unwrap().as_ref(), &audio[1000..2000]);
    let suffix = app
        .client
        .get(&location)
        .header("range", "bytes=-44")
        .send()
        .await
        .unwrap();
    assert_eq!(suffix.bytes().await.unwrap().as_ref(), &audio[audio.len() - 44..]);

    let again = app
        .client
        .get(&location)
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

    // Another track's path with this link's signature is refused.
    let tampered = location.replacen("/audio/", "/audio/x", 1);
    assert_eq!(
        app.client.get(&tampered).send().await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    let unsigned = location.split('?').next().unwrap().to_owned();
    assert_eq!(
        app.client.get(&unsigned).send().await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
}

async fn small_file_loads(edge: std::net::SocketAddr) -> u64 {
    let health: serde_json::Value = reqwest::get(format!("http://{edge}/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    health["cache"]["small_files"]["loads"].as_u64().unwrap()
}

/// When a track starts, the API asks the edge for the next one's first
/// range: when that track starts in turn, its listeners find it in the
/// edge's memory instead of all waiting on the disk at once.
#[tokio::test(flavor = "multi_thread")]
async fn when_a_track_starts_the_edge_reads_the_next_one_before_anyone_asks() {
    let (app, edge) = spawn_app_with_edge().await;
    let (alice, _) = app.user("alice").await;
    let room = app.room(&alice).await;
    app.upload(&room, &alice, "tone-1500ms.wav").await; // starts; nothing after it yet
    app.upload(&room, &alice, "tone-1500ms.flac").await;
    let third = app.upload(&room, &alice, "tone-1500ms.ogg").await.body["track"].clone();
    let before = small_file_loads(edge).await;
    // The FLAC starts; the OGG comes after it.
    let skipped = app
        .post(&format!("/rooms/{room}/playback/skip"), &alice, serde_json::json!({}))
        .await;
    assert_eq!(skipped.status, StatusCode::OK);
    let status = app.get(&format!("/rooms/{room}/playback/status"), &alice).await;
    assert_eq!(status.body["data"]["next_track"]["id"], third["id"]);
    let mut loads = before;
    for _ in 0..100 {
        loads = small_file_loads(edge).await;
        if loads > before {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        loads,
        before + 1,
        "the edge read the next track once, unasked by any player"
    );
    let metrics = app.get("/metrics", "").await;
    assert_eq!(
        metrics.body["data"]["warm"]["warmed"], 1,
        "{}",
        metrics.body["data"]["warm"]
    );
    // A listener's request for it is now answered from memory: no new read.
    let url = third["file_url"].as_str().unwrap();
    let answer = app.client.get(url).header("range", "bytes=0-").send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(small_file_loads(edge).await, loads);
}

/// `EDGE_WARM_URLS=none`: nothing is asked of the edge.
#[tokio::test(flavor = "multi_thread")]
async fn the_warm_up_can_be_turned_off() {
    let media = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let edge = spawn_edge(media.path()).await;
    let app = spawn_with(Options {
        media: Some(media),
        edge_url: Some(format!("http://{edge}")),
        tweak: |config| config.edge_warm_urls.clear(),
        ..Options::default()
    })
    .await;
    let (alice, _) = app.user("alice").await;
    let room = app.room(&alice).await;
    for name in ["tone-1500ms.wav", "tone-1500ms.flac", "tone-1500ms.ogg"] {
        app.upload(&room, &alice, name).await;
    }
    app.post(&format!("/rooms/{room}/playback/skip"), &alice, serde_json::json!({}))
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(small_file_loads(edge).await, 0);
    assert_eq!(app.get("/metrics", "").await.body["data"]["warm"]["warmed"], 0);
}
