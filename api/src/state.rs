//! What every handler reaches: configuration, the pool, the cache and the event seam.

use crate::auth::limiter::LoginLimiter;
use crate::cache::Cache;
use crate::config::Config;
use crate::events::Events;
use crate::hub::Hub;
use crate::monitoring::RequestStats;
use sqlx::PgPool;
use std::sync::Arc;

pub struct AppState {
    pub config: Config,
    pub db: PgPool,
    pub cache: Cache,
    pub events: Events,
    pub hub: Hub,
    pub login_limiter: LoginLimiter,
    pub requests: RequestStats,
    pub started: std::time::Instant,
}

pub type State = Arc<AppState>;
