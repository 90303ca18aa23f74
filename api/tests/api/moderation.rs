//! Moderation against the real server: who may make moderators, mute and
//! ban whom; what a mute stops; a ban that reaches a socket on another
//! replica within a second and keeps its user out; the log moderators read.

use crate::support::*;
use crate::ws::*;
use reqwest::StatusCode;
use serde_json::json;
use std::time::{Duration, Instant};

struct Room {
    id: String,
    admin: String,
    admin_id: String,
    moderator: (String, String),
    listener: (String, String),
    other: (String, String),
}

async fn moderated_room(app: &TestApp) -> Room {
    let (admin, admin_id) = app.user("admin").await;
    let moderator = app.user("moderator").await;
    let listener = app.user("listener").await;
    let other = app.user("other").await;
    let id = app.room(&admin).await;
    for (token, _) in [&moderator, &listener, &other] {
        app.post(&format!("/rooms/{id}/join"), token, json!({})).await;
    }
    let made = app
        .put(&format!("/rooms/{id}/moderators/{}", moderator.1), &admin, json!({}))
        .await;
    assert_eq!(made.status, StatusCode::OK, "{:?}", made.body);
    assert_eq!(made.body["data"]["is_moderator"], true);
    Room {
        id,
        admin,
        admin_id,
        moderator,
        listener,
        other,
    }
}

#[tokio::test]
async fn only_the_administrator_makes_moderators_and_moderators_act_on_listeners_only() {
    let app = spawn_app().await;
    let room = moderated_room(&app).await;
    let (id, admin) = (&room.id, &room.admin);
    // A listener moderates nobody; a moderator makes no moderators.
    let refused = app
        .put(
            &format!("/rooms/{id}/mutes/{}", room.other.1),
            &room.listener.0,
            json!({ "minutes": 5 }),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let refused = app
        .put(
            &format!("/rooms/{id}/moderators/{}", room.listener.1),
            &room.moderator.0,
            json!({}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    // A moderator does not touch the administrator or another moderator.
    let refused = app
        .put(
            &format!("/rooms/{id}/bans/{}", room.admin_id),
            &room.moderator.0,
            json!({}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{:?}", refused.body);
    app.put(&format!("/rooms/{id}/moderators/{}", room.other.1), admin, json!({}))
        .await;
    let refused = app
        .put(
            &format!("/rooms/{id}/mutes/{}", room.other.1),
            &room.moderator.0,
            json!({ "minutes": 5 }),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{:?}", refused.body);
    for minutes in [0, 1441] {
        let refused = app
            .put(
                &format!("/rooms/{id}/mutes/{}", room.listener.1),
                &room.moderator.0,
                json!({ "minutes": minutes }),
            )
            .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{minutes}");
    }
    // The participants list says who moderates.
    let people = app
        .get(&format!("/rooms/{id}/participants"), &room.listener.0)
        .await
        .body;
    let moderators: Vec<_> = people["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["is_moderator"] == true)
        .map(|p| p["username"].as_str().unwrap())
        .collect();
    assert_eq!(moderators, ["moderator", "other"]);
}

#[tokio::test]
async fn a_muted_listener_cannot_queue_chat_or_react_until_unmuted() {
    let app = spawn_app().await;
    let room = moderated_room(&app).await;
    let id = &room.id;
    let listener = &room.listener.0;
    let mut watcher = NativeClient::connect(&app, &room.admin).await;
    watcher.join(id).await;
    let muted = app
        .put(
            &format!("/rooms/{id}/mutes/{}", room.listener.1),
            &room.moderator.0,
            json!({ "minutes": 10 }),
        )
        .await;
    assert_eq!(muted.status, StatusCode::OK, "{:?}", muted.body);
    assert!(muted.body["data"]["muted_until"].is_string());
    let told = watcher.expect("participant_updated").await;
    assert_eq!(told["user"]["user_id"], room.listener.1.as_str());
    let refused = app
        .post(&format!("/rooms/{id}/messages"), listener, json!({ "body": "hi" }))
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{:?}", refused.body);
    assert!(refused.body["message"].as_str().unwrap().contains("muted"));
    let refused = app
        .post(&format!("/rooms/{id}/reactions"), listener, json!({ "emoji": "🔥" }))
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let refused = app
        .try_upload_bytes(id, listener, "tone.wav", long_wav(2.0))
        .await
        .unwrap();
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{:?}", refused.body);
    // Others are not muted; the mute lifted, the listener speaks again.
    assert_eq!(
        app.post(&format!("/rooms/{id}/messages"), &room.other.0, json!({ "body": "hi" }))
            .await
            .status,
        StatusCode::CREATED
    );
    let lifted = app
        .delete(&format!("/rooms/{id}/mutes/{}", room.listener.1), &room.moderator.0)
        .await;
    assert_eq!(lifted.status, StatusCode::OK);
    assert!(lifted.body["data"]["muted_until"].is_null());
    assert_eq!(
        app.post(&format!("/rooms/{id}/messages"), listener, json!({ "body": "back" }))
            .await
            .status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn moderators_remove_any_track_and_delete_any_message_and_the_log_says_so() {
    let app = spawn_app().await;
    let room = moderated_room(&app).await;
    let id = &room.id;
    let track = app
        .upload_bytes(id, &room.listener.0, "loud.wav", long_wav(30.0))
        .await
        .body["track"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let message = app
        .post(
            &format!("/rooms/{id}/messages"),
            &room.listener.0,
            json!({ "body": "buy my stuff" }),
        )
        .await
        .body["data"]["id"]
        .as_i64()
        .unwrap();
    // Another listener may not; a moderator may.
    assert_eq!(
        app.delete(&format!("/rooms/{id}/tracks/{track}"), &room.other.0)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.delete(&format!("/rooms/{id}/messages/{message}"), &room.other.0)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.delete(&format!("/rooms/{id}/tracks/{track}"), &room.moderator.0)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.delete(&format!("/rooms/{id}/messages/{message}"), &room.moderator.0)
            .await
            .status,
        StatusCode::OK
    );
    // The log: moderators and the administrator read it, listeners do not.
    assert_eq!(
        app.get(&format!("/rooms/{id}/moderation-log"), &room.listener.0)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let log = app
        .get(&format!("/rooms/{id}/moderation-log"), &room.moderator.0)
        .await
        .body;
    let lines: Vec<(String, String, String)> = log["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["actor_name"].as_str().unwrap().to_owned(),
                e["action"].as_str().unwrap().to_owned(),
                e["target_name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let line = |a: &str, b: &str, c: &str| (a.to_owned(), b.to_owned(), c.to_owned());
    assert_eq!(
        lines,
        [
            line("moderator", "message_deleted", "a message of listener"),
            line("moderator", "track_removed", "loud.wav"),
            line("admin", "moderator_added", "moderator"),
        ]
    );
    assert_eq!(log["data"][0]["detail"], "buy my stuff");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_banned_listener_on_another_replica_stops_hearing_within_a_second_and_stays_out() {
    let app = spawn_app().await;
    let other = replica_of(&app, "redis://127.0.0.1:6379").await;
    let room = moderated_room(&app).await;
    let id = &room.id;
    let banned = &room.listener.0;
    let mut socket = NativeClient::connect(&other, banned).await;
    socket.join(id).await;
    let mut pusher = PusherClient::connect(&other).await;
    pusher.subscribe(&other, banned, &format!("private-room.{id}")).await;
    let began = Instant::now();
    let answer = app
        .put(
            &format!("/rooms/{id}/bans/{}", room.listener.1),
            &room.moderator.0,
            json!({}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    let left = socket.expect("room_left").await;
    assert!(left["reason"].is_string(), "{left}");
    pusher.expect("pusher:subscription_error").await;
    let took = began.elapsed();
    assert!(
        took < Duration::from_secs(1),
        "the ban reached the other replica after {took:?}"
    );
    // Nothing of the room reaches either socket any more.
    app.post(
        &format!("/rooms/{id}/messages"),
        &room.admin,
        json!({ "body": "after the ban" }),
    )
    .await;
    assert!(
        next_json(&mut socket.socket, Duration::from_millis(400))
            .await
            .is_none(),
        "a banned native socket still hears the room"
    );
    assert!(
        pusher.next(Duration::from_millis(200)).await.is_none(),
        "a banned Pusher socket still hears the room"
    );
    // It cannot join again, subscribe again, or read the room.
    let refused = app.post(&format!("/rooms/{id}/join"), banned, json!({})).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{:?}", refused.body);
    assert!(refused.body["message"].as_str().unwrap().contains("banned"));
    socket.send("join_room", json!({ "room_id": id })).await;
    socket.expect("error").await;
    let auth = pusher.authorize(&other, banned, &format!("private-room.{id}")).await;
    assert_eq!(auth.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.get(&format!("/rooms/{id}/messages"), banned).await.status,
        StatusCode::FORBIDDEN
    );
    // Listed, then let back in.
    let bans = app.get(&format!("/rooms/{id}/bans"), &room.moderator.0).await.body;
    assert_eq!(bans["data"][0]["username"], "listener");
    assert_eq!(
        app.delete(&format!("/rooms/{id}/bans/{}", room.listener.1), &room.moderator.0)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.post(&format!("/rooms/{id}/join"), banned, json!({})).await.status,
        StatusCode::OK
    );
}
