//! Integration tests: the real API on port 0, over a fresh PostgreSQL
//! database and a private Redis key prefix per test, driven over HTTP.

mod openapi_check;
mod support;
mod ws;

mod auth;
mod autofill;
mod chat;
mod connection_caps;
mod cors;
mod covers;
mod crash;
mod dashboard;
mod deployment;
mod edge;
mod fair_queue;
mod fanout;
mod frontend;
mod held_resources;
mod history;
mod hostile_uploads;
mod late_join;
mod limits;
mod login_abuse;
mod moderation;
mod monitoring;
mod native_ws;
mod openapi;
mod playback;
mod pusher;
mod pusher_js;
mod queue_limit;
mod redis_cluster;
mod resilience;
mod rooms;
mod security;
mod skip_votes;
mod slow_bodies;
mod subscriptions;
mod sync_quality;
mod trust;
mod uploads;
mod vote_batches;
mod votes;
mod web_app;
