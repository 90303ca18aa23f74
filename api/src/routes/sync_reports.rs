//! `POST /api/rooms/{room}/sync-report`: a participant's measured clock
//! offset and playback drift, in ms, into the figures of [`crate::telemetry::drift`].
//! Body: `{"clock_offset_ms": -3.5, "drift_ms": 12}`; answered 202, 422 for
//! numbers that cannot be measurements, 429 with `Retry-After` when the same
//! participant reported on the same room within `SYNC_REPORT_INTERVAL_MS`.

use crate::http::error::{ApiError, ApiResult};
use crate::http::path::RoomId;
use crate::http::reply::Fields;
use crate::http::request::json_body;
use crate::services::access::require_member;
use crate::services::caller::Caller;
use crate::telemetry::drift::{Report, TooSoon};
use salvo::oapi::{endpoint, ToSchema};
use salvo::prelude::*;
use serde::Serialize;
use std::time::Instant;

/// Nothing beside the envelope's fields.
#[derive(Serialize, ToSchema)]
pub struct Recorded {}

/// Records a participant's clock offset and playback drift (202).
#[endpoint(tags("playback"), request_body = Report)]
pub async fn sync_report(caller: Caller, req: &mut Request, room: RoomId) -> ApiResult<Fields<Recorded, 202>> {
    let state = &caller.state;
    let room = room.0;
    let measured: Report = json_body(req).await?;
    measured.validate()?;
    require_member(state, room, caller.id()).await?;
    match state.sync_reports.record(room, caller.id(), measured, Instant::now()) {
        Ok(()) => Ok(Fields::new("Sync report recorded", Recorded {})),
        Err(TooSoon { retry_after }) => Err(ApiError::TooManyRequests {
            message: "One sync report per room at a time; try again later".into(),
            retry_after_secs: retry_after.as_secs_f64().ceil() as u64,
        }),
    }
}

/// Under `/api/rooms/{room}`.
pub fn in_room() -> Router {
    Router::with_path("sync-report").post(sync_report)
}
