//! A room's chat and reactions against the real server: what a message
//! may hold, who reads and deletes, what everyone in the room sees at
//! once, how fast one listener may send, and how much a room keeps.

use crate::support::*;
use crate::ws::*;
use reqwest::StatusCode;
use serde_json::json;

async fn say(app: &TestApp, token: &str, room: &str, body: &str) -> crate::support::Answer {
    app.post(&format!("/rooms/{room}/messages"), token, json!({ "body": body }))
        .await
}

#[tokio::test]
async fn participants_chat_and_everyone_in_the_room_sees_it_at_once() {
    let app = spawn_app().await;
    let (admin, _) = app.user("admin").await;
    let (guest, guest_id) = app.user("guest").await;
    let (stranger, _) = app.user("stranger").await;
    let room = app.room(&admin).await;
    app.post(&format!("/rooms/{room}/join"), &guest, json!({})).await;
    let mut native = NativeClient::connect(&app, &admin).await;
    native.join(&room).await;
    let mut pusher = PusherClient::connect(&app).await;
    pusher.subscribe(&app, &admin, &format!("private-room.{room}")).await;

    let sent = say(&app, &guest, &room, "  hello, room  ").await;
    assert_eq!(sent.status, StatusCode::CREATED, "{:?}", sent.body);
    assert_eq!(sent.body["data"]["body"], "hello, room", "trimmed");
    assert_eq!(sent.body["data"]["user_id"], guest_id.as_str());
    let heard = native.expect("chat_message").await;
    assert_eq!(
        (heard["body"].clone(), heard["username"].clone()),
        (json!("hello, room"), json!("guest"))
    );
    assert!(heard["seq"].is_number());
    let frame = pusher.expect("App\\Events\\chat\\message").await;
    assert!(frame["data"].to_string().contains("hello, room"), "{frame}");

    for (body, why) in [
        ("", "empty"),
        ("   ", "blank"),
        ("two\nlines", "a line break"),
        ("evil\u{202E}gnp.exe", "a direction override"),
    ] {
        let refused = say(&app, &guest, &room, body).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{why}: {:?}",
            refused.body
        );
        assert!(refused.body["errors"]["body"].is_array(), "{why}: {:?}", refused.body);
    }
    let refused = say(&app, &admin, &room, &"x".repeat(501)).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        say(&app, &admin, &room, &"é".repeat(500)).await.status,
        StatusCode::CREATED
    );
    let refused = say(&app, &stranger, &room, "let me in").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.get(&format!("/rooms/{room}/messages"), &stranger).await.status,
        StatusCode::FORBIDDEN
    );

    // A newcomer reads the last messages, newest first, a page at a time.
    let page = app.get(&format!("/rooms/{room}/messages?limit=1"), &guest).await.body;
    assert_eq!(page["data"][0]["body"], "é".repeat(500));
    let before = page["next_before"].as_i64().expect("an older page");
    let older = app
        .get(&format!("/rooms/{room}/messages?before={before}"), &guest)
        .await
        .body;
    assert_eq!(older["data"][0]["body"], "hello, room");
    assert!(older["next_before"].is_null());

    // Its author or the administrator deletes a message; nobody else.
    let id = sent.body["data"]["id"].as_i64().unwrap();
    let (other, _) = app.user("other").await;
    app.post(&format!("/rooms/{room}/join"), &other, json!({})).await;
    let refused = app.delete(&format!("/rooms/{room}/messages/{id}"), &other).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{:?}", refused.body);
    let deleted = app.delete(&format!("/rooms/{room}/messages/{id}"), &admin).await;
    assert_eq!(deleted.status, StatusCode::OK, "{:?}", deleted.body);
    assert_eq!(native.expect("chat_deleted").await["message_id"], id);
    let again = app.delete(&format!("/rooms/{room}/messages/{id}"), &admin).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    let gone = app.get(&format!("/rooms/{room}/messages"), &guest).await.body;
    assert_eq!(gone["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn reactions_are_a_fixed_set_seen_by_the_room() {
    let app = spawn_app().await;
    let (_, room, track) = playing_room(&app, std::time::Duration::ZERO).await;
    let (guest, _) = app.user("guest").await;
    app.post(&format!("/rooms/{room}/join"), &guest, json!({})).await;
    let mut native = NativeClient::connect(&app, &guest).await;
    native.join(&room).await;
    let sent = app
        .post(&format!("/rooms/{room}/reactions"), &guest, json!({ "emoji": "🔥" }))
        .await;
    assert_eq!(sent.status, StatusCode::OK, "{:?}", sent.body);
    let seen = native.expect("reaction_sent").await;
    assert_eq!(
        (seen["emoji"].clone(), seen["track_id"].clone()),
        (json!("🔥"), track["id"].clone())
    );
    assert_eq!(seen["user"]["username"], "guest");
    for emoji in ["💩", "🔥🔥", "<b>", ""] {
        let refused = app
            .post(&format!("/rooms/{room}/reactions"), &guest, json!({ "emoji": emoji }))
            .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{emoji}");
    }
}

#[tokio::test]
async fn a_flood_is_cut_to_a_trickle_and_costs_the_server_nothing_more() {
    let app = spawn_app().await;
    let (admin, _) = app.user("admin").await;
    let room = app.room(&admin).await;
    let mut answers = Vec::new();
    for i in 0..40 {
        answers.push(say(&app, &admin, &room, &format!("spam {i}")).await);
    }
    let sent = answers.iter().filter(|a| a.status == StatusCode::CREATED).count();
    let refused: Vec<_> = answers
        .iter()
        .filter(|a| a.status == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert_eq!(sent, 5, "five per ten seconds");
    assert_eq!(refused.len(), 35);
    let wait: u64 = refused[0].headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=10).contains(&wait), "{wait}");
    // Refused messages were never written nor told.
    assert_eq!(app.count("chat_messages").await, 5);
    let seq: i64 = sqlx::query_scalar("SELECT event_seq FROM rooms WHERE id = $1::uuid")
        .bind(&room)
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(seq, 5, "one event per message sent, none for the refused");
    // Reactions have their own share.
    let mut reacted = 0;
    for _ in 0..20 {
        if app
            .post(&format!("/rooms/{room}/reactions"), &admin, json!({ "emoji": "👏" }))
            .await
            .status
            == StatusCode::OK
        {
            reacted += 1;
        }
    }
    assert_eq!(reacted, 10);
}

#[tokio::test]
async fn a_room_keeps_its_newest_two_hundred_messages() {
    let app = spawn_app().await;
    let (admin, _) = app.user("admin").await;
    let room = app.room(&admin).await;
    sqlx::query(
        "INSERT INTO chat_messages (room_id, username, body) \
         SELECT $1::uuid, 'admin', 'old ' || n FROM generate_series(1, 250) n",
    )
    .bind(&room)
    .execute(&app.state.db)
    .await
    .unwrap();
    assert_eq!(say(&app, &admin, &room, "newest").await.status, StatusCode::CREATED);
    assert_eq!(app.count("chat_messages").await, 200);
    let page = app.get(&format!("/rooms/{room}/messages?limit=100"), &admin).await.body;
    assert_eq!(page["data"][0]["body"], "newest");
    assert_eq!(page["data"][99]["body"], "old 152");
}
