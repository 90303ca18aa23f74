//! A track change as the server sees it: every listener of a room asks for
//! the new track's first range at the same instant.
//!
//! ```text
//! track-change --server 127.0.0.1:8080 --target '/audio/t.mp3?md5=…&expires=…' [--listeners 500] [--warm]
//! ```
//!
//! Opens `--listeners` connections first, then sends `GET target` with
//! `Range: bytes=0-` on all of them at once and times each to the first
//! byte of its answer (the status line), then hangs up, as a player that
//! has what it needs to start does not read the track at full speed. With
//! `--warm`, one `Range: bytes=0-65535` request for the same target is
//! answered first, as the API's warm-up at the previous track's start
//! would have been. Prints `RESULT listeners= ok= p50_ms= p99_ms= max_ms=`.
//!
//! With `--pieces 0-65535,65536-589823`, each listener instead reads those
//! ranges whole, one after the other on fresh connections, as the web app
//! fetches a track's first pieces before it can start, and the line adds
//! `ready_p50_ms= ready_p99_ms=`: when the last piece had arrived.

use spotik_loadtest::quantile;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::Barrier;

fn request(server: SocketAddr, target: &str, range: &str) -> String {
    format!("GET {target} HTTP/1.1\r\nHost: {server}\r\nRange: bytes={range}\r\nConnection: close\r\n\r\n")
}

/// One listener: connected before the change, then the first byte timed.
async fn listener(server: SocketAddr, head: Arc<String>, start: Arc<Barrier>) -> Option<u64> {
    let stream = TcpStream::connect(server).await;
    // Everyone waits at the barrier, connected or not, so that one refused
    // connection cannot hold the others forever.
    start.wait().await;
    let stream = stream.ok()?;
    stream.set_nodelay(true).ok()?;
    let mut reader = BufReader::new(stream);
    let sent = Instant::now();
    reader.get_mut().write_all(head.as_bytes()).await.ok()?;
    let mut line = String::new();
    reader.read_line(&mut line).await.ok()?;
    let waited = sent.elapsed().as_micros() as u64;
    line.starts_with("HTTP/1.1 206").then_some(waited)
}

/// One listener reading `pieces` whole: (first byte, all read) in µs.
async fn reader(server: SocketAddr, heads: Arc<Vec<String>>, start: Arc<Barrier>) -> Option<(u64, u64)> {
    let first = TcpStream::connect(server).await;
    start.wait().await;
    let mut stream = Some(first.ok()?);
    let sent = Instant::now();
    let mut first_byte = None;
    for head in heads.iter() {
        let mut connection = match stream.take() {
            Some(connection) => connection,
            None => TcpStream::connect(server).await.ok()?,
        };
        connection.set_nodelay(true).ok()?;
        connection.write_all(head.as_bytes()).await.ok()?;
        let mut answer = Vec::new();
        let mut buf = [0u8; 64 * 1024];
        loop {
            let n = connection.read(&mut buf).await.ok()?;
            if n == 0 {
                break;
            }
            first_byte.get_or_insert_with(|| sent.elapsed().as_micros() as u64);
            answer.extend_from_slice(&buf[..n]);
        }
        if !answer.starts_with(b"HTTP/1.1 206") {
            return None;
        }
    }
    Some((first_byte?, sent.elapsed().as_micros() as u64))
}

/// The warm-up: a first range read to the end, as the API sends it.
async fn warm(server: SocketAddr, target: &str) {
    let mut stream = TcpStream::connect(server).await.expect("connect for the warm-up");
    stream
        .write_all(request(server, target, "0-65535").as_bytes())
        .await
        .expect("warm-up sent");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("warm-up answered");
    assert!(answer.starts_with(b"HTTP/1.1 206"), "the warm-up was refused");
}

#[tokio::main]
async fn main() {
    let args = spotik_loadtest::Args::from_env();
    let server: SocketAddr = args
        .get("--server")
        .expect("--server host:port")
        .parse()
        .expect("--server host:port");
    let target = args.get("--target").expect("--target /path?query");
    let listeners: usize = args.get("--listeners").map_or(500, |n| n.parse().expect("--listeners"));
    if args.has("--warm") {
        warm(server, &target).await;
    }
    let start = Arc::new(Barrier::new(listeners));
    if let Some(pieces) = args.get("--pieces") {
        let heads = Arc::new(pieces.split(',').map(|range| request(server, &target, range)).collect());
        let tasks: Vec<_> = (0..listeners)
            .map(|_| tokio::spawn(reader(server, Arc::clone(&heads), Arc::clone(&start))))
            .collect();
        let (mut firsts, mut readies) = (Vec::new(), Vec::new());
        for task in tasks {
            if let Ok(Some((first, ready))) = task.await {
                firsts.push(first);
                readies.push(ready);
            }
        }
        readies.sort_unstable();
        println!(
            "RESULT listeners={listeners} {} ready_p50_ms={:.2} ready_p99_ms={:.2}",
            first_bytes(firsts),
            ms(quantile(&readies, 0.5)),
            ms(quantile(&readies, 0.99)),
        );
        return;
    }
    let head = Arc::new(request(server, &target, "0-"));
    let tasks: Vec<_> = (0..listeners)
        .map(|_| tokio::spawn(listener(server, Arc::clone(&head), Arc::clone(&start))))
        .collect();
    let mut waits = Vec::with_capacity(listeners);
    for task in tasks {
        if let Ok(Some(waited)) = task.await {
            waits.push(waited);
        }
    }
    println!("RESULT listeners={listeners} {}", first_bytes(waits));
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// `ok= p50_ms= p99_ms= max_ms=` of the listeners' waits for a first byte (µs).
fn first_bytes(mut waits: Vec<u64>) -> String {
    waits.sort_unstable();
    format!(
        "ok={} p50_ms={:.2} p99_ms={:.2} max_ms={:.2}",
        waits.len(),
        ms(quantile(&waits, 0.5)),
        ms(quantile(&waits, 0.99)),
        ms(waits.last().copied().unwrap_or(0)),
    )
}
