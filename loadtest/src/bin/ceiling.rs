//! The ceiling server: the least work an HTTP server can do to give the same
//! answers as spotik-edge and nginx for the benchmark's workloads — status,
//! headers and bytes from memory, prepared at start-up, no file access, no
//! caches, no checks beyond what the workloads need (exact `If-None-Match`,
//! one `bytes=a-b` or `bytes=a-` range). What it reaches on a core is the
//! practical limit of this machine for that core.
//!
//! `ceiling ADDR DIR` serves every regular file of DIR under `/audio/`.

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::collections::HashMap;
use std::convert::Infallible;
use std::os::unix::fs::MetadataExt;
use std::sync::Arc;

struct File {
    bytes: Bytes,
    etag: HeaderValue,
    last_modified: HeaderValue,
    length: HeaderValue,
}

fn load(dir: &str) -> HashMap<String, File> {
    let mut files = HashMap::new();
    for entry in std::fs::read_dir(dir).expect("media dir").flatten() {
        let meta = entry.metadata().expect("metadata");
        if !meta.is_file() {
            continue;
        }
        let bytes = Bytes::from(std::fs::read(entry.path()).expect("read"));
        let modified = std::time::UNIX_EPOCH + std::time::Duration::from_secs(meta.mtime() as u64);
        let file = File {
            etag: HeaderValue::from_str(&format!("\"{:x}-{:x}\"", meta.mtime(), meta.len())).unwrap(),
            last_modified: HeaderValue::from_str(&httpdate::fmt_http_date(modified)).unwrap(),
            length: HeaderValue::from(bytes.len()),
            bytes,
        };
        files.insert(format!("/audio/{}", entry.file_name().to_string_lossy()), file);
    }
    files
}

fn answer(files: &HashMap<String, File>, request: &Request<Incoming>) -> Response<Full<Bytes>> {
    let Some(file) = files.get(request.uri().path()) else {
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = StatusCode::NOT_FOUND;
        return response;
    };
    let mut response = Response::new(Full::new(Bytes::new()));
    let headers = response.headers_mut();
    headers.insert(header::ETAG, file.etag.clone());
    headers.insert(header::LAST_MODIFIED, file.last_modified.clone());
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600, immutable"),
    );
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    // The same headers as the edge (and nginx-compat's media config) send.
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("Content-Length, Content-Range, Accept-Ranges, ETag"),
    );
    if request.headers().get(header::IF_NONE_MATCH) == Some(&file.etag) {
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        return response;
    }
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("audio/mpeg"));
    let range = request
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (start, end) = v.strip_prefix("bytes=")?.split_once('-')?;
            let start: usize = start.parse().ok()?;
            let end = if end.is_empty() {
                file.bytes.len() - 1
            } else {
                end.parse::<usize>().ok()?.min(file.bytes.len() - 1)
            };
            (start <= end).then_some((start, end))
        });
    match range {
        Some((start, end)) => {
            *response.status_mut() = StatusCode::PARTIAL_CONTENT;
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&format!("bytes {start}-{end}/{}", file.bytes.len())).unwrap(),
            );
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(end + 1 - start));
            *response.body_mut() = Full::new(file.bytes.slice(start..end + 1));
        }
        None => {
            response
                .headers_mut()
                .insert(header::CONTENT_LENGTH, file.length.clone());
            *response.body_mut() = Full::new(file.bytes.clone());
        }
    }
    response
}

fn main() {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8090".into());
    let dir = args.next().expect("usage: ceiling ADDR DIR");
    let files = Arc::new(load(&dir));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
        let builder = Arc::new(auto::Builder::new(TokioExecutor::new()));
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let (files, builder) = (Arc::clone(&files), Arc::clone(&builder));
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let response = answer(&files, &request);
                    async move { Ok::<_, Infallible>(response) }
                });
                let _ = builder.serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
}
