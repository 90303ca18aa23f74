//! Receiving an upload: every file of a multipart body (the audio and its
//! cover) and every raw body (a cover as JSON) is streamed to a temporary
//! file in the media root while it is hashed and counted. The size limit is
//! enforced as bytes arrive — a client sending 51 MiB is stopped at 50 — so
//! nothing a client is still sending is held in memory (a cover kept there
//! let 150 unfinished uploads take 760 MiB), and a refused upload leaves no
//! file behind (the temporary file is removed when [`Received`] is dropped).

use crate::files::storage;
use crate::http::error::{ApiError, ApiResult};
use futures_util::StreamExt;
use salvo::prelude::*;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

/// A complete upload on disk; deleted on drop unless [`Received::keep`] is called.
pub struct Received {
    pub path: PathBuf,
    pub original_name: String,
    pub size: u64,
    pub sha256: String,
    kept: bool,
    /// Open with an exclusive lock for as long as the upload is handled:
    /// the sweep of orphaned partial uploads leaves locked files alone, and
    /// the lock dies with the process however it ends.
    _held: std::fs::File,
}

impl Received {
    /// The file was moved away (or deliberately left): do not delete it.
    pub fn keep(mut self) {
        self.kept = true;
    }
}

impl Drop for Received {
    fn drop(&mut self) {
        if !self.kept {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Removes a partial file if the upload fails half way.
struct Partial(Option<PathBuf>);

impl Drop for Partial {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// A multipart form as the front end sends it: the audio file and the cover
/// image streamed to disk, and small text fields (`genre_id`).
#[derive(Default)]
pub struct Form {
    pub audio: Option<Received>,
    pub cover: Option<Received>,
    pub fields: Vec<(String, String)>,
}

impl Form {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.trim().is_empty())
    }
}

/// The largest parts a form may hold.
#[derive(Clone, Copy)]
pub struct FormLimits {
    pub audio_bytes: u64,
    pub cover_bytes: u64,
    /// Longest gap between two chunks of the body (`HTTP_BODY_IDLE_TIMEOUT`).
    pub idle: std::time::Duration,
    /// Longest a whole upload may take (`UPLOAD_TIMEOUT`).
    pub total: std::time::Duration,
}

impl FormLimits {
    /// The configured limits for a form of `audio_bytes` and `cover_bytes`.
    pub fn new(config: &crate::config::Config, audio_bytes: u64, cover_bytes: u64) -> Self {
        Self {
            audio_bytes,
            cover_bytes,
            idle: config.body_idle_timeout,
            total: config.upload_timeout,
        }
    }
}

/// Text fields are ids and names: anything longer is not one of ours.
const MAX_TEXT_FIELD: usize = 1024;
const MAX_FIELDS: usize = 16;

/// Reads a multipart body: `audio_file` and `cover_image` are streamed into
/// `dir` while they are hashed and counted, other file parts drained and
/// ignored. Every part is bounded as it arrives.
///
/// A body must keep coming: a gap longer than `limits.idle` between two
/// chunks, or a whole upload longer than `limits.total`, ends it with a 408
/// (what is written so far is removed), so a client cannot hold the
/// connection by sending a byte now and then.
pub async fn receive_form(req: &mut Request, dir: &Path, limits: FormLimits) -> ApiResult<Form> {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let content_type = header("content-type").unwrap_or("").to_owned();
    let announced = header("content-length").and_then(|v| v.parse::<u64>().ok());
    let (body, stalled) = paced_body(req, limits.idle);
    within_time(
        limits.total,
        &stalled,
        read_form(&content_type, announced, body, dir, limits),
    )
    .await
}

/// Streams a whole raw body (a JSON cover, say) to a temporary file in
/// `dir`, at most `max_bytes` (refused with `refuse`), under the same
/// deadlines as a form.
pub async fn receive_body(
    req: &mut Request,
    dir: &Path,
    max_bytes: u64,
    refuse: fn(u64) -> ApiError,
    limits: FormLimits,
) -> ApiResult<Received> {
    let announced = req
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|length| length > max_bytes) {
        return Err(refuse(max_bytes));
    }
    let (body, stalled) = paced_body(req, limits.idle);
    let mut chunks = Box::pin(body.map(|chunk| chunk.map_err(|_| interrupted())));
    within_time(
        limits.total,
        &stalled,
        receive_chunks(&mut chunks, dir, "body", max_bytes, refuse),
    )
    .await
}

/// Whether a body's gap between chunks ran out: then its failure is a 408.
type Stalled = std::sync::Arc<std::sync::atomic::AtomicBool>;

/// The request's body as a byte stream that fails when a chunk takes longer
/// than `idle` to come, noting that in the flag returned.
fn paced_body(
    req: &mut Request,
    idle: std::time::Duration,
) -> (
    impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static,
    Stalled,
) {
    let stalled = Stalled::default();
    let noted = std::sync::Arc::clone(&stalled);
    // The body stream yields frames; multer wants the data ones.
    let frames = req.take_body();
    let body = futures_util::stream::unfold(frames, move |mut frames| {
        let noted = std::sync::Arc::clone(&noted);
        async move {
            let item = match tokio::time::timeout(idle, frames.next()).await {
                Err(_) => {
                    noted.store(true, std::sync::atomic::Ordering::Relaxed);
                    Err(std::io::Error::from(std::io::ErrorKind::TimedOut))
                }
                Ok(None) => return None,
                Ok(Some(Ok(frame))) => Ok(frame.into_data().unwrap_or_default()),
                Ok(Some(Err(error))) => Err(std::io::Error::other(error.to_string())),
            };
            Some((item, frames))
        }
    });
    (body, stalled)
}

/// `receive` within `total`; a body too slow in all or between two chunks
/// is a 408 (what was written so far is removed as `receive` is dropped).
async fn within_time<T>(
    total: std::time::Duration,
    stalled: &Stalled,
    receive: impl std::future::Future<Output = ApiResult<T>>,
) -> ApiResult<T> {
    let too_slow = || ApiError::RequestTimeout("The upload arrived too slowly".into());
    match tokio::time::timeout(total, receive).await {
        Err(_) => Err(too_slow()),
        Ok(Err(_)) if stalled.load(std::sync::atomic::Ordering::Relaxed) => Err(too_slow()),
        Ok(read) => read,
    }
}

/// [`receive_form`] on any byte stream: the parser of untrusted input, apart
/// from the HTTP request it usually comes from.
pub async fn read_form<S>(
    content_type: &str,
    announced: Option<u64>,
    body: S,
    dir: &Path,
    limits: FormLimits,
) -> ApiResult<Form>
where
    S: futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static,
{
    let boundary = multer::parse_boundary(content_type).map_err(|_| {
        ApiError::UnsupportedMediaType("Send the file as multipart/form-data in the field audio_file".into())
    })?;
    // Framing adds a little; anything announced well beyond the limit is refused before reading.
    if announced.is_some_and(|length| length > limits.audio_bytes + limits.cover_bytes + 64 * 1024) {
        return Err(too_large(limits.audio_bytes.max(limits.cover_bytes)));
    }
    let mut multipart = multer::Multipart::new(body, boundary);
    let mut form = Form::default();
    let mut parts = 0;
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|_| ApiError::BadRequest("Malformed multipart body".into()))?
    {
        parts += 1;
        if parts > MAX_FIELDS {
            return Err(ApiError::BadRequest("Too many parts in the form".into()));
        }
        let name = field.name().unwrap_or("").to_owned();
        match name.as_str() {
            "audio_file" if form.audio.is_none() => {
                form.audio = Some(receive_file(&mut field, dir, limits.audio_bytes, too_large).await?);
            }
            "cover_image" if form.cover.is_none() => {
                form.cover = Some(receive_file(&mut field, dir, limits.cover_bytes, cover_too_large).await?);
            }
            // A second audio file or cover is ignored, as other files are.
            "audio_file" | "cover_image" => while field.chunk().await.map_err(|_| interrupted())?.is_some() {},
            _ if field.file_name().is_some() => while field.chunk().await.map_err(|_| interrupted())?.is_some() {},
            _ => {
                let value = read_bounded(&mut field, MAX_TEXT_FIELD as u64, |_| {
                    ApiError::field("form", "A text field of the form is too long.")
                })
                .await?;
                let value = String::from_utf8(value).map_err(|_| ApiError::field(&name, "Not valid text."))?;
                form.fields.push((name, value));
            }
        }
    }
    Ok(form)
}

fn interrupted() -> ApiError {
    ApiError::BadRequest("The upload was interrupted".into())
}

async fn read_bounded(
    field: &mut multer::Field<'_>,
    max_bytes: u64,
    refuse: fn(u64) -> ApiError,
) -> ApiResult<Vec<u8>> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(|_| interrupted())? {
        if (bytes.len() + chunk.len()) as u64 > max_bytes {
            return Err(refuse(max_bytes));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

async fn receive_file(
    field: &mut multer::Field<'_>,
    dir: &Path,
    max_bytes: u64,
    refuse: fn(u64) -> ApiError,
) -> ApiResult<Received> {
    let name = field.file_name().unwrap_or("upload").to_owned();
    let mut chunks = field.map(|chunk| chunk.map_err(|_| interrupted()));
    receive_chunks(&mut chunks, dir, &name, max_bytes, refuse).await
}

/// Writes `chunks` to a new temporary file in `dir`, hashed and counted, at
/// most `max_bytes` (refused with `refuse` beyond).
async fn receive_chunks(
    chunks: &mut (impl futures_util::Stream<Item = ApiResult<bytes::Bytes>> + Unpin),
    dir: &Path,
    name: &str,
    max_bytes: u64,
    refuse: fn(u64) -> ApiError,
) -> ApiResult<Received> {
    tokio::fs::create_dir_all(dir).await.map_err(ApiError::internal)?;
    let original_name = sanitize_name(name);
    let path = dir.join(format!("{}.part", uuid::Uuid::new_v4()));
    let mut partial = Partial(Some(path.clone()));
    let mut file = tokio::fs::File::create(&path).await.map_err(ApiError::internal)?;
    storage::hold(&file).map_err(ApiError::internal)?;
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    while let Some(chunk) = chunks.next().await.transpose()? {
        size += chunk.len() as u64;
        if size > max_bytes {
            return Err(refuse(max_bytes));
        }
        hasher.update(&chunk);
        file.write_all(&chunk).await.map_err(ApiError::internal)?;
    }
    file.flush().await.map_err(ApiError::internal)?;
    file.sync_data().await.map_err(ApiError::internal)?;
    partial.0 = None;
    Ok(Received {
        path,
        original_name,
        size,
        sha256: hex::encode(hasher.finalize()),
        kept: false,
        _held: file.into_std().await,
    })
}

/// `bytes` (made here, not sent by a client) as a received file in `dir`.
pub async fn received_from(dir: &Path, name: &str, bytes: Vec<u8>) -> ApiResult<Received> {
    let max = bytes.len() as u64;
    let mut chunks = futures_util::stream::iter([Ok(bytes::Bytes::from(bytes))]);
    receive_chunks(&mut chunks, dir, name, max, too_large).await
}

pub fn cover_too_large(max_bytes: u64) -> ApiError {
    ApiError::PayloadTooLarge(format!(
        "The cover image may not be larger than {} MiB",
        (max_bytes / (1024 * 1024)).max(1)
    ))
}

fn too_large(max_bytes: u64) -> ApiError {
    ApiError::PayloadTooLarge(format!(
        "The audio file may not be larger than {} MiB",
        max_bytes / (1024 * 1024)
    ))
}

/// The client's file name, reduced to something safe to show and to put in a header.
fn sanitize_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let cleaned: String = base
        .chars()
        .filter(|&c| c != '"' && !c.is_control() && !crate::domain::text::is_bidi_control(c))
        .take(255)
        .collect();
    if cleaned.trim().is_empty() {
        "upload".into()
    } else {
        cleaned.trim().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// One part of a generated form: its field name, an optional file name,
    /// extra header lines (possibly garbage), and its content.
    #[derive(Debug, Clone)]
    struct Part {
        name: String,
        file_name: Option<String>,
        extra_headers: Vec<String>,
        content: Vec<u8>,
    }

    fn part() -> impl Strategy<Value = Part> {
        (
            prop_oneof![
                Just("audio_file".to_owned()),
                Just("cover_image".to_owned()),
                Just("genre_id".to_owned()),
                "[^\"\\\\\\p{Cc}]{0,20}",
            ],
            proptest::option::of("[^\"\\\\\\p{Cc}]{0,40}"),
            proptest::collection::vec("[ -~]{0,40}", 0..3),
            proptest::collection::vec(any::<u8>(), 0..3000),
        )
            .prop_map(|(name, file_name, extra_headers, content)| Part {
                name,
                file_name,
                extra_headers,
                content,
            })
    }

    const BOUNDARY: &str = "spotik-boundary-7MA4YWxkTrZu0gW";
    const LIMITS: FormLimits = FormLimits {
        audio_bytes: 2048,
        cover_bytes: 1024,
        idle: std::time::Duration::from_secs(60),
        total: std::time::Duration::from_secs(600),
    };

    fn encode(parts: &[Part]) -> Vec<u8> {
        let mut body = Vec::new();
        for part in parts {
            body.extend_from_slice(
                format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{}\"", part.name).as_bytes(),
            );
            if let Some(file_name) = &part.file_name {
                body.extend_from_slice(format!("; filename=\"{file_name}\"").as_bytes());
            }
            body.extend_from_slice(b"\r\n");
            for line in &part.extra_headers {
                body.extend_from_slice(line.as_bytes());
                body.extend_from_slice(b"\r\n");
            }
            body.extend_from_slice(b"\r\n");
            body.extend_from_slice(&part.content);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
        body
    }

    fn read(body: Vec<u8>, chunk: usize, dir: &Path) -> ApiResult<Form> {
        let chunks: Vec<_> = body
            .chunks(chunk.max(1))
            .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
            .collect();
        let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(read_form(
                &content_type,
                None,
                futures_util::stream::iter(chunks),
                dir,
                LIMITS,
            ))
    }

    fn leftovers(dir: &Path) -> usize {
        std::fs::read_dir(dir).map_or(0, |entries| entries.count())
    }

    proptest! {
        /// Any form, whole or cut short or with bytes overwritten, split in
        /// any chunk size: answered with the parts that were sent, within
        /// the limits, or refused as the client's fault — and nothing left
        /// on disk once the answer is dropped.
        #[test]
        fn any_multipart_body_is_read_or_refused(
            parts in proptest::collection::vec(part(), 0..6),
            cut in proptest::option::of(any::<prop::sample::Index>()),
            noise in proptest::option::of((any::<prop::sample::Index>(), any::<u8>())),
            chunk in 1usize..700,
        ) {
            let dir = tempfile::tempdir().unwrap();
            let whole = encode(&parts);
            let mut body = whole.clone();
            if let Some(at) = cut {
                body.truncate(at.index(body.len()));
            }
            if let Some((at, byte)) = noise {
                let at = at.index(body.len().max(1));
                if let Some(b) = body.get_mut(at) {
                    *b = byte;
                }
            }
            let intact = body == whole;
            match read(body, chunk, dir.path()) {
                Ok(form) => {
                    prop_assert!(form.fields.len() <= MAX_FIELDS);
                    prop_assert!(form.fields.iter().all(|(_, v)| v.len() <= MAX_TEXT_FIELD));
                    if let Some(audio) = &form.audio {
                        prop_assert!(audio.size <= LIMITS.audio_bytes);
                        prop_assert_eq!(std::fs::metadata(&audio.path).unwrap().len(), audio.size);
                    }
                    if let Some(cover) = &form.cover {
                        prop_assert!(cover.size <= LIMITS.cover_bytes);
                        prop_assert_eq!(std::fs::metadata(&cover.path).unwrap().len(), cover.size);
                    }
                    if intact && parts.iter().all(|p| p.extra_headers.is_empty()) {
                        let first = |name: &str| parts.iter().find(|p| p.name == name);
                        let audio = first("audio_file").map(|p| p.content.len() as u64);
                        prop_assert_eq!(form.audio.as_ref().map(|a| a.size), audio);
                        let cover = first("cover_image").map(|p| p.content.clone());
                        let stored = form.cover.as_ref().map(|c| std::fs::read(&c.path).unwrap());
                        prop_assert_eq!(&stored, &cover);
                    }
                    drop(form);
                }
                Err(error) => {
                    prop_assert!(!matches!(error, ApiError::Internal(_)), "{error:?}");
                    // A well-formed form within the limits is never refused.
                    let within = parts.len() <= MAX_FIELDS
                        && parts.iter().all(|p| match (p.name.as_str(), &p.file_name) {
                            ("audio_file", _) => p.content.len() as u64 <= LIMITS.audio_bytes,
                            ("cover_image", _) => p.content.len() as u64 <= LIMITS.cover_bytes,
                            (_, Some(_)) => true,
                            _ => p.content.len() <= MAX_TEXT_FIELD && std::str::from_utf8(&p.content).is_ok(),
                        });
                    prop_assert!(!(intact && within && parts.iter().all(|p| p.extra_headers.is_empty())), "{error:?}");
                }
            }
            prop_assert_eq!(leftovers(dir.path()), 0);
        }
    }

    proptest::proptest! {
        /// The client's file name (a multipart header) is safe to store and
        /// to put in a header, whatever it was.
        #[test]
        fn any_file_name_becomes_a_safe_one(name in ".{0,400}") {
            let safe = sanitize_name(&name);
            proptest::prop_assert!(!safe.is_empty() && safe.chars().count() <= 255);
            proptest::prop_assert!(!safe.contains(['/', '\\', '"']) && !safe.chars().any(char::is_control));
            proptest::prop_assert_eq!(safe.trim(), safe.as_str());
        }
    }

    #[test]
    fn names_lose_paths_quotes_and_control_characters() {
        assert_eq!(sanitize_name("../../etc/passwd"), "passwd");
        assert_eq!(sanitize_name("C:\\music\\song.mp3"), "song.mp3");
        assert_eq!(sanitize_name("evil\"\r\nX-Header: 1.mp3"), "evilX-Header: 1.mp3");
        assert_eq!(sanitize_name("  "), "upload");
    }
}
