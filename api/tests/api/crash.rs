//! The real `spotik-api` binary killed with SIGKILL in the middle of an
//! upload: its partial file is removed when it starts again, while a partial
//! upload another process is still writing is left alone.

use crate::support::*;
use std::path::Path;
use std::time::Duration;

fn partial_uploads(media: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(media.join(".uploads"))
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_process_killed_mid_upload_leaves_nothing_once_restarted() {
    let database = TestDatabase::create();
    let database_url = database.url.clone();
    let media = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut api = ApiProcess::start(&database_url, media.path(), port).await;
    let client = reqwest::Client::new();
    let registered: serde_json::Value = client
        .post(format!("{}/auth/register", api.base))
        .json(&serde_json::json!({ "username": "alice", "email": "alice@example.com", "password": "password123", "password_confirmation": "password123" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = registered["data"]["token"].as_str().unwrap().to_owned();
    let room: serde_json::Value = client
        .post(format!("{}/rooms", api.base))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "name": "Crash" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let room = room["data"]["id"].as_str().unwrap().to_owned();

    // A multipart upload whose body keeps coming, slowly, and never ends.
    let (feed, body) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let boundary = "spotikcrashboundary";
    let upload = client
        .post(format!("{}/rooms/{room}/tracks", api.base))
        .bearer_auth(&token)
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(reqwest::Body::wrap_stream(tokio_stream_of(body)))
        .send();
    let sending = tokio::spawn(upload);
    feed.send(Ok(format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"audio_file\"; filename=\"big.wav\"\r\n\r\n"
    )
    .into_bytes()))
        .await
        .unwrap();
    let wav = long_wav(20.0);
    let mut chunks = wav.chunks(64 * 1024);
    let mut partial = Vec::new();
    for _ in 0..200 {
        if let Some(chunk) = chunks.next() {
            feed.send(Ok(chunk.to_vec())).await.unwrap();
        }
        partial = partial_uploads(media.path());
        if partial.iter().any(|p| std::fs::metadata(p).is_ok_and(|m| m.len() > 0)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(partial.len(), 1, "an upload is being written: {partial:?}");

    api.kill();
    drop(feed);
    let _ = sending.await;
    assert!(partial[0].exists(), "SIGKILL leaves the partial file behind");

    // Another process on this host still writing its upload: locked.
    let live = media.path().join(".uploads/live-upload.part");
    let held = std::fs::File::create(&live).unwrap();
    spotik_api::files::storage::hold(&held).unwrap();

    let _restarted = ApiProcess::start(&database_url, media.path(), free_port()).await;
    assert!(!partial[0].exists(), "the orphan is removed at start-up");
    assert!(live.exists(), "an upload in progress is left alone");
    drop(held);
}

/// The receiving end of a channel as a stream of body chunks.
fn tokio_stream_of(
    mut rx: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
