//! Where audio files live and how players reach them.
//!
//! Files are content-addressed: `<media>/<aa>/<bb>/<sha256>.<ext>`, written
//! to a temporary file in the same file system first and renamed into place,
//! so a file is either complete or absent, and identical uploads share one.
//!
//! Because they are shared, publishing a file and removing it must not
//! interleave: an upload that found the file already there, while a deletion
//! elsewhere saw no row referring to it yet and removed it, was answered 201
//! for a file that was gone. Both take a PostgreSQL advisory lock on the
//! file's path ([`lock_path`]): an upload holds it from publishing the file
//! until its row is committed ([`publish_locked`] inside the row's
//! transaction), a removal from looking for references until the file is
//! unlinked ([`remove_if_unreferenced`]). Locks of one transaction are taken
//! one path at a time by removals, so no cycle can form.

use crate::config::Config;
use crate::domain::models::Track;
use crate::views::tracks::TrackView;
use spotik_shared::signed_link;
use sqlx::PgPool;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Takes the exclusive lock that marks a partial upload as being written.
pub fn hold(file: &impl AsRawFd) -> std::io::Result<()> {
    // SAFETY: flock on a descriptor we own; no memory is involved.
    let taken = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if taken == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Removes the partial uploads (`.uploads/*.part`) nobody is writing: those
/// whose lock ([`hold`]) is free, left by a process killed mid-upload. Run
/// at start-up and periodically; safe while this or another process on the
/// same host uploads. Returns how many were removed.
pub fn sweep_partial_uploads(config: &Config) -> usize {
    let Ok(entries) = std::fs::read_dir(temp_dir(config)) else {
        return 0;
    };
    let mut removed = 0;
    for path in entries.flatten().map(|e| e.path()) {
        if path.extension().is_none_or(|e| e != "part") {
            continue;
        }
        let Ok(file) = std::fs::OpenOptions::new().read(true).open(&path) else {
            continue;
        };
        if hold(&file).is_ok() && std::fs::remove_file(&path).is_ok() {
            tracing::info!(path = %path.display(), "removed a partial upload left by a process that ended");
            removed += 1;
        }
    }
    removed
}

/// The media-relative path of content with this hash and extension.
pub fn content_path(sha256_hex: &str, extension: &str) -> String {
    format!("{}/{}/{sha256_hex}.{extension}", &sha256_hex[..2], &sha256_hex[2..4])
}

/// Directory for uploads in progress, inside the media root (same file system).
pub fn temp_dir(config: &Config) -> PathBuf {
    config.media_root.join(".uploads")
}

pub fn absolute(config: &Config, relative: &str) -> PathBuf {
    config.media_root.join(relative)
}

/// The URL a player fetches: on the edge, signed when a secret is set.
///
/// Expiry is rounded up to the hour so that the URL of a track is stable for
/// an hour at a time, and browsers' caches keep working.
pub fn file_url(config: &Config, relative: &str) -> String {
    let uri = format!("/audio/{relative}");
    let Some(secret) = &config.edge_signing_secret else {
        return format!("{}{uri}", config.edge_public_url);
    };
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let expires = (now / 3600 + 1) * 3600 + config.edge_link_ttl.as_secs();
    format!(
        "{}{}",
        config.edge_public_url,
        signed_link::signed_path(secret, &uri, expires)
    )
}

/// `track` as a participant sees it: its cover on the API's public origin
/// and its audio signed on the edge.
pub fn playable_view(config: &Config, track: &Track, user_has_voted: bool) -> TrackView {
    track.view(
        &config.api_public_url,
        Some(file_url(config, &track.file_path)),
        user_has_voted,
    )
}

/// The signed path of a file on the edge, without the host: what nginx's
/// internal `/internal-audio/` location forwards to the edge replicas.
pub fn internal_path(config: &Config, relative: &str) -> String {
    let full = file_url(config, relative);
    let path = full.strip_prefix(&config.edge_public_url).unwrap_or(&full);
    format!("/internal-audio{}", path.strip_prefix("/audio").unwrap_or(path))
}

/// Moves a finished upload to its content address; an existing file with the
/// same content is kept and the upload dropped. Returns whether this call created it.
pub fn publish(temp: &Path, destination: &Path) -> std::io::Result<bool> {
    if let Some(parent) = destination.parent() {
        std::fs::create_dir_all(parent)?;
    }
    if destination.exists() {
        std::fs::remove_file(temp)?;
        return Ok(false);
    }
    std::fs::rename(temp, destination)?;
    Ok(true)
}

/// Takes, until the end of the transaction on `connection`, the lock that
/// publishing and removing the file at `relative` both hold.
pub async fn lock_path(connection: &mut sqlx::PgConnection, relative: &str) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(relative)
        .execute(connection)
        .await
        .map(drop)
}

/// Publishes `temp` at `relative` within the transaction on `connection`,
/// which must go on to commit the row that refers to it: no removal can
/// unlink the file before then.
pub async fn publish_locked(
    connection: &mut sqlx::PgConnection,
    config: &Config,
    temp: &Path,
    relative: &str,
) -> Result<bool, crate::http::error::ApiError> {
    lock_path(connection, relative).await?;
    publish(temp, &absolute(config, relative)).map_err(crate::http::error::ApiError::internal)
}

/// Deletes a media file (audio or cover) that no track or room refers to
/// any more. Files are shared by content, so this is asked after every
/// removal rather than assumed.
pub async fn remove_if_unreferenced(db: &PgPool, config: &Config, relative: &str) {
    let removed = async {
        let mut tx = db.begin().await?;
        lock_path(&mut tx, relative).await?;
        let used: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM tracks WHERE file_path = $1) \
                 OR EXISTS (SELECT 1 FROM tracks WHERE cover_path = $1) \
                 OR EXISTS (SELECT 1 FROM rooms WHERE cover_path = $1)",
        )
        .bind(relative)
        .fetch_one(&mut *tx)
        .await?;
        if !used {
            // Unlinked while the lock is held: no upload is between its
            // publish and its commit.
            let _ = tokio::fs::remove_file(absolute(config, relative)).await;
        }
        tx.commit().await
    };
    if let Err(error) = removed.await {
        tracing::warn!(%error, file = relative, "could not check whether a file is still used; kept");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_paths_fan_out_by_hash() {
        let sha = "9b2e4c1f".to_owned() + &"0".repeat(56);
        assert_eq!(content_path(&sha, "mp3"), format!("9b/2e/{sha}.mp3"));
    }
}
