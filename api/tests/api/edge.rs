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
