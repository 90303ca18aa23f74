//! PostgreSQL: the SQL that reads and writes rooms, tracks, votes and events;
//! the queue's cache; the database's health.

pub mod autofill;
pub mod ballots;
pub mod chat;
pub(crate) mod db_health;
pub mod events;
pub mod history;
pub mod moderation_log;
pub mod newest;
pub mod queue;
pub mod quota;
pub mod recent;
pub mod records;
