//! Vote to skip, against the real server: thresholds by the listeners
//! present, who may vote, departures that take votes (and may tip the
//! rest), and a race of last votes across two replicas that skips once.

use crate::support::*;
use crate::ws::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

/// Waits until `app` counts `present` listeners in `room`; the tally then.
async fn present(app: &TestApp, token: &str, room: &str, present: u64) -> Value {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let tally = app.get(&format!("/rooms/{room}/skip-votes"), token).await;
        assert_eq!(tally.status, StatusCode::OK, "{:?}", tally.body);
        if tally.body["present"] == present {
            return tally.body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{present} listeners never present: {}",
            tally.body
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A room playing a long track with a second queued, and `n` listeners
/// present (the administrator first); their tokens, sockets, the room and
/// both tracks' ids.
async fn listening_room(
    app: &TestApp,
    users: &[(String, String)],
    n: usize,
) -> (Vec<NativeClient>, String, String, String) {
    let admin = &users[0].0;
    let room = app.room(admin).await;
    let first = app.upload_bytes(&room, admin, "first.wav", long_wav(30.0)).await.body["track"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let second = app.upload_bytes(&room, admin, "second.wav", long_wav(30.0)).await.body["track"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut sockets = Vec::new();
    for (token, _) in &users[..n] {
        if token != admin {
            app.post(&format!("/rooms/{room}/join"), token, json!({})).await;
        }
        let mut client = NativeClient::connect(app, token).await;
        client.join(&room).await;
        sockets.push(client);
    }
    present(app, admin, &room, n as u64).await;
    (sockets, room, first, second)
}

async fn vote(app: &TestApp, token: &str, room: &str, track: &str) -> crate::support::Answer {
    app.post(
        &format!("/rooms/{room}/skip-votes"),
        token,
        json!({ "track_id": track }),
    )
    .await
}

async fn playing(app: &TestApp, token: &str, room: &str) -> Value {
    app.get(&format!("/rooms/{room}/playback/status"), token).await.body["data"]["track_id"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_votes_needed_follow_the_listeners_present_at_1_2_3_10_and_161() {
    let app = spawn_app().await;
    let mut users = Vec::new();
    for i in 0..161 {
        users.push(app.user(&format!("listener{i}")).await);
    }
    for (n, needed) in [(1, 1), (2, 2), (3, 2), (10, 5), (161, 20)] {
        let (sockets, room, first, second) = listening_room(&app, &users, n).await;
        let tally = present(&app, &users[0].0, &room, n as u64).await;
        assert_eq!(tally["needed"], needed, "{n} present: {tally}");
        assert_eq!(tally["track_id"], first.as_str());
        // One short of the threshold: counted, nothing skipped.
        for (token, _) in &users[..needed - 1] {
            let answer = vote(&app, token, &room, &first).await;
            assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
            assert_eq!(answer.body["skipped"], false);
        }
        assert_eq!(playing(&app, &users[0].0, &room).await, first.as_str(), "{n} present");
        // The last vote skips, at once.
        let answer = vote(&app, &users[needed - 1].0, &room, &first).await;
        assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
        assert_eq!(answer.body["skipped"], true, "{n} present: {}", answer.body);
        assert_eq!(answer.body["votes"], needed);
        assert_eq!(playing(&app, &users[0].0, &room).await, second.as_str(), "{n} present");
        // The votes went with the track.
        let after = app.get(&format!("/rooms/{room}/skip-votes"), &users[0].0).await.body;
        assert_eq!(
            (after["votes"].clone(), after["track_id"].clone()),
            (json!(0), json!(second))
        );
        drop(sockets);
    }
}

#[tokio::test]
async fn a_vote_needs_a_listener_present_the_track_playing_and_the_rooms_consent() {
    let app = spawn_app().await;
    let users = vec![
        app.user("admin").await,
        app.user("guest").await,
        app.user("absent").await,
        app.user("stranger").await,
    ];
    let (_sockets, room, first, second) = listening_room(&app, &users, 2).await;
    let (admin, guest, absent, stranger) = (&users[0].0, &users[1].0, &users[2].0, &users[3].0);
    app.post(&format!("/rooms/{room}/join"), absent, json!({})).await;
    let refused = vote(&app, stranger, &room, &first).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "a stranger: {:?}", refused.body);
    let refused = vote(&app, absent, &room, &first).await;
    assert_eq!(
        refused.status,
        StatusCode::FORBIDDEN,
        "a member not listening: {:?}",
        refused.body
    );
    assert!(refused.body["message"].as_str().unwrap().contains("present"));
    let refused = vote(&app, guest, &room, &second).await;
    assert_eq!(
        refused.status,
        StatusCode::CONFLICT,
        "a track not playing: {:?}",
        refused.body
    );
    let refused = app
        .post(&format!("/rooms/{room}/skip-votes"), guest, json!({ "track": first }))
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", refused.body);
    // Twice is once; withdrawn is gone; withdrawn twice is still gone.
    for _ in 0..2 {
        let answer = vote(&app, guest, &room, &first).await;
        assert_eq!(
            (answer.body["votes"].clone(), answer.body["voted"].clone()),
            (json!(1), json!(true))
        );
    }
    for _ in 0..2 {
        let answer = app.delete(&format!("/rooms/{room}/skip-votes"), guest).await;
        assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
        assert_eq!(
            (answer.body["votes"].clone(), answer.body["voted"].clone()),
            (json!(0), json!(false))
        );
    }
    // The administrator turns it off: refused, and the room says so.
    let updated = app
        .put(&format!("/rooms/{room}"), admin, json!({ "vote_skip": false }))
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{:?}", updated.body);
    assert_eq!(updated.body["data"]["vote_skip"], false);
    let refused = vote(&app, guest, &room, &first).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{:?}", refused.body);
    assert_eq!(
        app.get(&format!("/rooms/{room}/skip-votes"), guest).await.body["enabled"],
        false
    );
    let guest_view = app
        .put(&format!("/rooms/{room}"), guest, json!({ "vote_skip": true }))
        .await;
    assert_eq!(
        guest_view.status,
        StatusCode::FORBIDDEN,
        "only the administrator sets it"
    );
}

#[tokio::test]
async fn a_listener_who_leaves_takes_their_vote_and_the_rest_may_then_skip() {
    let app = spawn_app().await;
    let mut users = Vec::new();
    for i in 0..5 {
        users.push(app.user(&format!("listener{i}")).await);
    }
    let (mut sockets, room, first, second) = listening_room(&app, &users, 5).await;
    let admin = &users[0].0;
    let mut watcher = NativeClient::connect(&app, admin).await;
    watcher.join(&room).await;
    // Five present need three. Listener 4 votes and leaves: its vote goes.
    vote(&app, &users[4].0, &room, &first).await;
    drop(sockets.pop());
    let tally = watcher.expect("skip_voted").await;
    let tally = if tally["votes"] == 1 {
        watcher.expect("skip_voted").await
    } else {
        tally
    };
    assert_eq!(
        (
            tally["votes"].clone(),
            tally["present"].clone(),
            tally["needed"].clone()
        ),
        (json!(0), json!(4), json!(2))
    );
    // Four present need two: one vote is not enough…
    let answer = vote(&app, &users[1].0, &room, &first).await;
    assert_eq!(
        (answer.body["votes"].clone(), answer.body["skipped"].clone()),
        (json!(1), json!(false))
    );
    let answer = vote(&app, &users[2].0, &room, &first).await;
    assert_eq!(answer.body["skipped"], true, "two of four skip: {}", answer.body);
    assert_eq!(playing(&app, admin, &room).await, second.as_str());
    // …and on the second track, two votes of five present wait for a third,
    // until a listener who did not vote leaves: four present need two.
    let third = app.upload_bytes(&room, admin, "third.wav", long_wav(30.0)).await.body["track"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut again = NativeClient::connect(&app, &users[4].0).await;
    again.join(&room).await;
    present(&app, admin, &room, 5).await;
    vote(&app, &users[1].0, &room, &second).await;
    let answer = vote(&app, &users[2].0, &room, &second).await;
    assert_eq!(
        (answer.body["votes"].clone(), answer.body["needed"].clone()),
        (json!(2), json!(3))
    );
    drop(again);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while playing(&app, admin, &room).await != third.as_str() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the departure did not tip the vote"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let skipped = sqlx::query_scalar::<_, String>("SELECT ending FROM play_history ORDER BY id")
        .fetch_all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(skipped, ["vote", "vote"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn last_votes_at_once_on_two_replicas_skip_once() {
    let app = spawn_app().await;
    let other = replica_of(&app, "redis://127.0.0.1:6379").await;
    let mut users = Vec::new();
    for i in 0..6 {
        users.push(app.user(&format!("listener{i}")).await);
    }
    let admin = users[0].0.clone();
    let room = app.room(&admin).await;
    let mut tracks = Vec::new();
    for name in ["first.wav", "second.wav", "third.wav"] {
        let id = app.upload_bytes(&room, &admin, name, long_wav(30.0)).await.body["track"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        tracks.push(id);
    }
    // Six listeners, three on each replica: three votes skip.
    let mut sockets = Vec::new();
    for (i, (token, _)) in users.iter().enumerate() {
        if *token != admin {
            app.post(&format!("/rooms/{room}/join"), token, json!({})).await;
        }
        let mut client = NativeClient::connect(if i % 2 == 0 { &app } else { &other }, token).await;
        client.join(&room).await;
        sockets.push(client);
    }
    present(&app, &admin, &room, 6).await;
    present(&other, &admin, &room, 6).await;
    // All six vote at once, alternating replicas: the third skips, the
    // votes after it find the track gone.
    let votes = users.iter().enumerate().map(|(i, (token, _))| {
        let replica = if i % 2 == 0 { &app } else { &other };
        vote(replica, token, &room, &tracks[0])
    });
    let answers = futures_util::future::join_all(votes).await;
    let skipped = answers.iter().filter(|a| a.body["skipped"] == true).count();
    let late = answers.iter().filter(|a| a.status == StatusCode::CONFLICT).count();
    assert_eq!(skipped, 1, "{:?}", answers.iter().map(|a| &a.body).collect::<Vec<_>>());
    assert_eq!(late, 3, "the three votes after the third");
    assert_eq!(
        playing(&app, &admin, &room).await,
        tracks[1].as_str(),
        "skipped once, not twice"
    );
    assert_eq!(app.count("play_history").await, 1);
}
