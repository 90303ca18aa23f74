//! Bodies that never finish: every body has an idle deadline, and unsigned
//! or unauthenticated requests are refused before their bodies are read
//! (issue 19, item 3).

use crate::support::*;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A connection that sent `head` and then dribbles a body byte every
/// `every`; returns when the server answers or closes, with how long that took.
async fn dribble(port: u16, head: String, every: Duration, patience: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
    stream.write_all(head.as_bytes()).await.ok()?;
    let mut buffer = [0u8; 512];
    while started.elapsed() < patience {
        match tokio::time::timeout(every, stream.read(&mut buffer)).await {
            Ok(_) => return Some(started.elapsed()),
            Err(_) => {
                if stream.write_all(b"x").await.is_err() {
                    return Some(started.elapsed());
                }
            }
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread")]
async fn three_hundred_dribbling_anonymous_bodies_neither_hold_on_nor_starve_ping() {
    let database = TestDatabase::create();
    let database_url = database.url.clone();
    let media = tempfile::tempdir().unwrap();
    let port = free_port();
    let _api = ApiProcess::start_with(&database_url, media.path(), port, |command| {
        command.env("HTTP_BODY_IDLE_TIMEOUT", "2");
        limit_descriptors(command, 256);
    })
    .await;
    let heads = [
        // Pusher's HTTP API, unsigned: refused before its body.
        "POST /apps/spotik/events HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n",
        // An upload with no token: refused before its body.
        "POST /api/rooms/00000000-0000-0000-0000-000000000000/tracks HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n",
        // Any other route with the upload's header: under the request deadline.
        "POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n",
    ];
    let dribblers: Vec<_> = (0..300)
        .map(|n| {
            let head = heads[n % heads.len()].to_owned();
            tokio::spawn(dribble(port, head, Duration::from_secs(1), Duration::from_secs(20)))
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let ping = tokio::time::timeout(
        Duration::from_secs(3),
        reqwest::get(format!("http://127.0.0.1:{port}/api/ping")),
    )
    .await;
    assert!(
        matches!(&ping, Ok(Ok(r)) if r.status().is_success()),
        "ping answers while 300 bodies dribble: {ping:?}"
    );
    let mut released = Vec::new();
    for dribbler in dribblers {
        released.push(dribbler.await.unwrap());
    }
    let held = released.iter().filter(|r| r.is_none()).count();
    assert_eq!(held, 0, "connections still held after 20 s");
    let slowest = released.iter().flatten().max().unwrap();
    assert!(
        *slowest < Duration::from_secs(12),
        "the slowest was let go after {slowest:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upload_that_stops_coming_is_ended_and_leaves_nothing() {
    let database = TestDatabase::create();
    let database_url = database.url.clone();
    let media = tempfile::tempdir().unwrap();
    let port = free_port();
    let api = ApiProcess::start_with(&database_url, media.path(), port, |command| {
        command.env("HTTP_BODY_IDLE_TIMEOUT", "2");
    })
    .await;
    let token = api.user("slowpoke").await;
    let room = api.room(&token).await;
    let head = format!(
        "POST /api/rooms/{room}/tracks HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n\
         --b\r\nContent-Disposition: form-data; name=\"audio_file\"; filename=\"a.wav\"\r\n\r\nRIFF"
    );
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let mut answer = String::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut answer)).await;
    assert!(read.is_ok(), "the stalled upload was ended");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(6), "{:?}", started.elapsed());
    let uploads = std::fs::read_dir(media.path().join(".uploads"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(uploads, 0, "the partial upload is removed");
}
