//! Votes by group commit (`store/ballots.rs`, `spotik_apply_vote_batch`):
//! each vote of a batch judged as it would be alone, whatever rooms the
//! batch mixes; storms, and votes spread over many rooms, counted exactly
//! in fewer commits; two replicas on one room; and a process killed with
//! SIGKILL in the middle of a storm losing no acknowledged vote.

use crate::support::*;
use reqwest::StatusCode;
use serde_json::json;
use spotik_api::store::ballots::{apply, apply_batch, Ballot, Counted};
use std::collections::HashMap;
use std::collections::HashSet;
use std::sync::Arc;
use uuid::Uuid;

/// A room with one queued track (paused), `voters` users in it, and a
/// track of another room; (room, track, other room's track, tokens, ids).
async fn voting_room(app: &TestApp, voters: usize) -> (String, String, String, Vec<String>, Vec<Uuid>) {
    let (admin, _) = app.user("admin").await;
    let room = app.room(&admin).await;
    let track = app.upload(&room, &admin, "tone-1500ms.wav").await.body["track"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post(&format!("/rooms/{room}/playback/pause"), &admin, json!({}))
        .await;
    let elsewhere = app.room(&admin).await;
    let foreign = app.upload(&elsewhere, &admin, "tone-1500ms.ogg").await.body["track"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (mut tokens, mut ids) = (Vec::new(), Vec::new());
    for i in 0..voters {
        let (token, id) = app.user(&format!("voter{i}")).await;
        app.post(&format!("/rooms/{room}/join"), &token, json!({})).await;
        tokens.push(token);
        ids.push(Uuid::parse_str(&id).unwrap());
    }
    (room, track, foreign, tokens, ids)
}

async fn event_seq(app: &TestApp, room: &str) -> i64 {
    sqlx::query_scalar("SELECT event_seq FROM rooms WHERE id = $1::uuid")
        .bind(room)
        .fetch_one(&app.state.db)
        .await
        .unwrap()
}

async fn score(app: &TestApp, track: &str) -> i32 {
    sqlx::query_scalar("SELECT vote_score FROM tracks WHERE id = $1::uuid")
        .bind(track)
        .fetch_one(&app.state.db)
        .await
        .unwrap()
}

/// `times` votes by turns, up first, each answered before the next.
async fn vote_and_unvote(app: Arc<TestApp>, token: String, path: String, times: usize) {
    for i in 0..times {
        let answer = if i % 2 == 0 {
            app.post(&path, &token, json!({})).await
        } else {
            app.delete(&path, &token).await
        };
        assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
        assert_eq!(answer.body["user_has_voted"], i % 2 == 0);
    }
}

/// A small deterministic generator, so a failure replays.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// 600 ballots over two tracks of the room, one of another room and six
/// users, applied in batches of 1 to 40: every answer is what an
/// independent model of "one vote at a time" says, event numbers included.
#[tokio::test]
async fn a_batch_judges_each_vote_as_a_vote_alone_would_be() {
    let app = spawn_app().await;
    let (room, track, foreign, _, users) = voting_room(&app, 6).await;
    let (admin_token, _) = app.user("second").await;
    app.post(&format!("/rooms/{room}/join"), &admin_token, json!({})).await;
    let second = app.upload(&room, &admin_token, "tone-1500ms.flac").await.body["track"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let room_id = Uuid::parse_str(&room).unwrap();
    // One who never joined: their votes change nothing and say so.
    let outsider = Uuid::parse_str(&app.user("outsider").await.1).unwrap();
    let users: Vec<Uuid> = users.into_iter().chain([outsider]).collect();
    let tracks = [&track, &second, &foreign].map(|t| Uuid::parse_str(t).unwrap());
    let mut votes: HashSet<(Uuid, Uuid)> = HashSet::new();
    let mut scores = [0i32; 2];
    let mut seq = event_seq(&app, &room).await;
    let mut random = Lcg(20261203);
    let mut applied = 0;
    while applied < 600 {
        let size = 1 + random.below(40) as usize;
        let ballots: Vec<Ballot> = (0..size)
            .map(|_| Ballot {
                track: tracks[random.below(3) as usize],
                user: users[random.below(users.len() as u64) as usize],
                up: random.below(3) > 0,
            })
            .collect();
        let counted = apply(&app.state.db, room_id, &ballots).await.unwrap();
        assert_eq!(counted.len(), size);
        for (ballot, got) in ballots.iter().zip(&counted) {
            if ballot.user == outsider {
                assert_eq!(
                    (got.takes_part, got.score, got.changed, got.seq),
                    (Some(false), None, false, None),
                    "{ballot:?}"
                );
                continue;
            }
            let Some(slot) = tracks[..2].iter().position(|t| *t == ballot.track) else {
                assert_eq!(
                    (got.takes_part, got.score, got.changed, got.seq),
                    (Some(true), None, false, None),
                    "{ballot:?}"
                );
                continue;
            };
            let changed = if ballot.up {
                votes.insert((ballot.track, ballot.user))
            } else {
                votes.remove(&(ballot.track, ballot.user))
            };
            if changed {
                scores[slot] += if ballot.up { 1 } else { -1 };
                seq += 1;
            }
            let expected = Counted {
                takes_part: Some(true),
                score: Some(scores[slot]),
                changed,
                seq: changed.then_some(seq),
                at: got.at,
            };
            assert_eq!(*got, expected, "ballot {applied} {ballot:?}");
            applied += 1;
        }
    }
    assert_eq!(event_seq(&app, &room).await, seq);
    assert_eq!(score(&app, &track).await, scores[0]);
    assert_eq!(score(&app, &second).await, scores[1]);
    assert_eq!(app.count("track_votes").await, votes.len() as i64);
    // A room that does not exist: every vote answered "no such track".
    let nowhere = apply(
        &app.state.db,
        Uuid::new_v4(),
        &[Ballot {
            track: tracks[0],
            user: users[0],
            up: true,
        }],
    )
    .await
    .unwrap();
    assert_eq!(
        (nowhere[0].takes_part, nowhere[0].score, nowhere[0].changed),
        (None, None, false)
    );
}

/// Each voter votes and unvotes 21 times as fast as answers come: exact,
/// every change numbered once, and in fewer commits than votes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_voters_storming_one_track_are_counted_exactly_in_fewer_commits() {
    let app = Arc::new(spawn_app().await);
    let (room, track, _, tokens, _) = voting_room(&app, 50).await;
    let before = event_seq(&app, &room).await;
    let path = format!("/rooms/{room}/tracks/{track}/vote");
    let storms = tokens
        .into_iter()
        .map(|token| tokio::spawn(vote_and_unvote(Arc::clone(&app), token, path.clone(), 21)));
    for storm in futures_util::future::join_all(storms).await {
        storm.unwrap();
    }
    assert_eq!(score(&app, &track).await, 50);
    assert_eq!(app.count("track_votes").await, 50);
    assert_eq!(event_seq(&app, &room).await - before, 50 * 21, "one number per change");
    let metrics = app.get("/metrics", "").await;
    let (votes, commits) = (
        metrics.body["data"]["votes"]["votes"].as_u64().unwrap(),
        metrics.body["data"]["votes"]["commits"].as_u64().unwrap(),
    );
    assert_eq!(votes, 50 * 21);
    assert!(
        commits < votes,
        "{commits} commits for {votes} votes: nothing was batched"
    );
}

/// Two replicas take the votes of one room at once: their batches take
/// turns on the room's row, and every number is taken once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_batching_one_room_stay_exact() {
    let first = Arc::new(spawn_app().await);
    let second = Arc::new(replica_of(&first, "redis://127.0.0.1:6379").await);
    let (room, track, _, tokens, _) = voting_room(&first, 40).await;
    let before = event_seq(&first, &room).await;
    let path = format!("/rooms/{room}/tracks/{track}/vote");
    let storms = tokens.into_iter().enumerate().map(|(i, token)| {
        let app = Arc::clone(if i % 2 == 0 { &first } else { &second });
        tokio::spawn(vote_and_unvote(app, token, path.clone(), 11))
    });
    for storm in futures_util::future::join_all(storms).await {
        storm.unwrap();
    }
    assert_eq!(score(&first, &track).await, 40);
    assert_eq!(first.count("track_votes").await, 40);
    assert_eq!(event_seq(&first, &room).await - before, 40 * 11);
}

/// The real binary killed with SIGKILL while 60 voters vote at once: every
/// vote it acknowledged is in the database, and the score is the count of
/// the votes there (a vote not yet answered may or may not have landed).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_process_killed_mid_storm_loses_no_acknowledged_vote() {
    let app = spawn_app().await;
    let (room, track, _, tokens, ids) = voting_room(&app, 60).await;
    let media = tempfile::tempdir().unwrap();
    let mut api = ApiProcess::start(&app.database_url, media.path(), free_port()).await;
    let url = format!("{}/rooms/{room}/tracks/{track}/vote", api.base);
    let client = reqwest::Client::new();
    let (acknowledged, mut heard) = tokio::sync::mpsc::unbounded_channel();
    for (token, id) in tokens.into_iter().zip(ids) {
        let (client, url, acknowledged) = (client.clone(), url.clone(), acknowledged.clone());
        tokio::spawn(async move {
            let sent = client.post(&url).bearer_auth(token).send().await;
            if sent.is_ok_and(|answer| answer.status() == StatusCode::OK) {
                let _ = acknowledged.send(id);
            }
        });
    }
    drop(acknowledged);
    // Killed once some votes are answered, while others are in flight.
    let answered = answered_around_a_kill(&mut heard, &mut api).await;
    // The killed process's last COMMIT may still be in PostgreSQL's hands
    // and land after it died, so the votes and the score are read in one
    // statement: one snapshot, never between a batch's rows and its score.
    let (stored, score): (Vec<Uuid>, i32) = sqlx::query_as(
        "SELECT ARRAY(SELECT user_id FROM track_votes WHERE track_id = $1::uuid), \
                (SELECT vote_score FROM tracks WHERE id = $1::uuid)",
    )
    .bind(&track)
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    for id in &answered {
        assert!(stored.contains(id), "the acknowledged vote of {id} was lost");
    }
    assert_eq!(score, stored.len() as i32, "the score is the count of the stored votes");
}

/// The votes acknowledged when `api` is killed once some are answered,
/// while others are in flight, and those answered before it died.
async fn answered_around_a_kill<T>(
    heard: &mut tokio::sync::mpsc::UnboundedReceiver<T>,
    api: &mut ApiProcess,
) -> Vec<T> {
    let mut answered = vec![heard.recv().await.expect("a vote answered before the kill")];
    api.kill();
    while let Some(vote) = heard.recv().await {
        answered.push(vote);
    }
    answered
}

/// `rooms` rooms (an administrator to every 20), each with one track
/// (paused) and `voters` members of its own; (room, track, [(token, id)]) each.
async fn voting_rooms(app: &TestApp, rooms: usize, voters: usize) -> Vec<(String, String, Vec<(String, Uuid)>)> {
    let mut made = Vec::new();
    let mut admin = String::new();
    for r in 0..rooms {
        // One account administers at most 20 rooms.
        if r % 20 == 0 {
            admin = app.user(&format!("rooms-admin{r}")).await.0;
        }
        let room = app.room(&admin).await;
        let track = app.upload(&room, &admin, "tone-1500ms.wav").await.body["track"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        app.post(&format!("/rooms/{room}/playback/pause"), &admin, json!({}))
            .await;
        let mut members = Vec::new();
        for v in 0..voters {
            let (token, id) = app.user(&format!("r{r}v{v}")).await;
            app.post(&format!("/rooms/{room}/join"), &token, json!({})).await;
            members.push((token, Uuid::parse_str(&id).unwrap()));
        }
        made.push((room, track, members));
    }
    made
}

/// 900 ballots over three rooms (and one that does not exist), each naming
/// any of the three rooms' tracks, applied in batches that mix the rooms in
/// any order: every answer is what "one vote at a time, each room's events
/// numbered on their own" says.
#[tokio::test]
async fn a_batch_of_many_rooms_judges_and_numbers_each_room_alone() {
    let app = spawn_app().await;
    let made = voting_rooms(&app, 3, 0).await;
    let rooms: Vec<Uuid> = made.iter().map(|(room, _, _)| Uuid::parse_str(room).unwrap()).collect();
    let tracks: Vec<Uuid> = made
        .iter()
        .map(|(_, track, _)| Uuid::parse_str(track).unwrap())
        .collect();
    // Five who joined every room, and one who joined none.
    let mut users = Vec::new();
    for i in 0..5 {
        let (token, id) = app.user(&format!("mixed{i}")).await;
        for (room, _, _) in &made {
            app.post(&format!("/rooms/{room}/join"), &token, json!({})).await;
        }
        users.push(Uuid::parse_str(&id).unwrap());
    }
    let outsider = Uuid::parse_str(&app.user("outsider").await.1).unwrap();
    users.push(outsider);
    let mut seqs = HashMap::new();
    for room in &made {
        seqs.insert(Uuid::parse_str(&room.0).unwrap(), event_seq(&app, &room.0).await);
    }
    let nowhere = Uuid::new_v4();
    let mut votes: HashSet<(Uuid, Uuid)> = HashSet::new();
    let mut scores = [0i32; 3];
    let mut random = Lcg(20261207);
    let mut applied = 0;
    while applied < 900 {
        let size = 1 + random.below(60) as usize;
        let batch: Vec<(Uuid, Ballot)> = (0..size)
            .map(|_| {
                let room = if random.below(10) == 0 {
                    nowhere
                } else {
                    rooms[random.below(3) as usize]
                };
                let ballot = Ballot {
                    track: tracks[random.below(3) as usize],
                    user: users[random.below(users.len() as u64) as usize],
                    up: random.below(3) > 0,
                };
                (room, ballot)
            })
            .collect();
        let counted = apply_batch(&app.state.db, &batch).await.unwrap();
        assert_eq!(counted.len(), size);
        for ((room, ballot), got) in batch.iter().zip(&counted) {
            let slot = tracks.iter().position(|t| *t == ballot.track).unwrap();
            let takes_part = (*room != nowhere).then_some(ballot.user != outsider);
            assert_eq!(got.takes_part, takes_part, "{room} {ballot:?}");
            if rooms.get(slot) != Some(room) || takes_part != Some(true) {
                assert_eq!(
                    (got.score, got.changed, got.seq),
                    (None, false, None),
                    "{room} {ballot:?}"
                );
                applied += 1;
                continue;
            }
            let changed = if ballot.up {
                votes.insert((ballot.track, ballot.user))
            } else {
                votes.remove(&(ballot.track, ballot.user))
            };
            let seq = seqs.get_mut(room).unwrap();
            if changed {
                scores[slot] += if ballot.up { 1 } else { -1 };
                *seq += 1;
            }
            let expected = Counted {
                takes_part: Some(true),
                score: Some(scores[slot]),
                changed,
                seq: changed.then_some(*seq),
                at: got.at,
            };
            assert_eq!(*got, expected, "ballot {applied} in {room}: {ballot:?}");
            applied += 1;
        }
    }
    for (i, (room, track, _)) in made.iter().enumerate() {
        assert_eq!(event_seq(&app, room).await, seqs[&rooms[i]]);
        assert_eq!(score(&app, track).await, scores[i]);
    }
    assert_eq!(app.count("track_votes").await, votes.len() as i64);
}

/// A voter in each of 24 rooms votes and unvotes 11 times, all at once:
/// each room alone never has two votes waiting, yet they share commits,
/// and every room's score and numbers are exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn votes_spread_over_many_rooms_share_commits_and_stay_exact() {
    let app = Arc::new(spawn_app().await);
    let made = voting_rooms(&app, 24, 1).await;
    let mut before = Vec::new();
    for (room, _, _) in &made {
        before.push(event_seq(&app, room).await);
    }
    let counted_before = app.get("/metrics", "").await.body["data"]["votes"].clone();
    let storms = made.iter().map(|(room, track, members)| {
        let path = format!("/rooms/{room}/tracks/{track}/vote");
        tokio::spawn(vote_and_unvote(Arc::clone(&app), members[0].0.clone(), path, 11))
    });
    for storm in futures_util::future::join_all(storms).await {
        storm.unwrap();
    }
    for ((room, track, _), before) in made.iter().zip(before) {
        assert_eq!(score(&app, track).await, 1);
        assert_eq!(
            event_seq(&app, room).await - before,
            11,
            "one number per change of the room"
        );
    }
    let counted = app.get("/metrics", "").await.body["data"]["votes"].clone();
    let votes = counted["votes"].as_u64().unwrap() - counted_before["votes"].as_u64().unwrap();
    let commits = counted["commits"].as_u64().unwrap() - counted_before["commits"].as_u64().unwrap();
    assert_eq!(votes, 24 * 11);
    assert!(
        commits < votes,
        "{commits} commits for {votes} votes of 24 rooms: no commit held two rooms"
    );
    assert!(counted["most_rooms_in_a_batch"].as_u64().unwrap() > 1);
}

/// The real binary killed with SIGKILL while a voter in each of 40 rooms
/// votes: every acknowledged vote of every room is in the database, and
/// each score is its track's count of votes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_process_killed_mid_batch_of_many_rooms_loses_no_acknowledged_vote() {
    let app = spawn_app().await;
    let made = voting_rooms(&app, 40, 1).await;
    let media = tempfile::tempdir().unwrap();
    let mut api = ApiProcess::start(&app.database_url, media.path(), free_port()).await;
    let client = reqwest::Client::new();
    let (acknowledged, mut heard) = tokio::sync::mpsc::unbounded_channel();
    for (room, track, members) in &made {
        let url = format!("{}/rooms/{room}/tracks/{track}/vote", api.base);
        let (token, id) = members[0].clone();
        let (client, acknowledged, track) = (client.clone(), acknowledged.clone(), track.clone());
        tokio::spawn(async move {
            let sent = client.post(&url).bearer_auth(token).send().await;
            if sent.is_ok_and(|answer| answer.status() == StatusCode::OK) {
                let _ = acknowledged.send((track, id));
            }
        });
    }
    drop(acknowledged);
    let answered = answered_around_a_kill(&mut heard, &mut api).await;
    // One statement, one snapshot (see the single-room test above).
    let (stored, wrong): (Vec<String>, i64) = sqlx::query_as(
        "SELECT ARRAY(SELECT track_id::text || ' ' || user_id::text FROM track_votes), \
                (SELECT count(*) FROM tracks t \
                  WHERE vote_score <> (SELECT count(*) FROM track_votes v WHERE v.track_id = t.id))",
    )
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    for (track, id) in &answered {
        assert!(
            stored.contains(&format!("{track} {id}")),
            "the acknowledged vote of {id} was lost"
        );
    }
    assert_eq!(wrong, 0, "a score is not its track's count of votes");
}

/// A replica of the version before calls 0012's function during a rolling
/// update: it still applies votes as it did (no membership asked: that
/// version asked before casting), through the one implementation.
#[tokio::test]
async fn the_batch_function_of_the_version_before_still_applies_votes() {
    let app = spawn_app().await;
    let (room, track, _, _, _) = voting_room(&app, 0).await;
    let outsider = Uuid::parse_str(&app.user("outsider").await.1).unwrap();
    let (room, track) = (Uuid::parse_str(&room).unwrap(), Uuid::parse_str(&track).unwrap());
    let row: (i32, Option<i32>, bool, Option<i64>) =
        sqlx::query_as("SELECT ordinal, score, changed, seq FROM spotik_apply_vote_batch($1, $2, $3, $4)")
            .bind(vec![room])
            .bind(vec![track])
            .bind(vec![outsider])
            .bind(vec![true])
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!((row.0, row.1, row.2), (1, Some(1), true));
    assert_eq!(score(&app, &track.to_string()).await, 1);
}
