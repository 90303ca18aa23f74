//! What listeners measured of their own synchronisation (reported through
//! `POST /api/rooms/{room}/sync-report`, see `sync_reports`) — its clock's offset from the server's and how far its
//! playback is from where the room's playback says it should be — kept as
//! histograms for the whole process and per room.
//!
//! Per-room histograms stay in the JSON figures and the dashboard; the
//! Prometheus text carries the whole process's only, so that the number of
//! series does not grow with the number of rooms. At most [`MAX_ROOMS`]
//! rooms are kept (those reported on least recently are forgotten first),
//! and each participant may report once per `SYNC_REPORT_INTERVAL_MS` per
//! room.

use crate::http::error::{ApiError, ApiResult};
use crate::telemetry::histogram::{self, Histogram};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Rooms whose histograms are kept.
pub const MAX_ROOMS: usize = 1000;
/// The largest offset or drift accepted, in ms: a day. Beyond, the
/// listener's measurement is broken, not its sync.
const LARGEST_MS: f64 = 86_400_000.0;

/// Listeners' reported drift and clock offset (absolute, ms).
#[derive(Debug, Serialize)]
pub struct Drift {
    pub drift_ms: histogram::Summary,
    pub clock_offset_ms: histogram::Summary,
}

/// The whole process's, and each room's with recent reports.
#[derive(Debug, Serialize)]
pub struct SyncFigures {
    #[serde(flatten)]
    pub whole: Drift,
    pub rooms: BTreeMap<Uuid, Drift>,
}

/// One listener's measurement.
#[derive(Clone, Copy, Debug, Deserialize, salvo::oapi::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// Server clock minus the listener's clock, in ms (either sign).
    pub clock_offset_ms: f64,
    /// The listener's playback position minus the room's, in ms (either sign).
    pub drift_ms: f64,
}

impl Report {
    pub fn validate(&self) -> ApiResult<()> {
        for (field, value) in [("clock_offset_ms", self.clock_offset_ms), ("drift_ms", self.drift_ms)] {
            if !value.is_finite() || value.abs() > LARGEST_MS {
                return Err(ApiError::field(
                    field,
                    format!("{field} must be a number of ms within a day"),
                ));
            }
        }
        Ok(())
    }
}

struct RoomFigures {
    offset: Histogram,
    drift: Histogram,
    last_report: Instant,
}

impl RoomFigures {
    fn new(now: Instant) -> Self {
        Self {
            offset: Histogram::new(&histogram::MILLISECONDS),
            drift: Histogram::new(&histogram::MILLISECONDS),
            last_report: now,
        }
    }
}

#[derive(Default)]
struct Kept {
    rooms: HashMap<Uuid, RoomFigures>,
    /// When each (user, room) last reported.
    last: HashMap<(Uuid, Uuid), Instant>,
}

pub struct SyncReports {
    interval: Duration,
    kept: Mutex<Kept>,
    offset: Histogram,
    drift: Histogram,
}

/// Why a report was not taken.
#[derive(Debug, PartialEq, Eq)]
pub struct TooSoon {
    pub retry_after: Duration,
}

impl SyncReports {
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            kept: Mutex::default(),
            offset: Histogram::new(&histogram::MILLISECONDS),
            drift: Histogram::new(&histogram::MILLISECONDS),
        }
    }

    /// Takes `report` of `user` in `room` at `now`, unless the same user
    /// reported on the same room less than the interval ago.
    pub fn record(&self, room: Uuid, user: Uuid, report: Report, now: Instant) -> Result<(), TooSoon> {
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(last) = kept.last.get(&(user, room)) {
            let since = now.saturating_duration_since(*last);
            if since < self.interval {
                return Err(TooSoon {
                    retry_after: self.interval - since,
                });
            }
        }
        if kept.last.len() >= 10 * MAX_ROOMS {
            let interval = self.interval;
            kept.last.retain(|_, at| now.saturating_duration_since(*at) < interval);
        }
        kept.last.insert((user, room), now);
        if !kept.rooms.contains_key(&room) && kept.rooms.len() >= MAX_ROOMS {
            let oldest = kept.rooms.iter().min_by_key(|(_, f)| f.last_report).map(|(id, _)| *id);
            if let Some(oldest) = oldest {
                kept.rooms.remove(&oldest);
            }
        }
        let figures = kept.rooms.entry(room).or_insert_with(|| RoomFigures::new(now));
        figures.last_report = now;
        figures.offset.observe(report.clock_offset_ms.abs());
        figures.drift.observe(report.drift_ms.abs());
        drop(kept);
        self.offset.observe(report.clock_offset_ms.abs());
        self.drift.observe(report.drift_ms.abs());
        Ok(())
    }

    /// Every room's figures and the whole process's, for the JSON figures.
    pub fn summary(&self) -> SyncFigures {
        let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        let rooms = kept
            .rooms
            .iter()
            .map(|(room, f)| {
                let figures = Drift {
                    drift_ms: f.drift.summary(),
                    clock_offset_ms: f.offset.summary(),
                };
                (*room, figures)
            })
            .collect();
        SyncFigures {
            whole: Drift {
                drift_ms: self.drift.summary(),
                clock_offset_ms: self.offset.summary(),
            },
            rooms,
        }
    }

    pub fn prometheus(&self, out: &mut String) {
        for (name, h, help) in [
            (
                "spotik_api_sync_drift_seconds",
                &self.drift,
                "Listeners' reported playback drift from the room's position (absolute).",
            ),
            (
                "spotik_api_sync_clock_offset_seconds",
                &self.offset,
                "Listeners' reported clock offset from the server's (absolute).",
            ),
        ] {
            histogram::header(out, name, "histogram", help);
            h.write_in(out, name, "", 1000.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(drift_ms: f64) -> Report {
        Report {
            clock_offset_ms: -3.0,
            drift_ms,
        }
    }

    #[test]
    fn one_report_per_listener_and_room_per_interval() {
        let reports = SyncReports::new(Duration::from_secs(5));
        let (room, other_room, user) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let start = Instant::now();
        assert_eq!(reports.record(room, user, report(12.0), start), Ok(()));
        assert_eq!(
            reports.record(room, user, report(12.0), start + Duration::from_secs(2)),
            Err(TooSoon {
                retry_after: Duration::from_secs(3)
            })
        );
        assert_eq!(reports.record(other_room, user, report(1.0), start), Ok(()));
        assert_eq!(reports.record(room, Uuid::new_v4(), report(-70.0), start), Ok(()));
        assert_eq!(
            reports.record(room, user, report(12.0), start + Duration::from_secs(5)),
            Ok(())
        );
        let summary = reports.summary();
        assert_eq!(summary.whole.drift_ms.count, 4);
        assert_eq!(summary.rooms[&room].drift_ms.count, 3);
        assert_eq!(summary.rooms[&room].drift_ms.p95, Some(100.0), "|-70| is in (50, 100]");
    }

    #[test]
    fn rooms_kept_are_bounded_and_the_least_recent_go_first() {
        let reports = SyncReports::new(Duration::ZERO);
        let start = Instant::now();
        let first = Uuid::new_v4();
        reports.record(first, Uuid::new_v4(), report(1.0), start).unwrap();
        for i in 0..MAX_ROOMS as u64 {
            let at = start + Duration::from_millis(i + 1);
            reports.record(Uuid::new_v4(), Uuid::new_v4(), report(1.0), at).unwrap();
        }
        let summary = reports.summary();
        assert_eq!(summary.rooms.len(), MAX_ROOMS);
        assert!(!summary.rooms.contains_key(&first));
        assert_eq!(summary.whole.drift_ms.count, MAX_ROOMS as u64 + 1);
    }

    #[test]
    fn measurements_beyond_a_day_or_not_numbers_are_refused() {
        assert!(report(1e9).validate().is_err());
        assert!(report(f64::NAN).validate().is_err());
        assert!(report(-250.0).validate().is_ok());
    }
}
