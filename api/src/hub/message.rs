//! What travels through the hub, here and between replicas over Redis:
//! room events, Pusher events, and the hub's own bookkeeping. Plain data;
//! the [`super::Hub`] acts on it.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// What happened in a room: the events Spotik raises, by the names the
/// protocol gives them (`user.joined`, …), on the bus as in the frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventName {
    #[serde(rename = "room.updated")]
    RoomUpdated,
    #[serde(rename = "room.deleted")]
    RoomDeleted,
    #[serde(rename = "user.joined")]
    UserJoined,
    #[serde(rename = "user.left")]
    UserLeft,
    #[serde(rename = "track.added")]
    TrackAdded,
    #[serde(rename = "track.removed")]
    TrackRemoved,
    #[serde(rename = "track.voted")]
    TrackVoted,
    #[serde(rename = "track.skipped")]
    TrackSkipped,
    #[serde(rename = "playback.started")]
    PlaybackStarted,
    #[serde(rename = "playback.paused")]
    PlaybackPaused,
    #[serde(rename = "playback.resumed")]
    PlaybackResumed,
    #[serde(rename = "playback.stopped")]
    PlaybackStopped,
    #[serde(rename = "skip.voted")]
    SkipVoted,
    #[serde(rename = "chat.message")]
    ChatMessage,
    #[serde(rename = "chat.deleted")]
    ChatDeleted,
    #[serde(rename = "reaction.sent")]
    ReactionSent,
    #[serde(rename = "participant.updated")]
    ParticipantUpdated,
}

impl EventName {
    /// Every event, in the order of [`EventName::index`].
    pub const ALL: [EventName; 17] = [
        Self::RoomUpdated,
        Self::RoomDeleted,
        Self::UserJoined,
        Self::UserLeft,
        Self::TrackAdded,
        Self::TrackRemoved,
        Self::TrackVoted,
        Self::TrackSkipped,
        Self::PlaybackStarted,
        Self::PlaybackPaused,
        Self::PlaybackResumed,
        Self::PlaybackStopped,
        Self::SkipVoted,
        Self::ChatMessage,
        Self::ChatDeleted,
        Self::ReactionSent,
        Self::ParticipantUpdated,
    ];

    /// The protocol's name: `user.joined`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::RoomUpdated => "room.updated",
            Self::RoomDeleted => "room.deleted",
            Self::UserJoined => "user.joined",
            Self::UserLeft => "user.left",
            Self::TrackAdded => "track.added",
            Self::TrackRemoved => "track.removed",
            Self::TrackVoted => "track.voted",
            Self::TrackSkipped => "track.skipped",
            Self::PlaybackStarted => "playback.started",
            Self::PlaybackPaused => "playback.paused",
            Self::PlaybackResumed => "playback.resumed",
            Self::PlaybackStopped => "playback.stopped",
            Self::SkipVoted => "skip.voted",
            Self::ChatMessage => "chat.message",
            Self::ChatDeleted => "chat.deleted",
            Self::ReactionSent => "reaction.sent",
            Self::ParticipantUpdated => "participant.updated",
        }
    }

    /// Its place in [`EventName::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for EventName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A room event, numbered and stamped by the code that raised it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RoomEvent {
    pub room_id: Uuid,
    pub name: EventName,
    pub seq: i64,
    /// The full payload, `room_id`, `timestamp` and `seq` included.
    pub payload: Value,
    /// When its change was committed, in microseconds since the epoch (0
    /// for events that restate a room): the start of its delivery time.
    #[serde(default)]
    pub committed_at_us: i64,
}

/// Subscriptions to a room's channels that room policy ends: the code that
/// raises a leave or a deletion says so, rather than the hub reading it out
/// of event payloads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "who", rename_all = "snake_case")]
pub enum Ending {
    /// A participant left or was removed: their subscriptions end.
    Participant { user: Uuid },
    /// The room was deleted: every subscription to it ends.
    Room,
}

/// What room policy and revocations ended, as the hub saw it (raised here or
/// on another replica): for whoever keeps what those change, such as the
/// caches of sessions and memberships.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    Session(Uuid),
    Subscriptions { room_id: Uuid, ending: Ending },
}

/// An event from the HTTP publishing API, in Pusher's terms.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PusherEvent {
    pub name: String,
    pub channels: Vec<String>,
    /// Already a string, as Pusher carries it.
    pub data: String,
    /// The publisher's own connection, left out.
    pub socket_id: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Broadcast {
    Room(RoomEvent),
    /// Room policy: subscriptions to end after the room's last event.
    End {
        room_id: Uuid,
        ending: Ending,
    },
    Pusher(PusherEvent),
    Revoked {
        session: Uuid,
    },
    /// A replica's first connection of a user on a presence channel.
    MemberUp {
        origin: String,
        channel: String,
        user_id: String,
        info: serde_json::Value,
    },
    /// A replica's last connection of a user on a presence channel left.
    MemberDown {
        origin: String,
        channel: String,
        user_id: String,
    },
    /// A replica's round trip through the bus (see `echo`): only its sender acts on it.
    Echo {
        nonce: u64,
    },
    /// A replica (re)joined the bus: the others announce their members again.
    Hello {
        origin: String,
    },
    Heartbeat {
        origin: String,
    },
    /// A replica asks the others for their subscription counts.
    CensusQuery {
        origin: String,
        request: u64,
    },
    CensusReply {
        origin: String,
        to: String,
        request: u64,
        channels: Vec<(String, usize)>,
    },
}

/// A message on the Redis channel, with the replica that sent it.
#[derive(Serialize)]
pub struct Outgoing<'a> {
    pub origin: &'a str,
    pub message: &'a Broadcast,
}

#[derive(Deserialize)]
pub struct Incoming {
    pub origin: String,
    pub message: Broadcast,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_protocols_on_the_bus_and_in_order() {
        for (i, name) in EventName::ALL.iter().enumerate() {
            assert_eq!(name.index(), i);
            assert_eq!(serde_json::to_value(name).unwrap(), name.as_str());
            assert_eq!(
                serde_json::from_value::<EventName>(name.as_str().into()).unwrap(),
                *name
            );
        }
    }
}
