//! What every handler reaches: configuration, the pool, the cache and the event seam.

use crate::auth::limiter::LoginLimiter;
use crate::cache::Cache;
use crate::config::Config;
use crate::events::{Events, Pending};
use crate::hub::message::Ending;
use crate::hub::Hub;
use crate::request_stats::RequestStats;
use sqlx::PgPool;
use std::sync::Arc;

pub struct AppState {
    pub config: Config,
    pub db: PgPool,
    pub cache: Arc<Cache>,
    pub events: Events,
    pub hub: Arc<Hub>,
    pub login_limiter: LoginLimiter,
    pub requests: RequestStats,
    pub started: std::time::Instant,
}

pub type State = Arc<AppState>;

impl AppState {
    /// Publishes committed room events to every replica's clients, in order.
    pub async fn publish(&self, events: impl IntoIterator<Item = Pending>) {
        self.events.publish(&self.hub, events).await;
    }

    /// Publishes a committed event, then ends the subscriptions it ends
    /// (a participant leaving, a room deleted): after the event, so that the
    /// clients concerned hear why.
    pub async fn publish_ending(&self, event: Pending, room_id: uuid::Uuid, ending: Ending) {
        self.events.publish(&self.hub, [event]).await;
        self.hub.end(room_id, ending).await;
    }
}
