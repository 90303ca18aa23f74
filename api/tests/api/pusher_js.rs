//! The front end's Pusher mode for real: laravel-echo over pusher-js in Node,
//! against the API with its default settings. `tests/pusher-js/listen.mjs`
//! hears every room event under the names the front end listens for;
//! `tests/pusher-js/page-load.mjs` opens a playing room as a newcomer does,
//! in the front end's order of calls.

use crate::support::*;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

struct EchoClient {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
}

impl EchoClient {
    fn start(app: &TestApp, token: &str, room: &str) -> Self {
        Self::run("listen.mjs", app, token, room)
    }

    /// Runs one of the scripts of `tests/pusher-js` as `token`'s user in `room`.
    fn run(script: &str, app: &TestApp, token: &str, room: &str) -> Self {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pusher-js");
        assert!(
            dir.join("node_modules/pusher-js").is_dir(),
            "pusher-js is not installed: run `npm ci --prefix api/tests/pusher-js` (deploy/test does)"
        );
        let mut child = Command::new("node")
            .arg(script)
            .current_dir(&dir)
            .env("SPOTIK_KEY", &app.state.config.hub.app_key)
            .env("SPOTIK_WS_HOST", app.addr.ip().to_string())
            .env("SPOTIK_WS_PORT", app.addr.port().to_string())
            .env("SPOTIK_API", app.url(""))
            .env("SPOTIK_TOKEN", token)
            .env("SPOTIK_ROOM", room)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("node is installed");
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Self { child, lines }
    }

    /// The next line that `wanted` accepts; panics after 10 s.
    async fn until(&mut self, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let line = tokio::time::timeout_at(deadline, self.lines.next_line())
                .await
                .unwrap_or_else(|_| panic!("pusher-js never reported {what}"))
                .unwrap()
                .unwrap_or_else(|| panic!("node exited before {what}"));
            let value: Value = serde_json::from_str(&line).unwrap_or(Value::String(line));
            assert!(value.get("error").is_none(), "pusher-js reported an error: {value}");
            if wanted(&value) {
                return value;
            }
        }
    }

    async fn event(&mut self, name: &str) -> Value {
        self.until(name, |v| v["via"] == "echo" && v["name"] == name).await["data"].clone()
    }
}

#[tokio::test]
async fn laravel_echo_over_pusher_js_hears_every_room_event() {
    let app = spawn_app().await;
    let (admin, _) = app.user("admin").await;
    let (guest, guest_id) = app.user("guest").await;
    let room = app.room(&admin).await;
    app.post(&format!("/rooms/{room}/join"), &guest, json!({})).await;
    let mut echo = EchoClient::start(&app, &guest, &room);
    // Both subscriptions succeed, in whichever order.
    let (mut subscribed, mut here) = (false, None);
    while !subscribed || here.is_none() {
        let line = echo
            .until("both subscriptions", |v| {
                v.get("subscribed").is_some() || v.get("here").is_some()
            })
            .await;
        subscribed |= line.get("subscribed").is_some();
        here = here.or(line.get("here").cloned());
    }
    let here = here.unwrap();
    assert_eq!(here[0]["id"], guest_id, "the presence list names the listener: {here}");

    let (late, _) = app.user("late").await;
    app.post(&format!("/rooms/{room}/join"), &late, json!({})).await;
    assert_eq!(echo.event("user.joined").await["user"]["username"], "late");

    let first = app.upload(&room, &admin, "tone-1500ms.wav").await.body["track"]["id"].clone();
    let added = echo.event("track.added").await;
    assert_eq!(added["track"]["id"], first);
    assert!(added["track"]["duration_seconds"].is_number());
    assert_eq!(echo.event("playback.started").await["track"]["id"], first);

    let second = app.upload(&room, &admin, "tone-1500ms.flac").await.body["track"]["id"].clone();
    echo.event("track.added").await;
    app.post(
        &format!("/rooms/{room}/tracks/{}/vote", second.as_str().unwrap()),
        &late,
        json!({}),
    )
    .await;
    let voted = echo.event("track.voted").await;
    assert_eq!(voted["track"]["id"], second);
    assert_eq!(voted["track"]["vote_score"], 1);

    app.post(&format!("/rooms/{room}/playback/pause"), &admin, json!({}))
        .await;
    let paused = echo.event("playback.paused").await;
    assert!(paused["paused_at"].is_string() && paused["position"].is_number());
    app.post(&format!("/rooms/{room}/playback/resume"), &admin, json!({}))
        .await;
    let resumed = echo.event("playback.resumed").await;
    assert!(resumed["resumed_at"].is_string() && resumed["started_at"].is_string());
    app.post(&format!("/rooms/{room}/playback/skip"), &admin, json!({}))
        .await;
    let skipped = echo.event("track.skipped").await;
    assert_eq!(skipped["next_track"]["id"], second);
    assert!(skipped["timestamp"].is_string());
    assert_eq!(echo.event("playback.started").await["track"]["id"], second);
    app.post(&format!("/rooms/{room}/playback/stop"), &admin, json!({}))
        .await;
    // The front end has no stop handler: a skip to nothing clears its player.
    let stopped = echo.event("track.skipped").await;
    assert!(stopped["next_track"].is_null(), "{stopped}");
    assert!(stopped["seq"].is_number());

    let renamed = app
        .call(
            reqwest::Method::PUT,
            &format!("/rooms/{room}"),
            Some(&admin),
            Some(json!({ "name": "Renamed" })),
        )
        .await;
    assert_eq!(renamed.status, 200);
    // `.listen('RoomUpdated')` and `.listen('TrackRemoved')` (stores/websocket.js).
    assert_eq!(echo.event("RoomUpdated").await["room"]["name"], "Renamed");
    app.delete(&format!("/rooms/{room}/tracks/{}", first.as_str().unwrap()), &admin)
        .await;
    assert_eq!(echo.event("TrackRemoved").await["track_id"], first);
    app.post(&format!("/rooms/{room}/leave"), &late, json!({})).await;
    assert_eq!(echo.event("user.left").await["user"]["username"], "late");

    drop(echo.child.stdin.take());
    let status = tokio::time::timeout(Duration::from_secs(10), echo.child.wait()).await;
    assert!(
        matches!(status, Ok(Ok(s)) if s.success()),
        "node exits cleanly: {status:?}"
    );
}

/// A newcomer opens a room mid-track: the page subscribes before its own
/// auto-join has committed, and laravel-echo never retries a refusal. The
/// authorisation waits for the join, so the subscription succeeds and the
/// catch-up (a skip to nothing, then the current track at its position)
/// arrives within a second of the page being ready, with the production
/// catch-up delay.
#[tokio::test]
async fn a_newcomer_opening_a_playing_room_hears_it_within_a_second() {
    let app = spawn_with(Options {
        tweak: |config| config.hub.catch_up_delay = Duration::from_millis(750),
        ..Options::default()
    })
    .await;
    let (_, room, track) = playing_room(&app, Duration::from_millis(1200)).await;
    let (newcomer, _) = app.user("newcomer").await;

    let mut page = EchoClient::run("page-load.mjs", &app, &newcomer, &room);
    let shown = page.until("the room", |v| v.get("room").is_some()).await;
    assert_eq!(shown["room"], 200);
    assert_eq!(shown["is_participant"], false, "a newcomer: {shown}");
    page.until("the join", |v| v.get("joined").is_some()).await;
    let ready = page.until("the page ready", |v| v.get("ready").is_some()).await;
    assert_eq!(ready["same_channel"], true, "laravel-echo keeps its channel");
    let ready_at = ready["at"].as_i64().unwrap();

    let cleared = page
        .until("the catch-up", |v| v["via"] == "echo" && v["name"] == "track.skipped")
        .await;
    assert!(cleared["data"]["next_track"].is_null(), "{cleared}");
    let playing = page.event("playback.started").await;
    assert_eq!(playing["track"]["id"], track["id"]);
    let position = playing["server_time"].as_i64().unwrap() - millis(&playing["started_at"]);
    assert!(position >= 1200, "plays from {position} ms, where the room is");
    let heard_at = cleared["at"].as_i64().unwrap();
    assert!(
        heard_at - ready_at <= 1000,
        "heard {} ms after the page was ready",
        heard_at - ready_at
    );
    drop(page.child.stdin.take());
}
