//! What WebSocket clients send, parsed once, in both protocols.
//!
//! No I/O: the connection loops act on the typed result, and property tests
//! feed these functions anything a client could send.

use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

/// A message of the front end's native protocol.
#[derive(Debug, PartialEq, Eq)]
pub enum Native {
    JoinRoom(Uuid),
    LeaveRoom,
    Ping,
}

#[derive(Deserialize)]
struct NativeMessage {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    data: Value,
}

/// `{"type":…,"data":{…}}`; the error is what the client is told.
pub fn native(text: &str) -> Result<Native, &'static str> {
    let message: NativeMessage =
        serde_json::from_str(text).map_err(|_| "Malformed message: expected {\"type\":…,\"data\":{…}}")?;
    match message.kind.as_str() {
        "join_room" => message
            .data
            .get("room_id")
            .and_then(Value::as_str)
            .and_then(|id| Uuid::parse_str(id).ok())
            .map(Native::JoinRoom)
            .ok_or("join_room needs data.room_id"),
        "leave_room" => Ok(Native::LeaveRoom),
        "ping" => Ok(Native::Ping),
        _ => Err("Unknown message type"),
    }
}

/// `pusher:subscribe`'s data.
#[derive(Debug, Deserialize, PartialEq, Eq)]
pub struct Subscription {
    pub channel: String,
    #[serde(default)]
    pub auth: Option<String>,
    #[serde(default)]
    pub channel_data: Option<String>,
}

/// A message of Pusher protocol 7 from a client.
#[derive(Debug, PartialEq, Eq)]
pub enum Pusher {
    Ping,
    Pong,
    Subscribe(Subscription),
    /// The channel, if the message names one.
    Unsubscribe(Option<String>),
}

#[derive(Deserialize)]
struct PusherMessage {
    event: String,
    #[serde(default)]
    data: Value,
}

/// `{"event":…,"data":…}`; the error is the `pusher:error` message.
pub fn pusher(text: &str) -> Result<Pusher, &'static str> {
    let message: PusherMessage =
        serde_json::from_str(text).map_err(|_| "Invalid message format: expected {\"event\":…,\"data\":…}")?;
    // pusher-js sends data as an object; other clients as a JSON string.
    let data = match message.data {
        Value::String(s) => serde_json::from_str(&s).unwrap_or(Value::String(s)),
        other => other,
    };
    match message.event.as_str() {
        "pusher:ping" => Ok(Pusher::Ping),
        "pusher:pong" => Ok(Pusher::Pong),
        "pusher:subscribe" => serde_json::from_value(data)
            .map(Pusher::Subscribe)
            .map_err(|_| "pusher:subscribe needs data.channel"),
        "pusher:unsubscribe" => Ok(Pusher::Unsubscribe(
            data.get("channel").and_then(Value::as_str).map(str::to_owned),
        )),
        name if name.starts_with("client-") => Err("Client events are not enabled on this server"),
        "pusher:signin" => Err("User sign-in is not supported"),
        _ => Err("Unknown event"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_front_ends_messages_are_understood() {
        let room = Uuid::new_v4();
        assert_eq!(
            native(&format!(r#"{{"type":"join_room","data":{{"room_id":"{room}"}}}}"#)),
            Ok(Native::JoinRoom(room))
        );
        assert_eq!(native(r#"{"type":"leave_room","data":{}}"#), Ok(Native::LeaveRoom));
        assert_eq!(
            native(r#"{"type":"join_room","data":{"room_id":7}}"#),
            Err("join_room needs data.room_id")
        );
        assert!(native("{{{").unwrap_err().starts_with("Malformed"));
    }

    #[test]
    fn pusher_js_frames_are_understood_with_data_as_object_or_string() {
        let object = r#"{"event":"pusher:subscribe","data":{"channel":"private-room.x","auth":"k:s"}}"#;
        let string = r#"{"event":"pusher:subscribe","data":"{\"channel\":\"private-room.x\",\"auth\":\"k:s\"}"}"#;
        for text in [object, string] {
            assert_eq!(
                pusher(text),
                Ok(Pusher::Subscribe(Subscription {
                    channel: "private-room.x".into(),
                    auth: Some("k:s".into()),
                    channel_data: None,
                }))
            );
        }
        assert_eq!(pusher(r#"{"event":"pusher:ping","data":{}}"#), Ok(Pusher::Ping));
        assert_eq!(
            pusher(r#"{"event":"client-typing","data":{}}"#).unwrap_err(),
            "Client events are not enabled on this server"
        );
        assert_eq!(
            pusher(r#"{"event":"pusher:subscribe","data":{}}"#).unwrap_err(),
            "pusher:subscribe needs data.channel"
        );
    }

    /// Any JSON value, a few levels deep.
    fn json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            ".{0,40}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::hash_map("[a-z_:.-]{0,12}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn any_text_is_answered_never_a_panic(text in ".{0,300}") {
            let _ = native(&text);
            let _ = pusher(&text);
        }

        #[test]
        fn any_json_with_the_known_names_is_answered(
            kind in prop_oneof![Just("join_room".to_owned()), Just("leave_room".to_owned()), Just("ping".to_owned()), ".{0,12}"],
            event in prop_oneof![Just("pusher:subscribe".to_owned()), Just("pusher:unsubscribe".to_owned()), Just("pusher:ping".to_owned()), ".{0,20}"],
            data in json(),
        ) {
            let native_text = serde_json::json!({ "type": kind, "data": data }).to_string();
            if let Ok(Native::JoinRoom(room)) = native(&native_text) {
                prop_assert_eq!(data["room_id"].as_str().and_then(|id| Uuid::parse_str(id).ok()), Some(room));
            }
            let as_string = Value::String(data.to_string());
            for data in [data, as_string] {
                let text = serde_json::json!({ "event": event, "data": data }).to_string();
                if let Ok(Pusher::Subscribe(subscription)) = pusher(&text) {
                    prop_assert_eq!(event.as_str(), "pusher:subscribe");
                    prop_assert!(subscription.channel.len() <= text.len());
                }
            }
        }
    }
}
