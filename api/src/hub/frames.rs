//! The text of every frame the hub sends, in both protocols.
//!
//! A room event is turned into text once per protocol and channel, and the
//! same bytes are queued for every recipient.

use super::message::{EventName, RoomEvent};
use super::outbox::Frame;
use serde::Serialize;
use serde_json::{Map, Value};
use std::borrow::Cow;

/// The channels a room's events go to: the private one the front end
/// subscribes to and a presence one for clients that want the member list.
pub fn room_channels(room: uuid::Uuid) -> [String; 2] {
    [format!("private-room.{room}"), format!("presence-room.{room}")]
}

/// The presence channel whose members a subscription to `channel` counts
/// in: a native client joins a room on its private channel, and is present
/// on the room's presence channel like a Pusher client there.
pub fn presence_of(channel: &str) -> Cow<'_, str> {
    match channel.strip_prefix("private-room.") {
        Some(room) => Cow::Owned(format!("presence-room.{room}")),
        None => Cow::Borrowed(channel),
    }
}

/// The room a channel name belongs to, if it is a room channel.
pub fn room_of(channel: &str) -> Option<uuid::Uuid> {
    let id = channel
        .strip_prefix("private-room.")
        .or_else(|| channel.strip_prefix("presence-room."))?;
    uuid::Uuid::parse_str(id).ok()
}

/// The event name as it goes out: with laravel-echo's namespace it is
/// `App\Events\user\joined` for `user.joined`, what `.listen('user.joined')`
/// waits for — except the two events the front end listens to by class
/// name, `.listen('TrackRemoved')` and `.listen('RoomUpdated')`.
pub fn event_name(namespace: Option<&str>, name: EventName) -> Cow<'static, str> {
    let Some(namespace) = namespace else {
        return Cow::Borrowed(name.as_str());
    };
    match name {
        EventName::TrackRemoved => Cow::Owned(format!("{namespace}\\TrackRemoved")),
        EventName::RoomUpdated => Cow::Owned(format!("{namespace}\\RoomUpdated")),
        _ => Cow::Owned(format!("{namespace}\\{}", name.as_str().replace('.', "\\"))),
    }
}

/// The front end has no handler for a stop: it clears its player on a
/// `track.skipped` with no `next_track`. So a stop also goes out in that
/// form, with the same `seq`, to the front end's clients (native, and
/// Pusher with laravel-echo's namespace).
fn front_end_alias(event: &RoomEvent) -> Option<RoomEvent> {
    if event.name != EventName::PlaybackStopped {
        return None;
    }
    let mut payload = event.payload.clone();
    if let Value::Object(map) = &mut payload {
        map.insert("next_track".into(), Value::Null);
        map.insert("stopped".into(), Value::Bool(true));
    }
    Some(RoomEvent {
        room_id: event.room_id,
        name: EventName::TrackSkipped,
        seq: event.seq,
        payload,
        committed_at_us: event.committed_at_us,
    })
}

/// Every Pusher frame a room event becomes on `channel`.
pub fn pusher_room_frames(namespace: Option<&str>, event: &RoomEvent, channel: &str) -> Vec<Frame> {
    let mut frames = vec![pusher(
        &event_name(namespace, event.name),
        Some(channel),
        &event.payload.to_string(),
    )];
    if let Some(alias) = front_end_alias(event).filter(|_| namespace.is_some()) {
        frames.push(pusher(
            &event_name(namespace, alias.name),
            Some(channel),
            &alias.payload.to_string(),
        ));
    }
    frames
}

/// Every native message a room event becomes.
pub fn native_room_frames(event: &RoomEvent) -> Vec<Frame> {
    let mut frames = vec![native_room_event(event)];
    frames.extend(front_end_alias(event).as_ref().map(native_room_event));
    frames
}

#[derive(Serialize)]
struct PusherFrame<'a> {
    event: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    channel: Option<&'a str>,
    /// Pusher's `data` is a string holding JSON.
    data: &'a str,
}

/// `{"event":…,"channel":…,"data":"<json as a string>"}`.
pub fn pusher(event: &str, channel: Option<&str>, data: &str) -> Frame {
    let text = serde_json::to_string(&PusherFrame { event, channel, data }).unwrap_or_default();
    Frame::from(text)
}

/// A Pusher frame whose `data` is `data` written as JSON text.
pub fn pusher_value(event: &str, channel: Option<&str>, data: &impl Serialize) -> Frame {
    pusher(event, channel, &serde_json::to_string(data).unwrap_or_default())
}

#[derive(Serialize)]
struct PusherError<'a> {
    code: Option<u16>,
    message: &'a str,
}

/// `pusher:error`; `code` is one of the protocol's 4000–4999 codes, or none.
pub fn pusher_error(code: Option<u16>, message: &str) -> Frame {
    pusher_value("pusher:error", None, &PusherError { code, message })
}

#[derive(Serialize)]
struct SubscriptionError<'a> {
    r#type: &'static str,
    error: &'a str,
    status: u16,
}

/// A subscription the server refused or ended, as pusher-js reports it to the channel.
pub fn subscription_error(channel: &str, status: u16, error: &str) -> Frame {
    pusher_value(
        "pusher:subscription_error",
        Some(channel),
        &SubscriptionError {
            r#type: "AuthError",
            error,
            status,
        },
    )
}

#[derive(Serialize)]
struct NativeFrame<'a, T> {
    r#type: &'a str,
    data: &'a T,
}

/// `{"type":…,"data":{…}}`, the front end's native protocol.
pub fn native(kind: &str, data: &impl Serialize) -> Frame {
    Frame::from(serde_json::to_string(&NativeFrame { r#type: kind, data }).unwrap_or_default())
}

#[derive(Serialize)]
struct NativeError<'a> {
    message: &'a str,
}

pub fn native_error(message: &str) -> Frame {
    native("error", &NativeError { message })
}

/// `room_left`: the room a native client is no longer in, and why when the
/// server ended it.
#[derive(Serialize)]
pub struct RoomLeft<'a> {
    pub room_id: Option<uuid::Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'a str>,
}

/// The native message type of a room event.
fn native_type(name: EventName) -> Cow<'static, str> {
    match name {
        EventName::RoomUpdated => Cow::Borrowed("room_state_updated"),
        other => Cow::Owned(other.as_str().replace('.', "_")),
    }
}

/// The native message of a room event: the Pusher payload plus the field
/// names the front end's native handlers read.
pub fn native_room_event(event: &RoomEvent) -> Frame {
    let mut data = match &event.payload {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    match event.name {
        EventName::TrackVoted => {
            if let Some(user) = data.get("user").cloned() {
                data.insert("voter".into(), user);
            }
        }
        // The client adds the time since `playback_started_at` to the
        // position it froze at the pause: it must be the resume instant.
        EventName::PlaybackResumed => {
            if let Some(at) = data.get("resumed_at").cloned() {
                data.insert("playback_started_at".into(), at);
            }
        }
        _ => {}
    }
    native(&native_type(event.name), &Value::Object(data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn laravel_echo_names_carry_the_namespace_with_backslashes() {
        assert_eq!(
            event_name(Some("App\\Events"), EventName::UserJoined),
            "App\\Events\\user\\joined"
        );
        assert_eq!(event_name(None, EventName::UserJoined), "user.joined");
        assert_eq!(
            event_name(Some("App\\Events"), EventName::TrackRemoved),
            "App\\Events\\TrackRemoved"
        );
        assert_eq!(
            event_name(Some("App\\Events"), EventName::RoomUpdated),
            "App\\Events\\RoomUpdated"
        );
        assert_eq!(event_name(None, EventName::RoomUpdated), "room.updated");
    }

    #[test]
    fn a_stop_also_reaches_the_front_end_as_a_skip_to_nothing() {
        let stop = RoomEvent {
            room_id: uuid::Uuid::nil(),
            name: EventName::PlaybackStopped,
            seq: 4,
            payload: json!({ "seq": 4, "next_track": { "id": "n" } }),
            committed_at_us: 0,
        };
        let native: Vec<Value> = native_room_frames(&stop)
            .iter()
            .map(|f| serde_json::from_str(f).unwrap())
            .collect();
        assert_eq!(native.len(), 2);
        assert_eq!(native[0]["type"], "playback_stopped");
        assert_eq!(native[1]["type"], "track_skipped");
        assert_eq!(native[1]["data"]["next_track"], Value::Null);
        assert_eq!(native[1]["data"]["seq"], 4);
        assert_eq!(
            pusher_room_frames(None, &stop, "c").len(),
            1,
            "plain Pusher clients get the event as named"
        );
        let echo: Vec<Value> = pusher_room_frames(Some("App\\Events"), &stop, "c")
            .iter()
            .map(|f| serde_json::from_str(f).unwrap())
            .collect();
        assert_eq!(echo[1]["event"], "App\\Events\\track\\skipped");
    }

    #[test]
    fn pusher_data_is_a_json_string() {
        let frame = pusher_value("track.voted", Some("private-room.x"), &json!({ "seq": 3 }));
        let parsed: Value = serde_json::from_str(&frame).unwrap();
        assert_eq!(parsed["event"], "track.voted");
        assert_eq!(parsed["channel"], "private-room.x");
        assert_eq!(parsed["data"], "{\"seq\":3}");
        let error: Value = serde_json::from_str(&pusher_error(Some(4009), "no")).unwrap();
        assert!(error.get("channel").is_none());
    }

    #[test]
    fn native_messages_use_the_front_ends_names_and_fields() {
        let event = |name: EventName, payload: Value| RoomEvent {
            room_id: uuid::Uuid::nil(),
            name,
            seq: 7,
            payload,
            committed_at_us: 0,
        };
        let voted: Value = serde_json::from_str(&native_room_event(&event(
            EventName::TrackVoted,
            json!({ "track": { "id": "t", "vote_score": 2 }, "user": { "id": "u" }, "seq": 7 }),
        )))
        .unwrap();
        assert_eq!(voted["type"], "track_voted");
        assert_eq!(voted["data"]["voter"]["id"], "u");
        assert_eq!(voted["data"]["seq"], 7);
        let resumed: Value = serde_json::from_str(&native_room_event(&event(
            EventName::PlaybackResumed,
            json!({ "resumed_at": "R", "playback_started_at": "S" }),
        )))
        .unwrap();
        assert_eq!(resumed["type"], "playback_resumed");
        assert_eq!(resumed["data"]["playback_started_at"], "R");
        let updated: Value =
            serde_json::from_str(&native_room_event(&event(EventName::RoomUpdated, json!({})))).unwrap();
        assert_eq!(updated["type"], "room_state_updated");
    }

    #[test]
    fn room_channels_name_their_room() {
        let room = uuid::Uuid::new_v4();
        for channel in room_channels(room) {
            assert_eq!(room_of(&channel), Some(room));
        }
        assert_eq!(room_of("private-room.not-a-uuid"), None);
        assert_eq!(room_of("private-chat"), None);
    }
}
