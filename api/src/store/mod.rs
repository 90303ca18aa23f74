//! PostgreSQL and Redis: the SQL that reads rooms and tracks, the caches, the database health.

pub mod autofill;
pub mod ballots;
pub mod cache;
pub mod chat;
pub(crate) mod db_health;
pub mod history;
pub mod moderation_log;
pub mod newest;
pub mod queue;
pub mod quota;
pub mod recent;
pub mod records;
pub mod shared_windows;
