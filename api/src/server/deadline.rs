//! Every request answers within a deadline.
//!
//! A request that holds a database connection when PostgreSQL stops
//! answering (a hung or partitioned server, not a refused one) waits on its
//! socket for as long as the operating system lets it — the pool's acquire
//! timeout only bounds getting a connection. This middleware bounds the whole
//! request instead (`REQUEST_TIMEOUT`, by default the acquire timeout plus a
//! second, so that an acquire time-out still answers with its own words) and
//! answers `503`. Uploads are exempt: their bodies may take minutes to arrive
//! on a slow link, and their database work is a few statements at the end.
//! Only the upload routes' multipart requests are: the header alone once
//! exempted any request, and 300 anonymous connections dribbling a byte
//! every 5 s held their sockets for ever. An upload has deadlines of its own
//! instead (`upload::receive_form`: between two chunks, and in all), and its
//! handler authenticates before it reads a byte of the body.
//! WebSocket upgrades answer at once and live on in tasks of their own.
//!
//! [`refuse_while_database_down`] answers at once instead while PostgreSQL
//! is known to be away (`db_health`), and marks it away when a request
//! found it so.

use crate::http::error::envelope;
use crate::state::from_depot;
use salvo::http::StatusCode;
use salvo::prelude::*;

/// The routes that take a multipart upload (POST).
const UPLOAD_ROUTES: [&str; 2] = ["api/rooms/{room}/tracks", "api/rooms/{room}/cover"];

/// Whether `req` is a multipart upload to a route that takes one.
fn is_upload(req: &Request) -> bool {
    req.method() == salvo::http::Method::POST
        && crate::http::request::is_multipart(req)
        && UPLOAD_ROUTES.contains(&req.matched_path().trim_start_matches('/'))
}

#[handler]
pub async fn bounded(req: &mut Request, depot: &mut Depot, res: &mut Response, ctrl: &mut FlowCtrl) {
    let limit = match from_depot(depot) {
        Ok(state) if !is_upload(req) => state.config.request_timeout,
        _ => {
            ctrl.call_next(req, depot, res).await;
            return;
        }
    };
    if tokio::time::timeout(limit, ctrl.call_next(req, depot, res))
        .await
        .is_err()
    {
        tracing::error!(path = %req.uri().path(), ?limit, "request timed out; is the database answering?");
        // The probe clears this within half a second if the database answers.
        if let Ok(state) = from_depot(depot) {
            state.db_health.mark_down();
        }
        ctrl.skip_rest();
        res.status_code(StatusCode::SERVICE_UNAVAILABLE);
        res.render(Json(envelope(
            "The service is not answering in time, try again shortly",
            "service_unavailable",
        )));
    }
}

/// Answers 503 at once while the database is marked down; marks it down
/// when the request found it unavailable (`error::DATABASE_UNAVAILABLE`).
#[handler]
pub async fn refuse_while_database_down(req: &mut Request, depot: &mut Depot, res: &mut Response, ctrl: &mut FlowCtrl) {
    let down = from_depot(depot).is_ok_and(|state| state.db_health.is_down());
    if down && crate::store::db_health::needs_database(req.uri().path()) {
        ctrl.skip_rest();
        let refusal = crate::http::error::ApiError::Busy {
            message: "The database is unavailable, try again shortly".into(),
            retry_after_secs: 1,
        };
        refusal.write(req, depot, res).await;
        return;
    }
    ctrl.call_next(req, depot, res).await;
    if depot
        .get::<bool>(crate::http::error::DATABASE_UNAVAILABLE)
        .is_ok_and(|found| *found)
    {
        if let Ok(state) = from_depot(depot) {
            state.db_health.mark_down();
        }
    }
}
