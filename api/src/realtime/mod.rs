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

use salvo::Router;

/// The real-time routes: channel authorisation, Pusher's HTTP API and the
/// two WebSockets (a WebSocket opens with a GET, RFC 6455).
pub fn router() -> Router {
    Router::new()
        .push(Router::with_path("api/broadcasting/auth").post(broadcasting::authorize))
        .push(
            Router::with_path("apps/{app_id}")
                .push(Router::with_path("events").post(http_api::publish))
                .push(Router::with_path("batch_events").post(http_api::publish_batch))
                .push(
                    Router::with_path("channels").get(http_api::list_channels).push(
                        Router::with_path("{channel}")
                            .get(http_api::show_channel)
                            .push(Router::with_path("users").get(http_api::list_users)),
                    ),
                ),
        )
        .push(Router::with_path("app/{key}").get(pusher::connect))
        .push(Router::with_path("ws").get(native::connect))
}
