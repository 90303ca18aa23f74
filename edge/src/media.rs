//! `GET`/`HEAD /audio/<path>` and `/audio/<path>/metadata`.
//!
//! The order of checks is the contract: signature, path and type, existence,
//! preconditions (412/304), then ranges (206/416) — each a call into a pure
//! module, so this file only maps their answers to responses.

use crate::app::App;
use crate::body::{EdgeBody, Segment};
use crate::conditional::{self, Validators, Verdict};
use crate::path::{self, CleanPath};
use crate::range::{self, ByteRange, RangeOutcome};
use crate::response;
use crate::store::{Content, FileEntry, OpenError, Opened};
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use spotik_shared::signed_link::{self, LinkCheck};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

const METADATA_SUFFIX: &[u8] = b"/metadata";
const NOSNIFF: (HeaderName, HeaderValue) = (
    HeaderName::from_static("x-content-type-options"),
    HeaderValue::from_static("nosniff"),
);

pub async fn serve<B>(app: &App, request: &Request<B>, path: &CleanPath, relative: &[u8]) -> Response<EdgeBody> {
    if let Some(secret) = &app.config().signing_secret {
        match check_signature(secret, request, path) {
            LinkCheck::Valid => {}
            LinkCheck::Expired => return response::error(StatusCode::GONE),
            LinkCheck::Invalid => return response::error(StatusCode::FORBIDDEN),
        }
    }
    let (relative, metadata) = match relative.strip_suffix(METADATA_SUFFIX) {
        Some(file) => (file, true),
        None => (relative, false),
    };
    if path::has_dot_segment(relative) || !path::extension(relative).is_some_and(|ext| app.extensions.contains(&ext)) {
        return response::error(StatusCode::NOT_FOUND);
    }
    let opened = match app.store.open(relative).await {
        Ok(opened) => opened,
        Err(OpenError::NotFound) => return response::error(StatusCode::NOT_FOUND),
        Err(OpenError::Forbidden) => return response::error(StatusCode::FORBIDDEN),
        Err(OpenError::Io(error)) => {
            tracing::error!(%error, path = %String::from_utf8_lossy(relative), "cannot read media file");
            return response::error(StatusCode::INTERNAL_SERVER_ERROR);
        }
    };
    let head = request.method() == Method::HEAD;
    if metadata {
        return metadata_response(&opened.entry, head);
    }
    file_response(app, request.headers(), opened, head)
}

fn check_signature<B>(secret: &str, request: &Request<B>, path: &CleanPath) -> LinkCheck {
    let query = request.uri().query().unwrap_or("").as_bytes();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    signed_link::verify(
        secret,
        path.as_bytes(),
        signed_link::query_arg(query, b"md5"),
        signed_link::query_arg(query, b"expires"),
        now,
    )
}

fn file_response(app: &App, headers: &HeaderMap, opened: Opened, head: bool) -> Response<EdgeBody> {
    let entry = &opened.entry;
    let validators = Validators {
        etag: entry.etag.as_bytes(),
        modified: entry.modified,
    };
    match conditional::evaluate(headers, validators) {
        Verdict::PreconditionFailed => return response::error(StatusCode::PRECONDITION_FAILED),
        Verdict::NotModified => {
            let mut response = response::with_status(StatusCode::NOT_MODIFIED, EdgeBody::empty());
            validator_headers(app, entry, response.headers_mut());
            return response;
        }
        Verdict::Proceed => {}
    }
    let outcome = match headers.get(header::RANGE) {
        Some(range)
            if conditional::if_range_allows(headers.get(header::IF_RANGE).map(HeaderValue::as_bytes), validators) =>
        {
            range::evaluate(range.as_bytes(), entry.size, app.config().max_ranges)
        }
        _ => RangeOutcome::Full,
    };
    let (status, kind, body) = match outcome {
        RangeOutcome::Full => (
            StatusCode::OK,
            Kind::Whole,
            single_body(
                app,
                &opened,
                ByteRange {
                    start: 0,
                    end: entry.size,
                },
            ),
        ),
        RangeOutcome::Single(range) => (
            StatusCode::PARTIAL_CONTENT,
            Kind::Part(range),
            single_body(app, &opened, range),
        ),
        RangeOutcome::Multiple(ranges) => {
            let (boundary, body) = multipart_body(app, &opened, &ranges);
            (StatusCode::PARTIAL_CONTENT, Kind::Multipart(boundary), body)
        }
        RangeOutcome::Unsatisfiable => return unsatisfiable(app, entry.size),
    };
    let mut response = response::with_status(status, EdgeBody::empty());
    let out = response.headers_mut();
    validator_headers(app, entry, out);
    match kind {
        Kind::Whole => {
            out.insert(header::CONTENT_TYPE, entry.content_type.clone());
            out.insert(header::CONTENT_LENGTH, entry.content_length.clone());
        }
        Kind::Part(range) => {
            out.insert(header::CONTENT_TYPE, entry.content_type.clone());
            out.insert(header::CONTENT_LENGTH, HeaderValue::from(range.len()));
            out.insert(header::CONTENT_RANGE, content_range(range, entry.size));
        }
        Kind::Multipart(boundary) => {
            out.insert(header::CONTENT_TYPE, multipart_type(&boundary));
            out.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        }
    }
    if !head {
        *response.body_mut() = body;
    }
    response
}

/// What a 200/206 holds.
enum Kind {
    Whole,
    Part(ByteRange),
    Multipart(String),
}

/// ETag, Last-Modified, Cache-Control, Accept-Ranges, nosniff and CORS: on every 200/206/304.
fn validator_headers(app: &App, entry: &FileEntry, out: &mut HeaderMap) {
    out.reserve(12);
    out.insert(header::ETAG, entry.etag.clone());
    out.insert(header::LAST_MODIFIED, entry.last_modified.clone());
    out.insert(header::CACHE_CONTROL, app.cache_control.clone());
    out.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    out.insert(NOSNIFF.0, NOSNIFF.1);
    if let Some(cors) = &app.cors {
        cors.apply(out);
    }
}

fn unsatisfiable(app: &App, size: u64) -> Response<EdgeBody> {
    let mut response = response::error(StatusCode::RANGE_NOT_SATISFIABLE);
    let out = response.headers_mut();
    out.insert(
        header::CONTENT_RANGE,
        HeaderValue::from_str(&format!("bytes */{size}")).expect("digits are a valid header"),
    );
    if let Some(cors) = &app.cors {
        cors.apply(out);
    }
    response
}

fn content_range(range: ByteRange, size: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("bytes {}-{}/{size}", range.start, range.end - 1))
        .expect("digits are a valid header")
}

fn segment(app: &App, opened: &Opened, range: ByteRange) -> Segment {
    match &opened.content {
        Content::Memory(bytes) => Segment::Memory(bytes.slice(range.start as usize..range.end as usize)),
        Content::Disk => Segment::File {
            entry: Arc::clone(&opened.entry),
            offset: range.start,
            remaining: range.len(),
            via: app.disk_reads.clone(),
        },
    }
}

fn single_body(app: &App, opened: &Opened, range: ByteRange) -> EdgeBody {
    EdgeBody::from_segments([segment(app, opened, range)])
}

/// `multipart/byteranges` laid out as nginx does: each part preceded by
/// CRLF, the boundary line, Content-Type and Content-Range; a closing
/// boundary line after the last.
fn multipart_body(app: &App, opened: &Opened, ranges: &[ByteRange]) -> (String, EdgeBody) {
    static NEXT_BOUNDARY: AtomicU64 = AtomicU64::new(1);
    let boundary = format!("{:020}", NEXT_BOUNDARY.fetch_add(1, Ordering::Relaxed));
    let entry = &opened.entry;
    let content_type = entry.content_type.to_str().unwrap_or("application/octet-stream");
    let mut segments = Vec::with_capacity(ranges.len() * 2 + 1);
    for range in ranges {
        let head = format!(
            "\r\n--{boundary}\r\nContent-Type: {content_type}\r\nContent-Range: bytes {}-{}/{}\r\n\r\n",
            range.start,
            range.end - 1,
            entry.size
        );
        segments.push(Segment::Memory(Bytes::from(head)));
        segments.push(segment(app, opened, *range));
    }
    segments.push(Segment::Memory(Bytes::from(format!("\r\n--{boundary}--\r\n"))));
    (boundary, EdgeBody::from_segments(segments))
}

fn multipart_type(boundary: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("multipart/byteranges; boundary={boundary}")).expect("digits are a valid header")
}

fn metadata_response(entry: &FileEntry, head: bool) -> Response<EdgeBody> {
    let json = serde_json::json!({
        "filename": entry.filename,
        "size": entry.size,
        "mime_type": entry.content_type.to_str().unwrap_or_default(),
        "last_modified": entry.last_modified.to_str().unwrap_or_default(),
        "etag": entry.etag.to_str().unwrap_or_default(),
    });
    let mut response = response::content(StatusCode::OK, "application/json", json.to_string(), head);
    let out = response.headers_mut();
    out.insert(header::ETAG, entry.etag.clone());
    out.insert(header::LAST_MODIFIED, entry.last_modified.clone());
    response
}
