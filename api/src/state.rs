//! What every handler reaches: configuration, the pool, the cache and the event seam.

use crate::cache::Cache;
use crate::config::Config;
use crate::domain::models::User;
use crate::hub::message::{Ended, Ending};
use crate::hub::Hub;
use crate::limits::login::LoginLimiter;
use crate::store::events::{Events, Pending};
use crate::store::recent::Recent;
use crate::telemetry::request_stats::RequestStats;
use sqlx::PgPool;
use std::sync::Arc;

pub struct AppState {
    pub config: Config,
    pub db: PgPool,
    pub cache: Arc<Cache>,
    pub events: Events,
    pub hub: Arc<Hub>,
    pub login_limiter: LoginLimiter,
    /// Accounts registered per client address.
    pub registrations: crate::limits::registrations::Registrations,
    /// Password hashes within their memory budget.
    pub passwords: crate::auth::hashing::PasswordWork,
    pub requests: RequestStats,
    pub started: std::time::Instant,
    /// Who each recently seen token (by `jti`) stands for.
    pub sessions: Recent<uuid::Uuid, User>,
    /// (room, user) pairs recently seen to take part.
    pub members: Recent<(uuid::Uuid, uuid::Uuid), ()>,
    /// Listeners' measured clock offsets and drift.
    pub sync_reports: crate::telemetry::drift::SyncReports,
    /// Client connections open at most (`acceptor`).
    pub max_connections: usize,
    /// The connections open, per client address, and which wait idle.
    pub connections: Arc<crate::http::connections::Connections>,
    /// WebSockets admitted, in all and per client.
    pub sockets: Arc<crate::hub::admission::Admission>,
    /// Whether PostgreSQL is known to be away (requests refused at once).
    pub db_health: crate::store::db_health::DbHealth,
    /// Probes uploads in limited child processes.
    pub prober: crate::files::probe::Prober,
    /// Uploads in progress, per user and in all.
    pub uploads: Arc<crate::files::slots::UploadSlots>,
    /// Warms the next track on the edges when one starts.
    pub warmer: crate::files::warm::Warmer,
    /// Votes, committed a room's batch at a time.
    pub ballots: std::sync::Arc<crate::store::ballots::Ballots>,
    /// Chat messages and reactions each listener sent lately.
    pub flood: crate::limits::flood::Flood,
}

/// How long a session or a membership read from PostgreSQL is trusted: a
/// logout or a leave reaches every replica within it, bus or no bus.
pub const TRUSTED_FOR: std::time::Duration = std::time::Duration::from_secs(1);

pub type State = Arc<AppState>;

impl AppState {
    /// Publishes committed room events to every replica's clients, in order.
    pub async fn publish(&self, events: impl IntoIterator<Item = Pending>) {
        // A track starts: its listeners will ask for the next one when it
        // ends, all at once.
        let warm = |event: &Pending| {
            if let Some(next) = event.ahead() {
                self.warmer.ahead(next);
            }
        };
        self.events.publish(&self.hub, events.into_iter().inspect(warm)).await;
    }

    /// Publishes a committed event, then ends the subscriptions it ends
    /// (a participant leaving, a room deleted): after the event, so that the
    /// clients concerned hear why.
    pub async fn publish_ending(&self, event: Pending, room_id: uuid::Uuid, ending: Ending) {
        self.events.publish(&self.hub, [event]).await;
        self.hub.end(room_id, ending).await;
    }

    /// Forgets what revocations and room policy end, as the hub hears of
    /// them, until `stop`.
    pub async fn follow_endings(&self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut endings = self.hub.follow_endings();
        loop {
            let ended = tokio::select! {
                _ = stop.changed() => return,
                ended = endings.recv() => ended,
            };
            match ended {
                Ok(Ended::Session(jti)) => self.sessions.forget(jti),
                Ok(Ended::Subscriptions {
                    room_id,
                    ending: Ending::Participant { user },
                }) => {
                    self.members.forget((room_id, user));
                }
                Ok(Ended::Subscriptions {
                    room_id,
                    ending: Ending::Room,
                }) => {
                    self.members.forget_where(|(room, _)| *room == room_id);
                }
                // Missed some: the entries age out within TRUSTED_FOR anyway.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    }
}

/// The state the service put in the depot of every request.
pub fn from_depot(depot: &salvo::Depot) -> crate::http::error::ApiResult<&State> {
    depot
        .obtain::<State>()
        .map_err(|_| crate::http::error::ApiError::internal("application state missing from the depot"))
}
