//! What WebSocket clients send, parsed once, in both protocols.
//!
//! No I/O: the connection loops act on the typed result, and property tests
//! feed these functions anything a client could send.

use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

/// A message of the front end's native protocol.
#[derive(Debug, PartialEq)]
pub enum Native {
    JoinRoom(Uuid),
    LeaveRoom,
    Ping,
    /// A clock exchange (Spotik's web app): answered at once with the
    /// server's receive and send instants beside the client's own.
    Time(TimeRequest),
}

/// `{"type":"time","data":{"id":7,"client_sent":1733500000123.456}}`: the
/// client's number for the exchange and its clock when it sent it (any
/// unit; echoed back untouched).
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
pub struct TimeRequest {
    pub id: u32,
    pub client_sent: f64,
}

#[derive(Deserialize)]
struct NativeMessage {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    data: Value,
}

/// serde reads a struct from a JSON array too (`["join_room", {…}]`); the
/// protocols speak objects only.
fn is_object(text: &str) -> bool {
    text.trim_start_matches([' ', '\t', '\n', '\r']).starts_with('{')
}

/// `{"type":…,"data":{…}}`; the error is what the client is told.
pub fn native(text: &str) -> Result<Native, &'static str> {
    const MALFORMED: &str = "Malformed message: expected {\"type\":…,\"data\":{…}}";
    if !is_object(text) {
        return Err(MALFORMED);
    }
    let message: NativeMessage = serde_json::from_str(text).map_err(|_| MALFORMED)?;
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
        "time" => TimeRequest::deserialize(&message.data)
            .ok()
            .filter(|time| time.client_sent.is_finite())
            .map(Native::Time)
            .ok_or("time needs data.id (a whole number) and data.client_sent (a number)"),
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
    const INVALID: &str = "Invalid message format: expected {\"event\":…,\"data\":…}";
    if !is_object(text) {
        return Err(INVALID);
    }
    let message: PusherMessage = serde_json::from_str(text).map_err(|_| INVALID)?;
    // pusher-js sends data as an object; other clients as a JSON string.
    let data = match message.data {
        Value::String(s) => serde_json::from_str(&s).unwrap_or(Value::String(s)),
        other => other,
    };
    match message.event.as_str() {
        "pusher:ping" => Ok(Pusher::Ping),
        "pusher:pong" => Ok(Pusher::Pong),
        // An object: serde would also read the struct from an array.
        "pusher:subscribe" => data
            .is_object()
            .then(|| serde_json::from_value(data).ok())
            .flatten()
            .map(Pusher::Subscribe)
            .ok_or("pusher:subscribe needs data.channel"),
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
        assert_eq!(
            native(r#"{"type":"time","data":{"id":7,"client_sent":1733500000123.25}}"#),
            Ok(Native::Time(TimeRequest {
                id: 7,
                client_sent: 1_733_500_000_123.25
            }))
        );
        assert!(native(r#"{"type":"time","data":{"id":-1,"client_sent":1}}"#).is_err());
        assert!(native(r#"{"type":"time","data":{"id":1,"client_sent":"1"}}"#).is_err());
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

    /// What the native protocol means, read independently of [`native`]:
    /// an object with a known `type`; a join names its room by UUID.
    fn native_meaning(text: &str) -> Option<Native> {
        let message: Value = serde_json::from_str(text).ok()?;
        match message.as_object()?.get("type")?.as_str()? {
            "join_room" => Uuid::parse_str(message.get("data")?.get("room_id")?.as_str()?)
                .ok()
                .map(Native::JoinRoom),
            "leave_room" => Some(Native::LeaveRoom),
            "ping" => Some(Native::Ping),
            "time" => {
                let data = message.get("data")?.as_object()?;
                let id = u32::try_from(data.get("id")?.as_u64()?).ok()?;
                let client_sent = data.get("client_sent")?.as_f64()?;
                Some(Native::Time(TimeRequest { id, client_sent }))
            }
            _ => None,
        }
    }

    /// What Pusher protocol 7 means, read independently of [`pusher`]: an
    /// object with a known `event`, its `data` an object or that object as
    /// a JSON string; a subscription names its channel (a string) and may
    /// carry `auth` and `channel_data` (strings).
    fn pusher_meaning(text: &str) -> Option<Pusher> {
        let message: Value = serde_json::from_str(text).ok()?;
        let message = message.as_object()?;
        let data = match message.get("data") {
            Some(Value::String(s)) => serde_json::from_str(s).unwrap_or(Value::String(s.clone())),
            Some(other) => other.clone(),
            None => Value::Null,
        };
        let text_of = |key: &str| match data.get(key) {
            None | Some(Value::Null) => Some(None),
            Some(Value::String(s)) => Some(Some(s.clone())),
            Some(_) => None,
        };
        match message.get("event")?.as_str()? {
            "pusher:ping" => Some(Pusher::Ping),
            "pusher:pong" => Some(Pusher::Pong),
            "pusher:subscribe" => Some(Pusher::Subscribe(Subscription {
                channel: data.as_object()?.get("channel")?.as_str()?.to_owned(),
                auth: text_of("auth")?,
                channel_data: text_of("channel_data")?,
            })),
            "pusher:unsubscribe" => Some(Pusher::Unsubscribe(
                data.get("channel").and_then(Value::as_str).map(str::to_owned),
            )),
            _ => None,
        }
    }

    /// Text a client could send: anything, JSON of the protocols' shapes
    /// with known and unknown names, and the same as arrays.
    fn message() -> impl Strategy<Value = String> {
        let names = prop_oneof![
            Just("join_room".to_owned()),
            Just("leave_room".to_owned()),
            Just("ping".to_owned()),
            Just("time".to_owned()),
            Just("pusher:subscribe".to_owned()),
            Just("pusher:unsubscribe".to_owned()),
            Just("pusher:ping".to_owned()),
            Just("pusher:pong".to_owned()),
            ".{0,20}",
        ];
        let data = prop_oneof![
            json(),
            any::<u128>().prop_map(|id| serde_json::json!({ "room_id": Uuid::from_u128(id).to_string() })),
            (any::<i64>(), any::<f64>()).prop_map(|(id, sent)| serde_json::json!({ "id": id, "client_sent": sent })),
            (0..4u32, -1e13..1e13f64).prop_map(|(id, sent)| serde_json::json!({ "id": id, "client_sent": sent })),
            ("[a-z.-]{0,20}", prop::option::of(".{0,10}"))
                .prop_map(|(channel, auth)| serde_json::json!({ "channel": channel, "auth": auth })),
        ];
        prop_oneof![
            ".{0,300}",
            (names.clone(), data.clone(), any::<bool>()).prop_map(|(name, data, as_string)| {
                let data = if as_string {
                    Value::String(data.to_string())
                } else {
                    data
                };
                serde_json::json!({ "type": name, "event": name, "data": data }).to_string()
            }),
            (names, data).prop_map(|(name, data)| serde_json::json!([name, data]).to_string()),
        ]
    }

    proptest! {
        /// Whatever a client sends, each protocol answers what the message
        /// means, and refuses (with words for the client) what it does not.
        #[test]
        fn any_message_is_understood_as_the_protocols_define_it(text in message()) {
            prop_assert_eq!(native(&text).ok(), native_meaning(&text), "{}", text);
            prop_assert_eq!(pusher(&text).ok(), pusher_meaning(&text), "{}", text);
        }
    }
}
