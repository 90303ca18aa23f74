//! Receiving an upload: the multipart body is streamed to a temporary file
//! in the media root while it is hashed and counted. The size limit is
//! enforced as bytes arrive — a client sending 51 MiB is stopped at 50 — so
//! nothing is ever buffered whole in memory, and a refused upload leaves no
//! file behind (the temporary file is removed when [`Received`] is dropped).

use crate::error::{ApiError, ApiResult};
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

/// Reads the `audio_file` field of a multipart body into `dir`.
pub async fn receive(req: &mut Request, dir: &Path, max_bytes: u64) -> ApiResult<Received> {
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let boundary = multer::parse_boundary(&content_type).map_err(|_| {
        ApiError::UnsupportedMediaType("Send the file as multipart/form-data in the field audio_file".into())
    })?;
    // Framing adds a little; anything announced well beyond the limit is refused before reading.
    if let Some(length) = req
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
    {
        if length > max_bytes + 64 * 1024 {
            return Err(too_large(max_bytes));
        }
    }
    tokio::fs::create_dir_all(dir).await.map_err(ApiError::internal)?;
    // The body stream yields frames; multer wants the data ones.
    let body = req.take_body().filter_map(|frame| async move {
        match frame {
            Ok(frame) => frame.into_data().ok().map(Ok::<_, std::io::Error>),
            Err(error) => Some(Err(std::io::Error::other(error.to_string()))),
        }
    });
    let mut multipart = multer::Multipart::new(body, boundary);
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|_| ApiError::BadRequest("Malformed multipart body".into()))?
    {
        if field.name() != Some("audio_file") {
            continue;
        }
        let original_name = sanitize_name(field.file_name().unwrap_or("upload"));
        let path = dir.join(format!("{}.part", uuid::Uuid::new_v4()));
        let mut partial = Partial(Some(path.clone()));
        let mut file = tokio::fs::File::create(&path).await.map_err(ApiError::internal)?;
        let mut hasher = Sha256::new();
        let mut size: u64 = 0;
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|_| ApiError::BadRequest("The upload was interrupted".into()))?;
            size += chunk.len() as u64;
            if size > max_bytes {
                return Err(too_large(max_bytes));
            }
            hasher.update(&chunk);
            file.write_all(&chunk).await.map_err(ApiError::internal)?;
        }
        file.flush().await.map_err(ApiError::internal)?;
        file.sync_data().await.map_err(ApiError::internal)?;
        partial.0 = None;
        return Ok(Received {
            path,
            original_name,
            size,
            sha256: hex::encode(hasher.finalize()),
            kept: false,
        });
    }
    Err(ApiError::field("audio_file", "The audio file field is required."))
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
        .filter(|c| !c.is_control() && *c != '"')
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

    #[test]
    fn names_lose_paths_quotes_and_control_characters() {
        assert_eq!(sanitize_name("../../etc/passwd"), "passwd");
        assert_eq!(sanitize_name("C:\\music\\song.mp3"), "song.mp3");
        assert_eq!(sanitize_name("evil\"\r\nX-Header: 1.mp3"), "evilX-Header: 1.mp3");
        assert_eq!(sanitize_name("  "), "upload");
    }
}
