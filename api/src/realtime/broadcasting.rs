//! `POST /api/broadcasting/auth`: the signature that lets a pusher-js client
//! subscribe to a private or presence channel.
//!
//! Room channels (`private-room.{id}`, `presence-room.{id}`) are granted to
//! the room's participants, `private-App.Models.User.{id}` to that user
//! alone. The answer carries signed `channel_data` naming the user and the
//! token, so that the hub can end the subscription when the user leaves the
//! room or the token is revoked. A caller whose own join is still on its
//! way is answered when it commits ([`join_wait`]). Refusals are `403` (the old backend answered
//! them with `500`).

use super::join_wait;
use crate::http::error::{ApiError, ApiResult};
use crate::hub::frames;
use crate::services::caller::Caller;
use crate::views::users::UserRef;
use salvo::oapi::{endpoint, ToSchema};
use salvo::prelude::*;
use serde::{Deserialize, Serialize};
use spotik_shared::pusher_auth;

/// Form-encoded (laravel-echo's default) or JSON.
#[derive(Deserialize, ToSchema)]
struct AuthRequest {
    #[serde(default)]
    socket_id: String,
    #[serde(default)]
    channel_name: String,
}

fn valid_socket_id(id: &str) -> bool {
    id.split_once('.').is_some_and(|(a, b)| {
        !a.is_empty()
            && !b.is_empty()
            && a.len() <= 20
            && b.len() <= 20
            && (a.to_owned() + b).bytes().all(|c| c.is_ascii_digit())
    })
}

/// The signature pusher-js sends back in its `pusher:subscribe`.
#[derive(Serialize, ToSchema)]
pub struct Authorization {
    /// `<key>:<HMAC-SHA256 of socket_id:channel:channel_data>`.
    auth: String,
    /// JSON text: `{user_id, user_info: {id, username}, session}`.
    channel_data: String,
}

/// What `channel_data` holds: who subscribes, under which session.
#[derive(Serialize)]
struct ChannelData {
    user_id: String,
    user_info: UserRef,
    session: uuid::Uuid,
}

/// Signs a subscription to a room's channel (its participants, waiting up
/// to `BROADCAST_AUTH_WAIT_MS` for the caller's own join) or to the
/// caller's own user channel. The protocol is in docs/realtime.md.
#[endpoint(tags("realtime"), request_body = AuthRequest)]
pub async fn authorize(caller: Caller, req: &mut Request) -> ApiResult<Json<Authorization>> {
    let state = &caller.state;
    let is_json = req.content_type().is_some_and(|m| m.subtype() == "json");
    let body = if is_json {
        crate::http::request::json_body::<AuthRequest>(req).await?
    } else {
        AuthRequest {
            socket_id: req.form::<String>("socket_id").await.unwrap_or_default(),
            channel_name: req.form::<String>("channel_name").await.unwrap_or_default(),
        }
    };
    if !valid_socket_id(&body.socket_id) {
        return Err(ApiError::field("socket_id", "socket_id must look like 1234.5678"));
    }
    let channel = body.channel_name.as_str();
    let user = caller.id();
    if let Some(room) = frames::room_of(channel) {
        // Half the request's time at most, so the refusal is the answer.
        let wait = state.config.hub.auth_join_wait.min(state.config.request_timeout / 2);
        let client = crate::http::client_addr::of(req, &state.config.trusted_proxies);
        join_wait::participant_within(state, room, user, client, wait)
            .await
            .map_err(|e| match e {
                ApiError::NotFound(_) | ApiError::Forbidden(_) => {
                    ApiError::Forbidden("Only the room's participants may listen to it".into())
                }
                other => other,
            })?;
    } else if channel != format!("private-App.Models.User.{user}") {
        return Err(ApiError::Forbidden("You may not subscribe to this channel".into()));
    }
    let channel_data = serde_json::to_string(&ChannelData {
        user_id: user.to_string(),
        user_info: caller.user.public_view(),
        session: caller.claims.jti,
    })
    .map_err(ApiError::internal)?;
    let config = &state.config.hub;
    let auth = pusher_auth::sign_channel(
        &config.app_key,
        &config.app_secret,
        &body.socket_id,
        channel,
        Some(&channel_data),
    );
    Ok(Json(Authorization { auth, channel_data }))
}

#[cfg(test)]
mod tests {
    proptest::proptest! {
        /// A socket id is signed into the channel auth: only two runs of
        /// digits joined by a dot may pass, whatever the client sends.
        #[test]
        fn any_socket_id_is_judged(id in "[0-9.a-z\\n]{0,45}") {
            let parts: Vec<&str> = id.split('.').collect();
            let expected = parts.len() == 2
                && parts.iter().all(|p| (1..=20).contains(&p.len()) && p.bytes().all(|c| c.is_ascii_digit()));
            proptest::prop_assert_eq!(super::valid_socket_id(&id), expected);
        }

        /// A JSON body names the socket and the channel exactly as sent,
        /// whatever else it carries; a missing one is empty (and refused
        /// by the checks that follow), never taken from another field.
        #[test]
        fn a_json_body_yields_exactly_the_socket_and_channel_sent(
            socket_id in proptest::option::of("[ -~]{0,30}"),
            channel_name in proptest::option::of("[ -~]{0,40}"),
            extra in proptest::collection::hash_map("[a-z_]{1,12}", "[ -~]{0,20}", 0..4),
        ) {
            let mut body: serde_json::Map<String, serde_json::Value> =
                extra.into_iter().map(|(k, v)| (k, v.into())).collect();
            body.remove("socket_id");
            body.remove("channel_name");
            if let Some(id) = &socket_id {
                body.insert("socket_id".into(), id.clone().into());
            }
            if let Some(channel) = &channel_name {
                body.insert("channel_name".into(), channel.clone().into());
            }
            let text = serde_json::Value::Object(body).to_string();
            let request: super::AuthRequest = serde_json::from_str(&text).unwrap();
            proptest::prop_assert_eq!(request.socket_id, socket_id.unwrap_or_default());
            proptest::prop_assert_eq!(request.channel_name, channel_name.unwrap_or_default());
        }
    }

    #[test]
    fn socket_ids_are_two_numbers() {
        assert!(super::valid_socket_id("123.456"));
        for bad in ["", "123", "123.", ".456", "12a.4", "1.2.3", "123.456\n"] {
            assert!(!super::valid_socket_id(bad), "{bad:?}");
        }
    }
}
