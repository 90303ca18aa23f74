//! A file shortened in place while it is mapped must not end the process:
//! touching a page the file no longer backs raises SIGBUS, whose default
//! action killed the edge (exit 135) when an HTTP/2 client asked past the
//! new end. The real binary runs here, so that a fault shows as its death.

use crate::support::{eventually, pattern};
use bytes::Bytes;
use http::{Request, StatusCode, Version};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const LEN: usize = 4 * 1024 * 1024;
const LEFT: u64 = 4096;

struct EdgeProcess(Child);

impl Drop for EdgeProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The status and, if it all arrived, the body; `None` if the answer broke.
async fn ask(version: Version, url: &str, range: Option<&str>) -> Option<(StatusCode, Bytes)> {
    let client = Client::builder(TokioExecutor::new())
        .http2_only(version == Version::HTTP_2)
        .build_http::<Empty<Bytes>>();
    let mut request = Request::builder().uri(url);
    if let Some(range) = range {
        request = request.header("range", range);
    }
    let response = client.request(request.body(Empty::new()).unwrap()).await.ok()?;
    let status = response.status();
    let body = response.into_body().collect().await.ok()?.to_bytes();
    Some((status, body))
}

#[tokio::test]
async fn a_file_shortened_while_mapped_ends_answers_never_the_process() {
    let root = tempfile::tempdir().unwrap();
    let file = pattern(LEN);
    let versions = [Version::HTTP_2, Version::HTTP_11];
    for n in 0..versions.len() {
        std::fs::write(root.path().join(format!("long{n}.mp3")), &file).unwrap();
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut edge = EdgeProcess(
        Command::new(env!("CARGO_BIN_EXE_spotik-edge"))
            .env("EDGE_ROOT", root.path())
            .env("EDGE_LISTEN", format!("127.0.0.1:{port}"))
            .env("EDGE_IO", "mmap")
            .env("EDGE_SMALL_FILE_MAX", "1M")
            .env("EDGE_SENDFILE", "false")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    eventually("the edge serves", || async {
        ask(Version::HTTP_11, &format!("http://127.0.0.1:{port}/health"), None)
            .await
            .is_some()
    })
    .await;
    for (n, version) in versions.into_iter().enumerate() {
        let path = root.path().join(format!("long{n}.mp3"));
        let url = format!("http://127.0.0.1:{port}/audio/long{n}.mp3");
        // Mapped and its length cached for a minute (EDGE_META_VALID).
        let (status, head) = ask(version, &url, Some("bytes=0-99")).await.expect("answered");
        assert_eq!((status, &head[..]), (StatusCode::PARTIAL_CONTENT, &file[..100]));
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(LEFT)
            .unwrap();

        let past_the_end = ask(version, &url, Some("bytes=2000000-2099999")).await;
        assert!(
            past_the_end.is_none(),
            "{version:?}: bytes the file no longer has are not sent: {:?}",
            past_the_end.map(|(status, body)| (status, body.len()))
        );
        let whole = ask(version, &url, None).await;
        assert!(whole.is_none(), "{version:?}: nor is the old length of it");
        assert!(
            edge.0.try_wait().unwrap().is_none(),
            "{version:?}: the edge is still running"
        );

        // The file as it is now is served at once, not after a minute.
        eventually("the shortened file is served as it is", || async {
            ask(version, &url, None).await == Some((StatusCode::OK, Bytes::copy_from_slice(&file[..LEFT as usize])))
        })
        .await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(edge.0.try_wait().unwrap().is_none(), "the edge is still running");
}
