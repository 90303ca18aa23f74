//! A room's playback as it changes: play, pause, resume, skip, stop, the
//! advance at the end of a track, and what a late joiner is told. The
//! administrator's routes (`routes/playback.rs`) and the background advance
//! (`housekeeping.rs`) both come here.
//!
//! Every change locks the room row first, so admin actions and the
//! server-side advance at the end of a track are applied one at a time, on
//! any number of API replicas. Events carry the sync fields clients need:
//! `server_time`, `position_ms` (and `position` in seconds), `started_at`,
//! the `track` with its duration, and the `next_track` hint with its URL so
//! players can fetch its first bytes before the switch.

use crate::domain::clock::{now_ms, Playback};
use crate::domain::models::Track;
use crate::files::storage;
use crate::http::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::events::EventName;
use crate::store::events::{self, Pending, RoomEvent};
use crate::store::history::{self, Ending};
use crate::store::records;
use crate::views::tracks::TrackView;
use crate::views::{iso, to_value};
use chrono::{DateTime, Duration, Utc};
use salvo::oapi::ToSchema;
use serde::Serialize;
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

/// What just happened to a room's playback.
pub enum Transition {
    Started,
    Paused,
    Resumed,
    /// `at`: when its sound stops (ahead of now when asked so).
    Stopped {
        at: DateTime<Utc>,
    },
}

impl Transition {
    fn event(&self) -> EventName {
        match self {
            Self::Started => EventName::PlaybackStarted,
            Self::Paused => EventName::PlaybackPaused,
            Self::Resumed => EventName::PlaybackResumed,
            Self::Stopped { .. } => EventName::PlaybackStopped,
        }
    }
}

/// The room's playback as stored, read under the row lock.
pub(crate) struct Locked {
    playback: Playback,
    pub current: Option<Uuid>,
}

/// `current_track_id, playback_started_at, playback_paused_at, is_playing`.
type PlaybackRow = (Option<Uuid>, Option<DateTime<Utc>>, Option<DateTime<Utc>>, bool);

pub(crate) async fn lock(tx: &mut PgConnection, room: Uuid) -> ApiResult<Locked> {
    read(tx, room, "FOR UPDATE").await
}

/// The room's playback; `lock` is `FOR UPDATE` for a change, empty for a read.
async fn read(db: impl sqlx::PgExecutor<'_>, room: Uuid, lock: &str) -> ApiResult<Locked> {
    let row: Option<PlaybackRow> = sqlx::query_as(&format!(
        "SELECT current_track_id, playback_started_at, playback_paused_at, is_playing FROM rooms WHERE id = $1 {lock}"
    ))
    .bind(room)
    .fetch_optional(db)
    .await?;
    let (current, started_at, paused_at, is_playing) = row.ok_or_else(crate::store::records::room_not_found)?;
    Ok(Locked {
        playback: Playback {
            started_at,
            paused_at,
            is_playing,
        },
        current,
    })
}

async fn store(
    tx: &mut PgConnection,
    room: Uuid,
    current: Option<Uuid>,
    playback: Playback,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE rooms SET current_track_id = $2, playback_started_at = $3, playback_paused_at = $4, is_playing = $5, updated_at = now() WHERE id = $1",
    )
    .bind(room)
    .bind(current)
    .bind(playback.started_at)
    .bind(playback.paused_at)
    .bind(playback.is_playing)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The room's playback at one instant, with its current and next tracks.
struct Snapshot {
    playback: Playback,
    current: Option<Track>,
    next: Option<Track>,
    now: DateTime<Utc>,
}

async fn snapshot(tx: &mut PgConnection, room: Uuid) -> ApiResult<Snapshot> {
    let locked = lock(&mut *tx, room).await?;
    snapshot_of(tx, room, locked).await
}

async fn snapshot_of(tx: &mut PgConnection, room: Uuid, locked: Locked) -> ApiResult<Snapshot> {
    let current = match locked.current {
        Some(id) => records::track(&mut *tx, id).await?,
        None => None,
    };
    let next = records::next_in_queue(&mut *tx, room, locked.current).await?;
    Ok(Snapshot {
        playback: locked.playback,
        current,
        next,
        now: now_ms(),
    })
}

/// What a skip (or the end of a track) moved from and to.
#[derive(Default, Serialize, ToSchema)]
pub struct Skip {
    previous_track: Option<TrackView>,
    /// `stores/playback.js` reads both ids from the skip's answer.
    skipped_track_id: Option<Uuid>,
    next_track_id: Option<Uuid>,
    /// Why the previous track stopped: `finished`, `admin`, `vote` or
    /// `removed` (the play history's words).
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

/// The sync fields every playback answer and event carries
/// (`stores/playback.js`, `stores/websocket.js`, `useAudioPlayer.js`).
#[derive(Serialize, ToSchema)]
pub struct PlaybackView {
    server_time: i64,
    is_playing: bool,
    position_ms: i64,
    /// Seconds: the true position (`position` and `current_position` are
    /// what the front end's pause handlers read).
    position: f64,
    current_position: f64,
    #[serde(serialize_with = "iso_or_null")]
    started_at: Option<DateTime<Utc>>,
    started_at_ms: Option<i64>,
    #[serde(serialize_with = "iso_or_null")]
    paused_at: Option<DateTime<Utc>>,
    /// The pause's instant, which a pause asked for ahead
    /// (`lead_ms`) puts in the future: the sound runs until it.
    paused_at_ms: Option<i64>,
    #[serde(serialize_with = "iso_or_null")]
    playback_started_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "iso_or_null")]
    playback_paused_at: Option<DateTime<Utc>>,
    track: Option<TrackView>,
    current_track: Option<TrackView>,
    track_id: Option<Uuid>,
    next_track: Option<TrackView>,
    /// Set on resume: the instant it resumed, the front end's new `startedAt`.
    #[serde(serialize_with = "iso_or_null", skip_serializing_if = "Option::is_none")]
    resumed_at: Option<DateTime<Utc>>,
    /// Set on a stop asked for ahead (`lead_ms`): the instant the sound
    /// stops, though the room is idle from the answer on.
    #[serde(skip_serializing_if = "Option::is_none")]
    stops_at_ms: Option<i64>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    skip: Option<Skip>,
}

fn iso_or_null<S: serde::Serializer>(time: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match time {
        Some(time) => s.serialize_str(&iso(*time)),
        None => s.serialize_none(),
    }
}

impl Snapshot {
    fn view(&self, state: &AppState) -> PlaybackView {
        let p = self.playback;
        let position_ms = p.position_ms(self.now, self.current.as_ref().map(|t| t.duration_ms));
        let track_view = |t: &Track| storage::playable_view(&state.config, t, false);
        PlaybackView {
            server_time: self.now.timestamp_millis(),
            is_playing: p.is_playing,
            position_ms,
            position: position_ms as f64 / 1000.0,
            current_position: position_ms as f64 / 1000.0,
            started_at: p.started_at,
            started_at_ms: p.started_at.map(|t| t.timestamp_millis()),
            paused_at: p.paused_at,
            paused_at_ms: p.paused_at.map(|t| t.timestamp_millis()),
            playback_started_at: p.started_at,
            playback_paused_at: p.paused_at,
            track: self.current.as_ref().map(track_view),
            current_track: self.current.as_ref().map(track_view),
            track_id: self.current.as_ref().map(|t| t.id),
            next_track: self.next.as_ref().map(track_view),
            resumed_at: None,
            stops_at_ms: None,
            skip: None,
        }
    }
}

/// The sync fields of a room's playback now, as every playback response and event carries them.
async fn sync_fields(state: &AppState, tx: &mut PgConnection, room: Uuid) -> ApiResult<Value> {
    Ok(to_value(&snapshot(tx, room).await?.view(state)))
}

/// Stamps the event of `transition` with the room's current sync fields.
pub async fn announce(
    state: &AppState,
    tx: &mut PgConnection,
    room: Uuid,
    transition: Transition,
) -> ApiResult<Pending> {
    let now = snapshot(tx, room).await?;
    let mut view = now.view(state);
    match transition {
        // The instant the sync fields describe: position_ms is exact at it.
        Transition::Resumed => view.resumed_at = Some(now.now),
        Transition::Stopped { at } if at > now.now => view.stops_at_ms = Some(at.timestamp_millis()),
        _ => {}
    }
    let ahead = match transition {
        Transition::Started => next_file(&view),
        _ => None,
    };
    Ok(events::stamp(tx, room, transition.event(), to_value(&view))
        .await?
        .ahead_of(ahead))
}

/// The link to the track after the current one, which its listeners will
/// all ask for at once when the current one ends.
fn next_file(view: &PlaybackView) -> Option<String> {
    view.next_track.as_ref()?.file_url.clone()
}

/// Marks the current track played and starts the next one in the queue, or
/// leaves the room idle. Used by skips, by the end-of-track advance and
/// when the current track is removed; `ending` says which, for the history.
pub async fn advance(state: &AppState, tx: &mut PgConnection, room: Uuid, ending: Ending) -> ApiResult<Vec<Pending>> {
    let locked = lock(tx, room).await?;
    advance_locked(state, tx, room, locked, ending).await
}

/// The current track stops being current: into the history with how far
/// it got, and the votes to skip it gone with it.
async fn let_go(tx: &mut PgConnection, room: Uuid, locked: &Locked, track: &Track, ending: Ending) -> ApiResult<()> {
    let played = locked.playback.position_ms(now_ms(), Some(track.duration_ms));
    history::record(tx, track, played, ending).await?;
    crate::store::autofill::heard(tx, track).await?;
    sqlx::query("DELETE FROM skip_votes WHERE room_id = $1")
        .bind(room)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// [`advance`] for a room already read under its row lock: the room is not
/// read again, and the events are stamped from what was just stored.
pub(crate) async fn advance_locked(
    state: &AppState,
    tx: &mut PgConnection,
    room: Uuid,
    locked: Locked,
    ending: Ending,
) -> ApiResult<Vec<Pending>> {
    let previous = match locked.current {
        Some(id) => records::track(&mut *tx, id).await?,
        None => None,
    };
    if let Some(previous) = &previous {
        sqlx::query("UPDATE tracks SET played_at = now(), updated_at = now() WHERE id = $1")
            .bind(previous.id)
            .execute(&mut *tx)
            .await?;
        let_go(tx, room, &locked, previous, ending).await?;
    }
    let next = match records::next_in_queue(&mut *tx, room, locked.current).await? {
        Some(next) => Some(next),
        // The queue ran dry: a room that never goes silent plays on.
        None => crate::store::autofill::pick(&mut *tx, room).await?,
    };
    let playback = match &next {
        Some(_) => Playback::start(now_ms()),
        None => Playback::IDLE,
    };
    store(tx, room, next.as_ref().map(|t| t.id), playback).await?;
    let after = match &next {
        Some(current) => records::next_in_queue(&mut *tx, room, Some(current.id)).await?,
        None => None,
    };
    let now = Snapshot {
        playback,
        current: next.clone(),
        next: after,
        now: now_ms(),
    };
    let mut view = now.view(state);
    view.skip = Some(Skip {
        previous_track: previous
            .as_ref()
            .map(|t| storage::playable_view(&state.config, t, false)),
        skipped_track_id: previous.as_ref().map(|t| t.id),
        next_track_id: now.current.as_ref().map(|t| t.id),
        reason: previous.as_ref().map(|_| ending.as_str().to_owned()),
    });
    // `track.skipped` names what plays now (or null when idle): the front
    // end takes `next_track` as its new current track.
    view.next_track = now
        .current
        .as_ref()
        .map(|t| storage::playable_view(&state.config, t, false));
    let mut pending = vec![events::stamp(tx, room, EventName::TrackSkipped, to_value(&view)).await?];
    let then = if next.is_some() {
        Transition::Started
    } else {
        Transition::Stopped { at: now.now }
    };
    let view = now.view(state);
    let ahead = next_file(&view);
    pending.push(
        events::stamp(tx, room, then.event(), to_value(&view))
            .await?
            .ahead_of(ahead),
    );
    Ok(pending)
}

/// A skip to nothing: the front end's player lets go of its track.
#[derive(Serialize)]
struct Idle {
    next_track: Option<TrackView>,
    previous_track: Option<TrackView>,
    is_playing: bool,
}

/// What a listener who arrives while a track is current needs to hear the
/// room at once, sent to that listener alone.
///
/// The front end loads audio only when its current track changes to another
/// one, and a late joiner (or a reload) already has the current track from
/// the room it fetched, so it would stay silent until the next track. Hence:
/// a skip to nothing (its player lets go of the track), the start of the
/// current track at its effective start (it loads, seeks and plays), and the
/// pause if the room is paused. Each carries the room's current `seq` and
/// `catch_up: true`; nobody else hears them.
///
/// `since` is when the listener subscribed: a track that started after it
/// was announced to them live, and is not told again.
pub async fn catch_up(state: &AppState, room: Uuid, since: DateTime<Utc>) -> ApiResult<Vec<RoomEvent>> {
    let mut conn = state.db.acquire().await?;
    let playback = read(&mut *conn, room, "").await?;
    let seq: i64 = sqlx::query_scalar("SELECT event_seq FROM rooms WHERE id = $1")
        .bind(room)
        .fetch_one(&mut *conn)
        .await?;
    let now = snapshot_of(&mut conn, room, playback).await?;
    if now.current.is_none() || now.playback.started_at.is_none_or(|started| started > since) {
        return Ok(Vec::new());
    }
    let mut view = now.view(state);
    let idle = to_value(&Idle {
        next_track: None,
        previous_track: None,
        is_playing: false,
    });
    let mut events = vec![events::restate(room, EventName::TrackSkipped, seq, now.now, idle)];
    // The start as if it had just happened: playing, at the effective start.
    let paused = !now.playback.is_playing;
    view.is_playing = true;
    view.paused_at = None;
    view.playback_paused_at = None;
    events.push(events::restate(
        room,
        EventName::PlaybackStarted,
        seq,
        now.now,
        to_value(&view),
    ));
    if paused {
        let view = now.view(state);
        events.push(events::restate(
            room,
            EventName::PlaybackPaused,
            seq,
            now.now,
            to_value(&view),
        ));
    }
    Ok(events)
}

/// What the administrator asks of a room's playback.
pub enum Command {
    Play(Uuid),
    /// Paused `lead` ahead of now (zero: at once).
    Pause {
        lead: Duration,
    },
    Resume,
    Skip,
    /// Stopped `lead` ahead of now, as a pause.
    Stop {
        lead: Duration,
    },
}

/// How far ahead a pause or a stop may be asked for: beyond a second it is
/// no longer the administrator's click.
pub const MOST_LEAD_MS: i64 = 1_000;

/// Carries out `command` on `room`, whose row is locked first so that
/// changes and the advance at the end of a track apply one at a time on
/// any number of replicas; publishes its events once committed. The
/// answer is what the first event says (a skip's ids, a resume's instant)
/// or, without one, the playback now.
pub async fn command(state: &AppState, room: Uuid, command: Command) -> ApiResult<Value> {
    let mut transaction = state.db.begin().await?;
    let tx: &mut PgConnection = &mut transaction;
    let locked = lock(tx, room).await?;
    let pending = match command {
        Command::Play(track_id) => {
            let track = records::track(&mut *tx, track_id)
                .await?
                .filter(|t| t.room_id == room)
                .ok_or_else(|| ApiError::NotFound("Track not found".into()))?;
            if let Some(previous) = locked.current.filter(|id| *id != track.id) {
                sqlx::query("UPDATE tracks SET played_at = now() WHERE id = $1")
                    .bind(previous)
                    .execute(&mut *tx)
                    .await?;
                if let Some(previous) = records::track(&mut *tx, previous).await? {
                    let_go(tx, room, &locked, &previous, Ending::Replaced).await?;
                }
            }
            sqlx::query("UPDATE tracks SET played_at = NULL WHERE id = $1")
                .bind(track.id)
                .execute(&mut *tx)
                .await?;
            if locked.current.is_none() {
                // Playing in an idle room begins a listening session: the
                // fair queue counts turns from here.
                sqlx::query("UPDATE rooms SET session_started_at = now() WHERE id = $1")
                    .bind(room)
                    .execute(&mut *tx)
                    .await?;
            }
            store(tx, room, Some(track.id), Playback::start(now_ms())).await?;
            Ok(vec![announce(state, tx, room, Transition::Started).await?])
        }
        Command::Pause { lead } => {
            if !locked.playback.is_playing {
                return Err(ApiError::Conflict(
                    "Playback is not running, so it cannot be paused".into(),
                ));
            }
            // Ahead, but never past the track's end (the advance at the
            // end waits for a playing room, and the pause would hold it).
            let duration = match locked.current {
                Some(id) => records::track(&mut *tx, id).await?.map(|t| t.duration_ms),
                None => None,
            };
            let mut at = now_ms() + lead;
            if let Some(end) = duration.and_then(|d| locked.playback.ends_at(d)) {
                at = at.min(end.max(now_ms()));
            }
            store(tx, room, locked.current, locked.playback.pause(at)).await?;
            Ok(vec![announce(state, tx, room, Transition::Paused).await?])
        }
        Command::Resume => {
            if locked.playback.is_playing {
                return Err(ApiError::Conflict("Playback is already running".into()));
            }
            if locked.current.is_none() || !locked.playback.is_paused() {
                return Err(ApiError::Conflict("Nothing is paused in this room".into()));
            }
            store(tx, room, locked.current, locked.playback.resume(now_ms())).await?;
            Ok(vec![announce(state, tx, room, Transition::Resumed).await?])
        }
        Command::Skip => {
            if locked.current.is_none() {
                return Err(ApiError::Conflict(
                    "Nothing is playing, so there is nothing to skip".into(),
                ));
            }
            advance_locked(state, tx, room, locked, Ending::Admin).await
        }
        Command::Stop { lead } => {
            let Some(current) = locked.current else {
                return Err(ApiError::Conflict("Playback is already stopped".into()));
            };
            if let Some(track) = records::track(&mut *tx, current).await? {
                let_go(tx, room, &locked, &track, Ending::Stopped).await?;
            }
            store(tx, room, None, Playback::IDLE).await?;
            let at = now_ms() + lead;
            Ok(vec![announce(state, tx, room, Transition::Stopped { at }).await?])
        }
    }?;
    let data = match pending.first() {
        Some(event) => event.payload().clone(),
        None => sync_fields(state, tx, room).await?,
    };
    transaction.commit().await?;
    state.publish(pending).await;
    Ok(data)
}

/// The playback of `room` now. A read: no transaction and no row lock, so
/// a status poll never waits behind a change (nor holds one up). The room
/// row is read first; a change committed meanwhile shows in the next poll.
pub async fn status(state: &AppState, room_id: Uuid) -> ApiResult<PlaybackView> {
    let mut conn = state.db.acquire().await?;
    let room = read(&mut *conn, room_id, "").await?;
    Ok(snapshot_of(&mut conn, room_id, room).await?.view(state))
}
