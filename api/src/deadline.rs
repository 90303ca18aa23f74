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
//! WebSocket upgrades answer at once and live on in tasks of their own.

use crate::error::envelope;
use crate::request::state;
use salvo::http::StatusCode;
use salvo::prelude::*;

#[handler]
pub async fn bounded(req: &mut Request, depot: &mut Depot, res: &mut Response, ctrl: &mut FlowCtrl) {
    let limit = match state(depot) {
        Ok(state) if !crate::upload::is_multipart(req) => state.config.request_timeout,
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
        ctrl.skip_rest();
        res.status_code(StatusCode::SERVICE_UNAVAILABLE);
        res.render(Json(envelope(
            "The service is not answering in time, try again shortly",
            "service_unavailable",
        )));
    }
}
