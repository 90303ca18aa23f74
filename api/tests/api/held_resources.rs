//! What a hostile visitor can make a replica hold (issue 31): unfinished
//! uploads and unread covers hold no memory, uploads in progress are
//! bounded per user, and a few addresses can neither fill the connections
//! nor keep a newcomer out.

use crate::support::*;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// A connection to the API on `port` from `source` (any 127.0.0.0/8 address).
async fn connect_from(source: &str, port: u16, receive_buffer: Option<u32>) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    if let Some(size) = receive_buffer {
        socket.set_recv_buffer_size(size)?;
    }
    socket.bind(format!("{source}:0").parse().unwrap())?;
    socket.connect(format!("127.0.0.1:{port}").parse().unwrap()).await
}

/// Whether the server has closed `stream` (reads end) within `patience`.
async fn closed_by_server(stream: &mut TcpStream, patience: Duration) -> bool {
    let mut buffer = vec![0u8; 64 * 1024];
    let deadline = Instant::now() + patience;
    loop {
        match tokio::time::timeout_at(deadline.into(), stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

async fn join(api: &ApiProcess, room: &str, token: &str) {
    let joined = reqwest::Client::new()
        .post(format!("{}/rooms/{room}/join", api.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert!(joined.status().is_success(), "{joined:?}");
}

const BOUNDARY: &str = "held-resources-boundary";

/// The head and the first bytes of an upload whose cover is `cover_bytes`
/// long and whose body never ends.
fn unfinished_upload(room: &str, token: &str, cover_bytes: usize) -> Vec<u8> {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"cover_image\"; filename=\"c.png\"\r\n\
         Content-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    body.extend((0..cover_bytes).map(|i| (i * 7 + i / 251) as u8));
    let mut request = format!(
        "POST /api/rooms/{room}/tracks HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {}\r\n\r\n",
        body.len() + 1024 * 1024
    )
    .into_bytes();
    request.extend(body);
    request
}

#[tokio::test(flavor = "multi_thread")]
async fn unfinished_uploads_with_covers_hold_no_memory_and_are_bounded_per_user() {
    let database = TestDatabase::create();
    let database_url = database.url.clone();
    let media = tempfile::tempdir().unwrap();
    let port = free_port();
    let api = ApiProcess::start_with(&database_url, media.path(), port, |command| {
        command.env("MAX_CONNECTIONS_PER_CLIENT", "10000");
    })
    .await;
    let admin = api.user("host").await;
    let room = api.room(&admin).await;
    let mut tokens = Vec::new();
    for n in 0..15 {
        let token = api.user(&format!("uploader{n}")).await;
        join(&api, &room, &token).await;
        tokens.push(token);
    }
    let before = proc_status_kib(api.child.id(), "VmRSS");
    // Two uploads each (the default share), 4 MiB of cover each: 120 MiB
    // if covers were kept in memory until the upload finished.
    let mut held = Vec::new();
    for token in &tokens {
        for _ in 0..2 {
            let mut stream = connect_from("127.0.0.1", port, None).await.unwrap();
            stream
                .write_all(&unfinished_upload(&room, token, 4 * 1024 * 1024))
                .await
                .unwrap();
            held.push(stream);
        }
    }
    // Everything sent has been taken in: on disk, not in memory.
    let on_disk = || {
        std::fs::read_dir(media.path().join(".uploads"))
            .map(|d| {
                d.flatten()
                    .filter_map(|e| e.metadata().ok())
                    .map(|m| m.len())
                    .sum::<u64>()
            })
            .unwrap_or(0)
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while on_disk() < 30 * 4 * 1024 * 1024 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let growth = proc_status_kib(api.child.id(), "VmRSS").saturating_sub(before);
    assert!(
        growth < 40 * 1024,
        "30 unfinished uploads of a 4 MiB cover grew the API by {growth} KiB ({} bytes on disk)",
        on_disk()
    );

    // A third upload of a user with two in progress is refused at once.
    let third = api
        .upload(
            &room,
            &tokens[0],
            "tone.mp3",
            std::fs::read(fixture("tone-1500ms.mp3")).unwrap(),
        )
        .await;
    assert_eq!(third.status, 429, "{:?}", third.body);
    assert!(third.body["message"].as_str().unwrap().contains("uploads in progress"));

    // Abandoned, they give their places back and leave nothing on disk.
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut again = None;
    while Instant::now() < deadline {
        let answer = api
            .upload(
                &room,
                &tokens[0],
                "tone.mp3",
                std::fs::read(fixture("tone-1500ms.mp3")).unwrap(),
            )
            .await;
        if answer.status != 429 {
            again = Some(answer);
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let again = again.expect("the user's places came back");
    assert_eq!(again.status, 201, "{:?}", again.body);
    assert_eq!(on_disk(), 0, "abandoned uploads leave nothing behind");
}

#[tokio::test(flavor = "multi_thread")]
async fn readers_that_never_read_a_cover_hold_no_memory_and_are_let_go() {
    let database = TestDatabase::create();
    let database_url = database.url.clone();
    let media = tempfile::tempdir().unwrap();
    let port = free_port();
    let api = ApiProcess::start_with(&database_url, media.path(), port, |command| {
        command
            .env("MAX_CONNECTIONS_PER_CLIENT", "10000")
            .env("HTTP_BODY_IDLE_TIMEOUT", "2");
    })
    .await;
    // A stored cover of 4 MiB (the route serves what is stored by name).
    let hash = "ab".repeat(32);
    let cover: Vec<u8> = (0..4 * 1024 * 1024u32).map(|i| (i * 31 + i / 4099) as u8).collect();
    let path = media.path().join(format!("covers/ab/ab/{hash}.png"));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, &cover).unwrap();

    let before = proc_status_kib(api.child.id(), "VmRSS");
    let mut readers = Vec::new();
    for _ in 0..60 {
        let mut stream = connect_from("127.0.0.1", port, Some(4096)).await.unwrap();
        stream
            .write_all(format!("GET /api/covers/{hash}.png HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .await
            .unwrap();
        readers.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let growth = proc_status_kib(api.child.id(), "VmRSS").saturating_sub(before);
    assert!(
        growth < 40 * 1024,
        "60 readers of a 4 MiB cover that read nothing grew the API by {growth} KiB"
    );
    // The send timeout (2 s here) lets them go: what they read then ends
    // short of the cover.
    tokio::time::sleep(Duration::from_secs(3)).await;
    for stream in &mut readers {
        let mut received = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut received)).await;
        assert!(read.is_ok(), "a reader that never read is let go");
        assert!(received.len() < cover.len(), "and was not sent the whole cover");
    }
    // A reader that reads gets all of it, byte for byte.
    let whole = reqwest::get(format!("http://127.0.0.1:{port}/api/covers/{hash}.png"))
        .await
        .unwrap();
    assert_eq!(whole.status(), 200);
    assert_eq!(whole.headers()["content-length"], cover.len().to_string().as_str());
    assert!(whole.bytes().await.unwrap() == cover, "the cover, whole");
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_connections_make_way_for_a_newcomer_and_one_address_holds_its_share() {
    let database = TestDatabase::create();
    let database_url = database.url.clone();
    let media = tempfile::tempdir().unwrap();
    let port = free_port();
    let _api = ApiProcess::start_with(&database_url, media.path(), port, |command| {
        command
            .env("MAX_CONNECTIONS", "60")
            .env("MAX_CONNECTIONS_PER_CLIENT", "20");
    })
    .await;
    // One address holds its 20 and no more.
    let mut one = Vec::new();
    for _ in 0..25 {
        one.push(connect_from("127.0.0.2", port, None).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut refused = 0;
    for stream in &mut one {
        if closed_by_server(stream, Duration::from_millis(50)).await {
            refused += 1;
        }
    }
    assert_eq!(refused, 5, "an address past its share is refused");

    // Three more addresses fill every place with idle keep-alive
    // connections (one request answered each, then silence).
    let mut idle = Vec::new();
    for source in ["127.0.0.3", "127.0.0.4", "127.0.0.5"] {
        for _ in 0..20 {
            let mut stream = connect_from(source, port, None).await.unwrap();
            stream
                .write_all(b"GET /api/ping HTTP/1.1\r\nHost: x\r\n\r\n")
                .await
                .unwrap();
            let mut buffer = [0u8; 1024];
            let _ = tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buffer)).await;
            idle.push(stream);
        }
    }
    // Anyone else still gets in: an idle one is closed for them.
    for _ in 0..5 {
        let ping = tokio::time::timeout(
            Duration::from_secs(3),
            reqwest::Client::new()
                .get(format!("http://127.0.0.1:{port}/api/ping"))
                .header("connection", "close")
                .send(),
        )
        .await;
        assert!(
            matches!(&ping, Ok(Ok(r)) if r.status().is_success()),
            "a newcomer is answered while idle connections fill every place: {ping:?}"
        );
    }
}
