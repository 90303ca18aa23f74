//! Covers (`Room.vue`'s "Change Cover", `FileUpload.vue`'s cover image):
//! real images only, stored by content, served immutable, removed when
//! unreferenced.

use crate::support::*;
use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};

async fn post_cover(app: &TestApp, room: &str, token: &str, name: &str, bytes: Vec<u8>) -> Answer {
    let form = Form::new().part("cover_image", Part::bytes(bytes).file_name(name.to_owned()));
    let response = app
        .client
        .post(app.url(&format!("/rooms/{room}/cover")))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    answer(response).await
}

fn covers_on_disk(app: &TestApp) -> Vec<std::path::PathBuf> {
    app.media_files()
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("/covers/"))
        .collect()
}

/// `Room.vue` posts `cover_image` and reads `cover_url` at the top level.
#[tokio::test]
async fn real_images_become_the_room_cover_and_are_served_immutable() {
    let app = spawn_app().await;
    let (admin, _) = app.user("admin").await;
    let room = app.room(&admin).await;
    for (name, mime) in [
        ("cover.png", "image/png"),
        ("cover.jpg", "image/jpeg"),
        ("cover-progressive.jpg", "image/jpeg"),
        ("cover.webp", "image/webp"),
        ("cover-lossless.webp", "image/webp"),
    ] {
        let reply = post_cover(&app, &room, &admin, name, image_fixture(name)).await;
        assert_eq!(reply.status, 200, "{name}: {:?}", reply.body);
        let url = reply.body["cover_url"].as_str().unwrap().to_owned();
        assert!(
            url.starts_with(&format!("http://{}/api/covers/", app.addr)),
            "absolute, from API_PUBLIC_URL: {url}"
        );
        assert_eq!(
            app.get(&format!("/rooms/{room}"), &admin).await.body["data"]["cover_url"],
            url.as_str()
        );
        let served = app.client.get(&url).send().await.unwrap();
        assert_eq!(served.status(), 200);
        assert_eq!(served.headers()["content-type"], mime, "{name}");
        assert_eq!(served.headers()["x-content-type-options"], "nosniff");
        assert!(served.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable"));
        let etag = served.headers()["etag"].clone();
        assert_eq!(served.bytes().await.unwrap().as_ref(), image_fixture(name).as_slice());
        let again = app.client.get(&url).header("if-none-match", etag).send().await.unwrap();
        assert_eq!(again.status(), 304);
        // The previous cover is nobody's any more: only this one stays.
        assert_eq!(covers_on_disk(&app).len(), 1, "after {name}");
    }
    let deleted = app.delete(&format!("/rooms/{room}"), &admin).await;
    assert_eq!(deleted.status, 200);
    assert!(covers_on_disk(&app).is_empty(), "a deleted room's cover goes with it");
}

#[tokio::test]
async fn text_truncated_images_and_bombs_are_refused_and_leave_nothing() {
    let app = spawn_app().await;
    let (admin, _) = app.user("admin").await;
    let room = app.room(&admin).await;
    for (name, bytes) in [
        ("renamed.png", image_fixture("text.png")),
        ("truncated.png", image_fixture("truncated.png")),
        ("truncated.jpg", image_fixture("truncated.jpg")),
        ("bomb.png", image_fixture("bomb-20000x20000.png")),
        (
            "page.jpg",
            b"<html><script>alert(document.cookie)</script></html>".to_vec(),
        ),
        ("empty.png", Vec::new()),
    ] {
        let reply = post_cover(&app, &room, &admin, name, bytes).await;
        assert_eq!(reply.status, 422, "{name}: {:?}", reply.body);
        assert!(
            reply.body["errors"]["cover_image"][0].is_string(),
            "{name}: {:?}",
            reply.body
        );
    }
    let bomb = post_cover(&app, &room, &admin, "bomb.png", image_fixture("bomb-20000x20000.png")).await;
    assert!(bomb.body["errors"]["cover_image"][0]
        .as_str()
        .unwrap()
        .contains("20000×20000"));
    assert!(covers_on_disk(&app).is_empty());
    assert!(
        app.media_files()
            .iter()
            .all(|p| !p.to_string_lossy().ends_with(".part")),
        "no temporary file left"
    );
    assert!(app.get(&format!("/rooms/{room}"), &admin).await.body["data"]["cover_url"].is_null());
    // Refused by its announced length: the client may see the answer, or
    // only the connection closing under the rest of its body.
    let form = Form::new().part(
        "cover_image",
        Part::bytes(vec![0u8; 6 * 1024 * 1024]).file_name("huge.png"),
    );
    let huge = app
        .client
        .post(app.url(&format!("/rooms/{room}/cover")))
        .bearer_auth(&admin)
        .header("connection", "close")
        .multipart(form)
        .send()
        .await;
    if let Ok(response) = huge {
        assert_eq!(response.status(), 413);
    }
    assert!(covers_on_disk(&app).is_empty());
}

/// Only the administrator changes a room's cover (the old backend let anyone).
#[tokio::test]
async fn only_the_administrator_changes_the_cover() {
    let app = spawn_app().await;
    let (admin, _) = app.user("admin").await;
    let (guest, _) = app.user("guest").await;
    let room = app.room(&admin).await;
    app.post(&format!("/rooms/{room}/join"), &guest, json!({})).await;
    let refused = post_cover(&app, &room, &guest, "cover.png", image_fixture("cover.png")).await;
    assert_eq!(refused.status, 403);
    assert!(covers_on_disk(&app).is_empty());
    let anonymous = app
        .client
        .post(app.url(&format!("/rooms/{room}/cover")))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(
        app.client
            .get(app.url(&format!("/rooms/{room}/cover/debug")))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

/// `Room.vue`'s fallback after a 422 or 413: `{cover_data: "data:image/…;base64,…"}`.
#[tokio::test]
async fn the_base64_fallback_is_held_to_the_same_checks() {
    use base64::Engine;
    let app = spawn_app().await;
    let (admin, _) = app.user("admin").await;
    let room = app.room(&admin).await;
    let encoded = base64::engine::general_purpose::STANDARD.encode(image_fixture("cover.webp"));
    let reply = app
        .post(
            &format!("/rooms/{room}/cover"),
            &admin,
            json!({ "cover_data": format!("data:image/webp;base64,{encoded}") }),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert!(reply.body["cover_url"].as_str().unwrap().ends_with(".webp"));
    let text = base64::engine::general_purpose::STANDARD.encode(b"<svg onload=alert(1)>");
    let refused = app
        .post(
            &format!("/rooms/{room}/cover"),
            &admin,
            json!({ "cover_data": format!("data:image/png;base64,{text}") }),
        )
        .await;
    assert_eq!(refused.status, 422);
    let malformed = app
        .post(
            &format!("/rooms/{room}/cover"),
            &admin,
            json!({ "cover_data": "hello" }),
        )
        .await;
    assert_eq!(malformed.status, 422);
    let removed = app.delete(&format!("/rooms/{room}/cover"), &admin).await;
    assert_eq!(removed.body["cover_url"], Value::Null);
    assert!(covers_on_disk(&app).is_empty());
}

/// Two tracks with the same cover share one file, which stays until both are gone.
#[tokio::test]
async fn track_covers_are_shared_by_content_and_removed_with_the_last_track() {
    let app = spawn_app().await;
    let (admin, _) = app.user("admin").await;
    let room = app.room(&admin).await;
    let mut ids = Vec::new();
    for name in ["tone-1500ms.mp3", "tone-1500ms.flac"] {
        let reply = app
            .upload_form(
                &room,
                &admin,
                (name, std::fs::read(fixture(name)).unwrap()),
                Some(("art.jpg", image_fixture("cover.jpg"))),
                None,
            )
            .await;
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        ids.push(reply.body["track"]["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(covers_on_disk(&app).len(), 1);
    app.delete(&format!("/rooms/{room}/tracks/{}", ids[0]), &admin).await;
    assert_eq!(covers_on_disk(&app).len(), 1, "still used by the other track");
    app.delete(&format!("/rooms/{room}/tracks/{}", ids[1]), &admin).await;
    assert!(covers_on_disk(&app).is_empty());
    let missing = app
        .client
        .get(app.url(&format!("/covers/{}.png", "ab".repeat(32))))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let traversal = app
        .client
        .get(app.url("/covers/..%2F..%2Fetc%2Fpasswd"))
        .send()
        .await
        .unwrap();
    assert_eq!(traversal.status(), 404);
}
