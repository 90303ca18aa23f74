//! Pusher's HTTP API at `/apps/{app_id}/…`: publish events, query channels.
//!
//! Every request is signed as Pusher's server libraries sign it (see
//! `spotik_shared::pusher_auth`): a bad or missing signature, an unknown key
//! or a timestamp more than ten minutes off is `401`, another app id `404`.
//! Published events reach this replica's clients at once and the others'
//! through Redis.

use crate::http::error::ApiResult;
use crate::http::path::PathText;
use crate::http::reply::Raw;
use crate::hub::message::PusherEvent;
use crate::state::from_depot;
use crate::state::AppState;
use chrono::Utc;
use salvo::http::{ParseError, StatusCode};
use salvo::oapi::{
    BasicType, Components, Content, EndpointOutRegister, Object, Operation, Response as OapiResponse, ToSchema,
};
use salvo::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use spotik_shared::pusher_auth;
use std::collections::BTreeMap;

/// Pusher's limits: event data size, channels per event, events per batch.
const MAX_DATA_BYTES: usize = 10 * 1024;
const MAX_CHANNELS: usize = 100;
const MAX_BATCH: usize = 10;
const MAX_NAME: usize = 200;
const MAX_BODY_BYTES: usize = 256 * 1024;

/// A refusal, `{"error": …}` as Pusher's API answers them.
#[derive(Serialize)]
struct Refusal {
    error: String,
}

fn refuse(status: StatusCode, error: impl std::fmt::Display) -> Raw {
    Raw::json(
        status,
        Refusal {
            error: error.to_string(),
        },
    )
}

/// What this API answers: JSON as Pusher's own HTTP API writes it, or
/// `{"error": …}` with the status of a refusal.
pub struct PusherAnswer(Raw);

#[async_trait]
impl Writer for PusherAnswer {
    async fn write(self, req: &mut Request, depot: &mut Depot, res: &mut Response) {
        self.0.write(req, depot, res).await;
    }
}

impl EndpointOutRegister for PusherAnswer {
    fn register(_components: &mut Components, operation: &mut Operation) {
        let object = || Content::new(Object::with_type(BasicType::Object));
        operation.responses.insert(
            "200",
            OapiResponse::new("As Pusher's HTTP API answers (docs/realtime.md)")
                .add_content("application/json", object()),
        );
        operation.responses.insert(
            "default",
            OapiResponse::new("`{\"error\": …}`: 400, 401 (signature), 404 (another app), 413")
                .add_content("application/json", object()),
        );
    }
}

/// The query every request is signed with, as Pusher's server libraries send it.
const SIGNED: &str = "Signed as Pusher's server libraries sign: auth_key, auth_timestamp, auth_version, auth_signature (and body_md5 with a body)";

/// A channel's figures; only those asked for (`?info=`) are present.
#[derive(Serialize, Default)]
struct ChannelInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    occupied: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_count: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subscription_count: Option<usize>,
}

#[derive(Serialize)]
struct Channels {
    channels: BTreeMap<String, ChannelInfo>,
}

#[derive(Serialize)]
struct Users {
    users: Vec<UserId>,
}

#[derive(Serialize)]
struct UserId {
    id: String,
}

/// What a published event or batch answers: nothing to report.
#[derive(Serialize)]
struct Published {}

#[derive(Serialize)]
struct BatchPublished {
    batch: [Published; 0],
}

/// Checks the app id and the signature, then reads the body and checks it
/// is the one signed for. The signature is checked first: an unsigned
/// request is refused before the server waits for a byte of its body.
async fn verified(req: &mut Request, state: &AppState, app_id: &PathText) -> Result<Vec<u8>, Raw> {
    if app_id.0 != state.config.hub.app_id {
        return Err(refuse(StatusCode::NOT_FOUND, "Unknown app"));
    }
    let config = &state.config.hub;
    let query = req.uri().query().unwrap_or("").to_owned();
    pusher_auth::verify_query(
        &config.app_key,
        &config.app_secret,
        req.method().as_str(),
        req.uri().path(),
        &query,
        Utc::now().timestamp(),
    )
    .map_err(|error| refuse(StatusCode::UNAUTHORIZED, error))?;
    let body = match req.payload_with_max_size(MAX_BODY_BYTES).await {
        Ok(bytes) => bytes.to_vec(),
        Err(ParseError::PayloadTooLarge) => {
            return Err(refuse(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large"))
        }
        Err(_) => return Err(refuse(StatusCode::BAD_REQUEST, "Could not read the request body")),
    };
    pusher_auth::verify_body(&query, &body).map_err(|error| refuse(StatusCode::UNAUTHORIZED, error))?;
    Ok(body)
}

/// An event to publish to one or more channels.
#[derive(Deserialize, ToSchema)]
struct EventRequest {
    name: String,
    data: Value,
    #[serde(default)]
    channels: Vec<String>,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    socket_id: Option<String>,
}

fn event(request: EventRequest) -> Result<PusherEvent, Raw> {
    let mut channels = request.channels;
    channels.extend(request.channel);
    let data = match request.data {
        Value::String(s) => s,
        other => other.to_string(),
    };
    let bad = |message: &str| Err(refuse(StatusCode::BAD_REQUEST, message));
    if request.name.is_empty() || request.name.len() > MAX_NAME {
        return bad("name must be 1 to 200 characters");
    }
    if channels.is_empty() || channels.len() > MAX_CHANNELS {
        return bad("give 1 to 100 channels");
    }
    if channels.iter().any(|c| c.is_empty() || c.len() > 164) {
        return bad("channel names are 1 to 164 characters");
    }
    if data.len() > MAX_DATA_BYTES {
        return Err(refuse(StatusCode::PAYLOAD_TOO_LARGE, "data is over 10 KiB"));
    }
    Ok(PusherEvent {
        name: request.name,
        channels,
        data,
        socket_id: request.socket_id,
    })
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Raw> {
    serde_json::from_slice(body).map_err(|e| refuse(StatusCode::BAD_REQUEST, format!("invalid JSON body: {e}")))
}

/// Publishes an event to channels.
#[endpoint(tags("pusher-http"), request_body = EventRequest, parameters(("auth_signature" = String, Query, description = SIGNED)))]
pub async fn publish(req: &mut Request, depot: &mut Depot, app_id: PathText) -> ApiResult<PusherAnswer> {
    let state = from_depot(depot)?;
    let outcome = async {
        let body = verified(req, state, &app_id).await?;
        let event = event(parse(&body)?)?;
        state.hub.publish_pusher_event(event).await;
        Ok::<_, Raw>(Raw::json(StatusCode::OK, Published {}))
    };
    Ok(PusherAnswer(outcome.await.unwrap_or_else(|refusal| refusal)))
}

/// Up to ten events.
#[derive(Deserialize, ToSchema)]
struct Batch {
    batch: Vec<EventRequest>,
}

/// Publishes up to ten events.
#[endpoint(tags("pusher-http"), request_body = Batch, parameters(("auth_signature" = String, Query, description = SIGNED)))]
pub async fn publish_batch(req: &mut Request, depot: &mut Depot, app_id: PathText) -> ApiResult<PusherAnswer> {
    let state = from_depot(depot)?;
    let outcome = async {
        let body = verified(req, state, &app_id).await?;
        let batch: Batch = parse(&body)?;
        if batch.batch.len() > MAX_BATCH {
            return Err(refuse(StatusCode::BAD_REQUEST, "at most 10 events per batch"));
        }
        let events = batch.batch.into_iter().map(event).collect::<Result<Vec<_>, _>>()?;
        for event in events {
            state.hub.publish_pusher_event(event).await;
        }
        Ok::<_, Raw>(Raw::json(StatusCode::OK, BatchPublished { batch: [] }))
    };
    Ok(PusherAnswer(outcome.await.unwrap_or_else(|refusal| refusal)))
}

fn wants(req: &Request, field: &str) -> bool {
    req.query::<String>("info")
        .is_some_and(|info| info.split(',').any(|f| f.trim() == field))
}

/// The occupied channels, by prefix, with the figures asked for.
#[endpoint(tags("pusher-http"), parameters(("filter_by_prefix" = Option<String>, Query, description = "Only channels whose name starts so"), ("info" = Option<String>, Query, description = "Comma-separated: user_count, subscription_count"), ("auth_signature" = String, Query, description = SIGNED)))]
pub async fn list_channels(req: &mut Request, depot: &mut Depot, app_id: PathText) -> ApiResult<PusherAnswer> {
    let state = from_depot(depot)?;
    let outcome = async {
        verified(req, state, &app_id).await?;
        let prefix = req.query::<String>("filter_by_prefix").unwrap_or_default();
        let (users, subscriptions) = (wants(req, "user_count"), wants(req, "subscription_count"));
        let channels = state
            .hub
            .occupied(&prefix)
            .await
            .into_iter()
            .map(|c| {
                let info = ChannelInfo {
                    occupied: None,
                    user_count: (users && c.name.starts_with("presence-")).then_some(c.users),
                    subscription_count: subscriptions.then_some(c.subscriptions),
                };
                (c.name, info)
            })
            .collect();
        Ok::<_, Raw>(Raw::json(StatusCode::OK, Channels { channels }))
    };
    Ok(PusherAnswer(outcome.await.unwrap_or_else(|refusal| refusal)))
}

/// One channel's figures.
#[endpoint(tags("pusher-http"), parameters(("info" = Option<String>, Query, description = "Comma-separated: subscription_count"), ("auth_signature" = String, Query, description = SIGNED)))]
pub async fn show_channel(
    req: &mut Request,
    depot: &mut Depot,
    app_id: PathText,
    channel: PathText,
) -> ApiResult<PusherAnswer> {
    let state = from_depot(depot)?;
    let outcome = async {
        verified(req, state, &app_id).await?;
        let name = channel.0;
        let found = state.hub.occupied(&name).await.into_iter().find(|c| c.name == name);
        let occupied = found.is_some();
        let found = found.unwrap_or(crate::hub::Occupancy {
            name: name.clone(),
            subscriptions: 0,
            users: 0,
        });
        let presence = name.starts_with("presence-");
        let info = ChannelInfo {
            occupied: Some(occupied),
            user_count: presence.then_some(found.users),
            subscription_count: (wants(req, "subscription_count") || !presence).then_some(found.subscriptions),
        };
        Ok::<_, Raw>(Raw::json(StatusCode::OK, info))
    };
    Ok(PusherAnswer(outcome.await.unwrap_or_else(|refusal| refusal)))
}

/// The users present in a presence channel.
#[endpoint(tags("pusher-http"), parameters(("auth_signature" = String, Query, description = SIGNED)))]
pub async fn list_users(
    req: &mut Request,
    depot: &mut Depot,
    app_id: PathText,
    channel: PathText,
) -> ApiResult<PusherAnswer> {
    let state = from_depot(depot)?;
    let outcome = async {
        verified(req, state, &app_id).await?;
        let name = channel.0;
        if !name.starts_with("presence-") {
            return Err(refuse(StatusCode::BAD_REQUEST, "only presence channels have users"));
        }
        let users = state.hub.members(&name).into_iter().map(|id| UserId { id }).collect();
        Ok::<_, Raw>(Raw::json(StatusCode::OK, Users { users }))
    };
    Ok(PusherAnswer(outcome.await.unwrap_or_else(|refusal| refusal)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn text(max: usize) -> impl Strategy<Value = String> {
        proptest::string::string_regex(&format!(".{{0,{max}}}")).unwrap()
    }

    proptest! {
        /// Any bytes as an events body: refused, or an event within
        /// Pusher's limits — never a panic.
        #[test]
        fn any_body_is_judged(body in proptest::collection::vec(any::<u8>(), 0..400)) {
            if let Ok(request) = parse::<EventRequest>(&body) {
                if let Ok(event) = event(request) {
                    prop_assert!(!event.name.is_empty() && event.name.len() <= MAX_NAME);
                }
            }
            let _ = parse::<Batch>(&body);
        }

        /// Event bodies of the right shape: accepted exactly when every
        /// limit holds, with the data passed on as a string.
        #[test]
        fn any_event_is_judged(
            name in text(210),
            channels in proptest::collection::vec(text(170), 0..4),
            channel in proptest::option::of(text(170)),
            data in prop_oneof![text(40).prop_map(Value::String), any::<i64>().prop_map(Value::from)],
        ) {
            let body = json!({ "name": name, "channels": channels, "channel": channel, "data": data }).to_string();
            let mut all = channels.clone();
            all.extend(channel.clone());
            let valid = (1..=MAX_NAME).contains(&name.len())
                && (1..=MAX_CHANNELS).contains(&all.len())
                && all.iter().all(|c| (1..=164).contains(&c.len()));
            let Ok(request) = parse::<EventRequest>(body.as_bytes()) else { panic!("valid JSON") };
            match event(request) {
                Ok(event) => {
                    prop_assert!(valid);
                    prop_assert_eq!(event.channels, all);
                    let expected = match data { Value::String(s) => s, other => other.to_string() };
                    prop_assert_eq!(event.data, expected);
                }
                Err(_) => prop_assert!(!valid),
            }
        }
    }
}
