//! `GET`/`HEAD /audio/<path>` and `/audio/<path>/metadata`.
//!
//! The order of checks is the contract: signature, path and type, existence,
//! preconditions (412/304), then ranges (206/416) — each a call into a pure
//! module, so this file only maps their answers to responses.

use crate::app::App;
use crate::body::{EdgeBody, Segment};
use crate::conditional::{self, Validators, Verdict};
use crate::headers;
use crate::path::{self, CleanPath};
use crate::range::{self, ByteRange, RangeOutcome};
use crate::response;
use crate::sendfile::FileSlices;
use crate::store::{Content, FileEntry, OpenError, Opened};
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use spotik_shared::signed_link::{self, LinkCheck};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

const METADATA_SUFFIX: &[u8] = b"/metadata";

pub async fn serve<B>(app: &App, request: &Request<B>, path: &CleanPath<'_>, relative: &[u8]) -> Response<EdgeBody> {
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
    if path::has_dot_segment(relative) || !path::raw_extension(relative).is_some_and(|ext| app.serves_extension(ext)) {
        return response::error(StatusCode::NOT_FOUND);
    }
    let entry = match app.store().open(relative).await {
        Ok(entry) => entry,
        Err(error) => return open_failed(error, relative),
    };
    let head = request.method() == Method::HEAD;
    if metadata {
        return metadata_response(&entry, head);
    }
    file_response(app, request.headers(), relative, entry, head).await
}

fn open_failed(error: OpenError, relative: &[u8]) -> Response<EdgeBody> {
    match error {
        OpenError::NotFound => response::error(StatusCode::NOT_FOUND),
        OpenError::Forbidden => response::error(StatusCode::FORBIDDEN),
        OpenError::Io(error) => {
            tracing::error!(%error, path = %String::from_utf8_lossy(relative), "cannot read media file");
            response::error(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

fn check_signature<B>(secret: &str, request: &Request<B>, path: &CleanPath<'_>) -> LinkCheck {
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

async fn file_response(
    app: &App,
    headers: &HeaderMap,
    relative: &[u8],
    entry: Arc<FileEntry>,
    head: bool,
) -> Response<EdgeBody> {
    let validators = Validators {
        etag: entry.etag.as_bytes(),
        modified: entry.modified,
    };
    match conditional::evaluate(headers, validators) {
        Verdict::PreconditionFailed => return response::error(StatusCode::PRECONDITION_FAILED),
        Verdict::NotModified => {
            let mut response = response::with_status(StatusCode::NOT_MODIFIED, EdgeBody::empty());
            *response.headers_mut() = entry.not_modified_headers.clone();
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
    let kind = match outcome {
        RangeOutcome::Full => Kind::Whole,
        RangeOutcome::Single(range) => Kind::Part(range),
        RangeOutcome::Multiple(ranges) => Kind::Parts(ranges),
        RangeOutcome::Unsatisfiable => return unsatisfiable(app, entry.size),
    };
    // HEAD needs the headers only (lengths come from file regions that are
    // never read); GET reads the bytes, or finds them cached.
    let opened = if head {
        Opened {
            entry,
            content: Content::Disk,
        }
    } else {
        match app.store().read(relative, entry).await {
            Ok(opened) => opened,
            Err(error) => return open_failed(error, relative),
        }
    };
    let entry = &opened.entry;
    let mut layout = Layout::new(app, &opened);
    let (status, boundary) = match &kind {
        Kind::Whole => {
            layout.file(ByteRange {
                start: 0,
                end: entry.size,
            });
            (StatusCode::OK, None)
        }
        Kind::Part(range) => {
            layout.file(*range);
            (StatusCode::PARTIAL_CONTENT, None)
        }
        Kind::Parts(ranges) => (StatusCode::PARTIAL_CONTENT, Some(layout.multipart(ranges))),
    };
    let (body, slices) = layout.finish();
    let mut response = response::with_status(status, EdgeBody::empty());
    let out = response.headers_mut();
    match (kind, &entry.probe_headers) {
        (Kind::Whole, _) => out.clone_from(&entry.ok_headers),
        // Safari's `bytes=0-1` probe, answered with the map prepared for it.
        (Kind::Part(range), Some(probe)) if range.start == 0 && range.end == 2 => out.clone_from(probe),
        (Kind::Part(range), _) => {
            out.clone_from(&entry.ok_headers);
            out.insert(header::CONTENT_LENGTH, HeaderValue::from(range.len()));
            out.insert(header::CONTENT_RANGE, headers::content_range(range, entry.size));
        }
        (Kind::Parts(_), _) => {
            out.clone_from(&entry.ok_headers);
            out.insert(
                header::CONTENT_TYPE,
                multipart_type(boundary.as_deref().unwrap_or_default()),
            );
            out.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        }
    }
    if !head {
        *response.body_mut() = body;
        if let Some(slices) = slices {
            response.extensions_mut().insert(slices);
        }
    }
    response
}

/// What a 200/206 holds.
enum Kind {
    Whole,
    Part(ByteRange),
    Parts(Vec<ByteRange>),
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

/// A 200/206 body laid out segment by segment, with the segments cut from
/// a file in memory that are worth sending from the file (`sendfile`): the
/// same slice is the body's segment and the offer, so the socket writer
/// finds the offer at the very addresses hyper writes.
struct Layout<'a> {
    app: &'a App,
    opened: &'a Opened,
    segments: Vec<Segment>,
    slices: FileSlices,
}

impl<'a> Layout<'a> {
    fn new(app: &'a App, opened: &'a Opened) -> Self {
        Self {
            app,
            opened,
            segments: Vec::new(),
            slices: FileSlices::default(),
        }
    }

    /// The file's bytes in `range`.
    fn file(&mut self, range: ByteRange) {
        let entry = &self.opened.entry;
        let segment = match &self.opened.content {
            Content::Memory(bytes) => {
                let part = bytes.slice(range.start as usize..range.end as usize);
                if self.app.config().sendfile && FileSlices::worth_sending(range.len()) {
                    self.slices.push(part.clone(), range.start, entry);
                }
                Segment::Memory(part)
            }
            Content::Mapped(mapped) => {
                let part = mapped.bytes().slice(range.start as usize..range.end as usize);
                if self.app.config().sendfile && FileSlices::worth_sending(range.len()) {
                    self.slices.push(part.clone(), range.start, entry);
                }
                Segment::Mapped {
                    bytes: part,
                    offset: range.start,
                    entry: Arc::clone(entry),
                    mapped: mapped.clone(),
                }
            }
            Content::Disk => Segment::File {
                entry: Arc::clone(entry),
                offset: range.start,
                remaining: range.len(),
                via: self.app.disk_reads.clone(),
            },
        };
        self.segments.push(segment);
    }

    fn text(&mut self, text: String) {
        self.segments.push(Segment::Memory(Bytes::from(text)));
    }

    /// `multipart/byteranges` laid out as nginx does: each part preceded
    /// by CRLF, the boundary line, Content-Type and Content-Range; a
    /// closing boundary line after the last. Returns the boundary.
    fn multipart(&mut self, ranges: &[ByteRange]) -> String {
        static NEXT_BOUNDARY: AtomicU64 = AtomicU64::new(1);
        let boundary = format!("{:020}", NEXT_BOUNDARY.fetch_add(1, Ordering::Relaxed));
        let entry = &self.opened.entry;
        let content_type = entry.content_type.to_str().unwrap_or("application/octet-stream");
        self.segments.reserve(ranges.len() * 2 + 1);
        for range in ranges {
            self.text(format!(
                "\r\n--{boundary}\r\nContent-Type: {content_type}\r\nContent-Range: bytes {}-{}/{}\r\n\r\n",
                range.start,
                range.end - 1,
                entry.size
            ));
            self.file(*range);
        }
        self.text(format!("\r\n--{boundary}--\r\n"));
        boundary
    }

    fn finish(self) -> (EdgeBody, Option<FileSlices>) {
        let slices = (!self.slices.is_empty()).then_some(self.slices);
        (EdgeBody::from_segments(self.segments), slices)
    }
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
