//! Sync quality as the figures show it: each room event's delivery time to
//! the sockets that received it, and listeners' reports of their drift.

use crate::monitoring::{assert_promtool_accepts, prometheus_text};
use crate::support::*;
use crate::ws::NativeClient;
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn metrics(app: &TestApp) -> Value {
    answer(app.client.get(app.url("/metrics")).send().await.unwrap())
        .await
        .body["data"]
        .clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_event_frame_written_is_timed_by_event_type() {
    let app = spawn_app().await;
    let (admin, _) = app.user("admin").await;
    let (guest, _) = app.user("guest").await;
    let room = app.room(&admin).await;
    app.post(&format!("/rooms/{room}/join"), &guest, json!({})).await;
    let mut admin_socket = NativeClient::connect(&app, &admin).await;
    let mut guest_socket = NativeClient::connect(&app, &guest).await;
    admin_socket.join(&room).await;
    guest_socket.join(&room).await;
    let before = metrics(&app).await;
    assert!(before["websocket"]["delivery_seconds"].get("track.added").is_none());

    app.upload(&room, &admin, "tone-1500ms.wav").await;
    for socket in [&mut admin_socket, &mut guest_socket] {
        socket.expect("track_added").await;
        socket.expect("playback_started").await;
    }
    let delivery = metrics(&app).await["websocket"]["delivery_seconds"].clone();
    // Two sockets each wrote one frame of each event.
    assert_eq!(delivery["track.added"]["count"], 2, "{delivery}");
    assert_eq!(delivery["playback.started"]["count"], 2, "{delivery}");
    assert!(delivery["track.added"]["p99"].as_f64().unwrap() <= 1.0, "{delivery}");

    let text = prometheus_text(&app).await;
    assert!(
        text.contains("spotik_api_event_delivery_seconds_count{event=\"track.added\"} 2\n"),
        "{text}"
    );
    assert_promtool_accepts(&text);
}

#[tokio::test(flavor = "multi_thread")]
async fn participants_report_their_drift_once_per_interval() {
    let app = spawn_app().await;
    let (admin, _) = app.user("admin").await;
    let (outsider, _) = app.user("outsider").await;
    let room = app.room(&admin).await;
    let path = format!("/rooms/{room}/sync-report");

    let taken = app
        .post(&path, &admin, json!({ "clock_offset_ms": -4.5, "drift_ms": 70 }))
        .await;
    assert_eq!(taken.status, StatusCode::ACCEPTED, "{:?}", taken.body);
    let again = app
        .client
        .post(app.url(&path))
        .bearer_auth(&admin)
        .json(&json!({ "clock_offset_ms": 1, "drift_ms": 1 }))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = again.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=5).contains(&retry), "Retry-After {retry}");

    let refused = app
        .post(&path, &outsider, json!({ "clock_offset_ms": 0, "drift_ms": 9999 }))
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{:?}", refused.body);
    let broken = app
        .post(&path, &admin, json!({ "clock_offset_ms": 0, "drift_ms": 1e12 }))
        .await;
    assert_eq!(broken.status, StatusCode::UNPROCESSABLE_ENTITY);
    let wrong = app.post(&path, &admin, json!({ "drift_ms": 3 })).await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    let anonymous = app.client.post(app.url(&path)).json(&json!({})).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    let sync = metrics(&app).await["sync"].clone();
    assert_eq!(sync["drift_ms"]["count"], 1, "only the accepted report counts: {sync}");
    assert_eq!(sync["rooms"][&room]["drift_ms"]["count"], 1);
    assert_eq!(
        sync["rooms"][&room]["drift_ms"]["p95"], 100.0,
        "70 ms falls in (50, 100]"
    );
    assert_eq!(
        sync["rooms"][&room]["clock_offset_ms"]["p50"], 5.0,
        "|-4.5| falls in (2.5, 5]"
    );
    let text = prometheus_text(&app).await;
    assert!(
        text.contains("spotik_api_sync_drift_seconds_bucket{le=\"0.05\"} 0\n"),
        "{text}"
    );
    assert!(
        text.contains("spotik_api_sync_drift_seconds_bucket{le=\"0.1\"} 1\n"),
        "{text}"
    );
}
