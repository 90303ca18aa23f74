//! The real-time endpoints over the hub: Pusher protocol 7, the native `/ws`, Pusher's HTTP API and channel authorisation.

pub(crate) mod broadcasting;
pub(crate) mod budget;
pub(crate) mod catch_up;
pub(crate) mod http_api;
pub(crate) mod inbound;
pub(crate) mod join_wait;
pub(crate) mod link;
pub(crate) mod native;
pub(crate) mod pusher;
pub(crate) mod upgrade;
