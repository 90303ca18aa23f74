//! Demo data for `deploy/run`: a user, a room and a few generated tracks,
//! stored exactly as uploads are (content-addressed, probed). Idempotent.

use crate::auth::password;
use crate::files::storage;
use crate::state::AppState;
use uuid::Uuid;

pub const DEMO_EMAIL: &str = "demo@spotik.local";
pub const DEMO_PASSWORD: &str = "spotik-demo";

pub async fn seed(state: &AppState) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let existing: Option<Uuid> = sqlx::query_scalar("SELECT id FROM users WHERE lower(email) = $1")
        .bind(DEMO_EMAIL)
        .fetch_optional(&state.db)
        .await?;
    if existing.is_some() {
        tracing::info!("demo data already present");
        return Ok(());
    }
    let hash = password::hash(DEMO_PASSWORD, state.config.argon2_memory_kib)?;
    let user: Uuid =
        sqlx::query_scalar("INSERT INTO users (username, email, password_hash) VALUES ('demo', $1, $2) RETURNING id")
            .bind(DEMO_EMAIL)
            .bind(hash)
            .fetch_one(&state.db)
            .await?;
    let room: Uuid = sqlx::query_scalar(
        "INSERT INTO rooms (name, description, administrator_id) \
             VALUES ('Demo room', 'Three generated chords: press play, or upload your own', $1) RETURNING id",
    )
    .bind(user)
    .fetch_one(&state.db)
    .await?;
    sqlx::query("INSERT INTO room_participants (room_id, user_id) VALUES ($1, $2)")
        .bind(room)
        .bind(user)
        .execute(&state.db)
        .await?;
    let tracks: [(&str, &[f64], f64); 3] = [
        ("C major.wav", &[261.63, 329.63, 392.00], 20.0),
        ("A minor.wav", &[220.00, 261.63, 329.63], 20.0),
        ("G major.wav", &[196.00, 246.94, 293.66], 20.0),
    ];
    for (name, chord, seconds) in tracks {
        let bytes = spotik_shared::demo_audio::chord_wav(chord, seconds);
        let temp = storage::temp_dir(&state.config);
        std::fs::create_dir_all(&temp)?;
        let path = temp.join(format!("{}.part", Uuid::new_v4()));
        std::fs::write(&path, &bytes)?;
        let audio = spotik_probe::probe(&path).map_err(|r| r.0)?;
        use sha2::Digest;
        let sha = hex::encode(sha2::Sha256::digest(&bytes));
        let relative = storage::content_path(&sha, audio.extension);
        storage::publish(&path, &storage::absolute(&state.config, &relative))?;
        sqlx::query(
            "INSERT INTO tracks (room_id, uploader_id, filename, original_name, file_path, duration_ms, file_size_bytes, mime_type, content_sha256) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(room)
        .bind(user)
        .bind(relative.rsplit('/').next().unwrap_or(&relative))
        .bind(name)
        .bind(&relative)
        .bind(audio.duration_ms)
        .bind(bytes.len() as i64)
        .bind(audio.mime_type)
        .bind(&sha)
        .execute(&state.db)
        .await?;
    }
    tracing::info!(email = DEMO_EMAIL, password = DEMO_PASSWORD, %room, "demo user, room and tracks created");
    Ok(())
}
