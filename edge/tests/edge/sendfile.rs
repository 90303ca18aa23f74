//! Bodies cut from a file in memory leave through `sendfile(2)`: the client
//! sees the same bytes as when they are copied, in order, on one connection.

use crate::support::{pattern, Edge, PATTERN_LEN};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One response read off a raw connection.
struct Answer {
    status: u16,
    head: String,
    body: Vec<u8>,
}

/// Sends every request at once (pipelined) and reads their answers in order.
async fn pipelined(edge: &Edge, requests: &[(&str, &str, &str)]) -> Vec<Answer> {
    let mut stream = TcpStream::connect(edge.addr).await.unwrap();
    let mut out = String::new();
    for (method, path, range) in requests {
        out.push_str(&format!("{method} {path} HTTP/1.1\r\nHost: edge\r\n"));
        if !range.is_empty() {
            out.push_str(&format!("Range: {range}\r\n"));
        }
        out.push_str("\r\n");
    }
    stream.write_all(out.as_bytes()).await.unwrap();
    let mut buffered = Vec::new();
    let mut answers = Vec::new();
    for (method, _, _) in requests {
        let end = loop {
            if let Some(end) = buffered.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            read_more(&mut stream, &mut buffered).await;
        };
        let head = String::from_utf8(buffered.drain(..end).collect()).unwrap();
        let status = head[9..12].parse().unwrap();
        let length: usize = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length: ")
                    .map(|v| v.parse().unwrap())
            })
            .expect("a content length");
        let length = if *method == "HEAD" { 0 } else { length };
        while buffered.len() < length {
            read_more(&mut stream, &mut buffered).await;
        }
        let body = buffered.drain(..length).collect();
        answers.push(Answer { status, head, body });
    }
    assert!(buffered.is_empty(), "{} bytes beyond the last answer", buffered.len());
    answers
}

async fn read_more(stream: &mut TcpStream, into: &mut Vec<u8>) {
    let mut chunk = vec![0; 256 * 1024];
    let n = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut chunk))
        .await
        .expect("the answer comes")
        .unwrap();
    assert!(n > 0, "the connection closed mid-answer");
    into.extend_from_slice(&chunk[..n]);
}

/// The part of a `multipart/byteranges` body that follows its `Content-Range` line.
fn part<'a>(body: &'a [u8], content_range: &str, len: usize) -> &'a [u8] {
    let marker = format!("Content-Range: {content_range}\r\n\r\n");
    let at = body
        .windows(marker.len())
        .position(|w| w == marker.as_bytes())
        .unwrap_or_else(|| panic!("no part {content_range}"))
        + marker.len();
    &body[at..at + len]
}

async fn the_same_bytes_either_way(sendfile: bool) {
    let edge = Edge::with(|config| config.sendfile = sendfile).await;
    let whole = pattern(PATTERN_LEN);
    let mid = pattern(300_000);
    std::fs::write(edge.media.path("mid.mp3"), &mid).unwrap();
    let tone = edge.media.bytes("tone-1500ms.mp3");
    // Read into the small-file cache first (two bytes, below the threshold):
    // until it is, the file is answered from its mapping.
    assert_eq!(
        edge.get_with("/audio/mid.mp3", &[("range", "bytes=0-1")]).await.status,
        206
    );
    edge.until_cached(1).await;
    let answers = pipelined(
        &edge,
        &[
            // Mapped (above the tests' small-file limit), whole and in parts.
            ("GET", "/audio/pattern.mp3", ""),
            ("GET", "/audio/pattern.mp3", "bytes=1000-200999"),
            // The small-file cache's copy.
            ("GET", "/audio/mid.mp3", ""),
            // Below 128 KiB: copied.
            ("GET", "/audio/tone-1500ms.mp3", ""),
            ("GET", "/audio/pattern.mp3", "bytes=0-1"),
            ("GET", "/audio/pattern.mp3", "bytes=0-149999,200000-349999"),
            ("HEAD", "/audio/pattern.mp3", ""),
            ("GET", "/audio/sub/dir/deep.ogg", ""),
            ("GET", "/audio/pattern.mp3", "bytes=-20000"),
            ("GET", "/audio/pattern.mp3", "bytes=500000-599999"),
        ],
    )
    .await;
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [200, 206, 200, 200, 206, 206, 200, 200, 206, 206]);
    assert!(answers[0].body == whole, "the whole mapped file");
    assert!(answers[1].body == whole[1000..201_000], "a range of it");
    assert!(answers[2].body == mid, "a file from the small-file cache");
    assert!(answers[3].body == tone);
    assert_eq!(answers[4].body, whole[..2]);
    let size = PATTERN_LEN;
    assert!(answers[5].head.contains("multipart/byteranges"));
    assert!(part(&answers[5].body, &format!("bytes 0-149999/{size}"), 150_000) == &whole[..150_000]);
    assert!(part(&answers[5].body, &format!("bytes 200000-349999/{size}"), 150_000) == &whole[200_000..350_000]);
    assert!(answers[6].body.is_empty());
    assert!(answers[7].body == pattern(5000));
    assert!(answers[8].body == whole[size - 20_000..]);
    assert!(answers[9].body == whole[500_000..600_000]);

    let expected = if sendfile {
        (PATTERN_LEN + 200_000 + 300_000 + 300_000) as u64
    } else {
        0
    };
    assert_eq!(
        edge.metrics.sendfile_bytes(),
        expected,
        "bytes sent by sendfile: every body of 128 KiB or more cut from a file in memory"
    );
}

#[tokio::test]
async fn bodies_sent_by_sendfile_are_the_files_bytes_in_order() {
    the_same_bytes_either_way(true).await;
}

#[tokio::test]
async fn with_sendfile_off_the_same_bytes_are_copied() {
    the_same_bytes_either_way(false).await;
}

/// HTTP/2 frames interleave body bytes with frame heads: its bodies are copied.
#[tokio::test]
async fn http2_bodies_are_copied() {
    let edge = Edge::start().await;
    let reply = edge.h2("/audio/pattern.mp3", &[]).await;
    assert_eq!(reply.body.len(), PATTERN_LEN);
    assert!(reply.body == pattern(PATTERN_LEN));
    assert_eq!(edge.metrics.sendfile_bytes(), 0);
}
