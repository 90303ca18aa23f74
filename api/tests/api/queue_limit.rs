//! The room's limit of tracks waiting per listener: set by the
//! administrator only, refused before the file is read, freed as tracks play.

use crate::support::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn a_listener_queues_up_to_the_rooms_limit_and_more_once_one_has_played() {
    let app = spawn_app().await;
    let (admin, _) = app.user("admin").await;
    let (guest, _) = app.user("guest").await;
    let room = app.room(&admin).await;
    app.post(&format!("/rooms/{room}/join"), &guest, json!({})).await;
    let refused = app
        .put(&format!("/rooms/{room}"), &guest, json!({ "queue_limit_per_user": 1 }))
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "the administrator's setting");
    for bad in [json!(0), json!(101), json!("two")] {
        let refused = app
            .put(
                &format!("/rooms/{room}"),
                &admin,
                json!({ "queue_limit_per_user": bad }),
            )
            .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    let set = app
        .put(&format!("/rooms/{room}"), &admin, json!({ "queue_limit_per_user": 1 }))
        .await;
    assert_eq!(set.body["data"]["queue_limit_per_user"], 1);
    // The first plays at once (it does not wait); the second waits; a third is refused.
    for name in ["first.wav", "second.wav"] {
        let added = app.try_upload_bytes(&room, &guest, name, long_wav(30.0)).await.unwrap();
        assert_eq!(added.status, StatusCode::CREATED, "{name}: {:?}", added.body);
    }
    let refused = app
        .try_upload_bytes(&room, &guest, "third.wav", long_wav(30.0))
        .await
        .unwrap();
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{:?}", refused.body);
    assert!(refused.body["message"].as_str().unwrap().contains("limit"));
    // Others have their own share.
    let other = app
        .try_upload_bytes(&room, &admin, "admins.wav", long_wav(30.0))
        .await
        .unwrap();
    assert_eq!(other.status, StatusCode::CREATED);
    // Once the waiting one plays, the listener may add another.
    app.post(&format!("/rooms/{room}/playback/skip"), &admin, json!({}))
        .await;
    let added = app
        .try_upload_bytes(&room, &guest, "third.wav", long_wav(30.0))
        .await
        .unwrap();
    assert_eq!(added.status, StatusCode::CREATED, "{:?}", added.body);
    // Lifted: no limit.
    let lifted = app
        .put(
            &format!("/rooms/{room}"),
            &admin,
            json!({ "queue_limit_per_user": null }),
        )
        .await;
    assert!(lifted.body["data"]["queue_limit_per_user"].is_null());
    let added = app
        .try_upload_bytes(&room, &guest, "fourth.wav", long_wav(30.0))
        .await
        .unwrap();
    assert_eq!(added.status, StatusCode::CREATED);
}
