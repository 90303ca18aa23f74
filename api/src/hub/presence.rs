//! Presence channel members across every API replica.
//!
//! Each replica knows its own members (connections subscribed to a presence
//! channel here) and learns the others' over the bus: a replica announces a
//! user when their first connection on a channel arrives (`MemberUp`) and
//! when their last one leaves (`MemberDown`). A replica that (re)connects to
//! Redis says `Hello` and the others announce their members again; replicas
//! send a `Heartbeat` every few seconds, and the members of one not heard
//! from for [`SILENCE`] are dropped, so a crashed replica's users do not stay
//! "present" for ever. `pusher_internal:member_added` / `member_removed` go to
//! local clients only when a user appears or disappears cluster-wide.

use super::message::Broadcast;
use super::Member;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How often a replica tells the others it is alive.
pub const HEARTBEAT: Duration = Duration::from_secs(10);
/// How long a replica may stay silent before its members are dropped.
pub const SILENCE: Duration = Duration::from_secs(35);
/// Announcements waiting for Redis; more are dropped (a `Hello` heals it).
const OUTGOING: usize = 10_000;

/// What a change means for the channel's clients.
#[derive(Debug, PartialEq)]
pub enum Change {
    /// `pusher_internal:member_added` with this data.
    Added(MemberData),
    /// `pusher_internal:member_removed` with this data.
    Removed(MemberData),
    Unchanged,
}

/// A member of a presence channel as the protocol names one; `user_info`
/// is whatever the signed `channel_data` carried (free-form by protocol),
/// absent when the member leaves.
#[derive(Debug, PartialEq, Serialize)]
pub struct MemberData {
    user_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_info: Option<Value>,
}

/// `pusher_internal:subscription_succeeded`'s data: the members of a
/// presence channel, nothing for other channels.
#[derive(Debug, Default, Serialize)]
pub struct Roster {
    #[serde(skip_serializing_if = "Option::is_none")]
    presence: Option<Members>,
}

#[derive(Debug, Serialize)]
struct Members {
    count: usize,
    ids: Vec<String>,
    hash: Map<String, Value>,
}

#[derive(Default)]
struct PresentUser {
    info: Value,
    /// Connections of this user on this channel here.
    local: usize,
    /// Other replicas where the user is present.
    remote: HashSet<String>,
}

impl PresentUser {
    fn present(&self) -> bool {
        self.local > 0 || !self.remote.is_empty()
    }
}

pub struct Presence {
    origin: String,
    /// channel → user id → presence.
    channels: Mutex<HashMap<String, HashMap<String, PresentUser>>>,
    /// Other replicas, by when they were last heard from.
    nodes: Mutex<HashMap<String, Instant>>,
    outgoing: mpsc::Sender<Broadcast>,
    pending: Mutex<Option<mpsc::Receiver<Broadcast>>>,
}

fn added(user_id: &str, info: &Value) -> Change {
    Change::Added(MemberData {
        user_id: user_id.to_owned(),
        user_info: Some(info.clone()),
    })
}

fn removed(user_id: &str) -> Change {
    Change::Removed(MemberData {
        user_id: user_id.to_owned(),
        user_info: None,
    })
}

impl Presence {
    pub fn new(origin: String) -> Self {
        let (outgoing, pending) = mpsc::channel(OUTGOING);
        Self {
            origin,
            channels: Mutex::default(),
            nodes: Mutex::default(),
            outgoing,
            pending: Mutex::new(Some(pending)),
        }
    }

    /// The announcements to publish; the bus takes them once.
    pub fn take_outgoing(&self) -> Option<mpsc::Receiver<Broadcast>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    fn announce(&self, message: Broadcast) {
        let _ = self.outgoing.try_send(message);
    }

    /// Queues any hub message for the other replicas.
    pub fn send(&self, message: Broadcast) {
        self.announce(message);
    }

    /// Other replicas heard from recently.
    pub fn live_nodes(&self) -> usize {
        let nodes = self.nodes.lock().unwrap_or_else(|e| e.into_inner());
        nodes.values().filter(|heard| heard.elapsed() <= SILENCE).count()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, HashMap<String, PresentUser>>> {
        self.channels.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A connection here joined `channel` as `member`.
    pub fn local_join(&self, channel: &str, member: &Member) -> Change {
        let mut channels = self.lock();
        let user = channels
            .entry(channel.to_owned())
            .or_default()
            .entry(member.user_id.clone())
            .or_default();
        let was_present = user.present();
        user.local += 1;
        user.info = member.info.clone();
        if user.local == 1 {
            self.announce(Broadcast::MemberUp {
                origin: self.origin.clone(),
                channel: channel.to_owned(),
                user_id: member.user_id.clone(),
                info: member.info.clone(),
            });
        }
        if was_present {
            Change::Unchanged
        } else {
            added(&member.user_id, &member.info)
        }
    }

    /// A connection here left `channel`.
    pub fn local_leave(&self, channel: &str, user_id: &str) -> Change {
        let mut channels = self.lock();
        let Some(users) = channels.get_mut(channel) else {
            return Change::Unchanged;
        };
        let Some(user) = users.get_mut(user_id) else {
            return Change::Unchanged;
        };
        user.local = user.local.saturating_sub(1);
        if user.local > 0 {
            return Change::Unchanged;
        }
        self.announce(Broadcast::MemberDown {
            origin: self.origin.clone(),
            channel: channel.to_owned(),
            user_id: user_id.to_owned(),
        });
        if user.present() {
            return Change::Unchanged;
        }
        users.remove(user_id);
        if users.is_empty() {
            channels.remove(channel);
        }
        removed(user_id)
    }

    /// Another replica announced a member.
    pub fn remote_up(&self, origin: &str, channel: &str, user_id: &str, info: &Value) -> Change {
        let mut channels = self.lock();
        let user = channels
            .entry(channel.to_owned())
            .or_default()
            .entry(user_id.to_owned())
            .or_default();
        let was_present = user.present();
        user.remote.insert(origin.to_owned());
        if user.local == 0 {
            user.info = info.clone();
        }
        if was_present {
            Change::Unchanged
        } else {
            added(user_id, info)
        }
    }

    /// Another replica's last connection of a member left.
    pub fn remote_down(&self, origin: &str, channel: &str, user_id: &str) -> Change {
        let mut channels = self.lock();
        let Some(users) = channels.get_mut(channel) else {
            return Change::Unchanged;
        };
        let Some(user) = users.get_mut(user_id) else {
            return Change::Unchanged;
        };
        if !user.remote.remove(origin) || user.present() {
            return Change::Unchanged;
        }
        users.remove(user_id);
        if users.is_empty() {
            channels.remove(channel);
        }
        removed(user_id)
    }

    /// `{"presence":{"ids","hash","count"}}` for `pusher_internal:subscription_succeeded`.
    pub fn roster(&self, channel: &str) -> Roster {
        let channels = self.lock();
        let mut ids = Vec::new();
        let mut hash = Map::new();
        for (id, user) in channels.get(channel).into_iter().flatten() {
            if user.present() {
                ids.push(id.clone());
                hash.insert(id.clone(), user.info.clone());
            }
        }
        ids.sort();
        Roster {
            presence: Some(Members {
                count: ids.len(),
                ids,
                hash,
            }),
        }
    }

    /// User ids present on `channel` anywhere.
    pub fn users(&self, channel: &str) -> Vec<String> {
        let mut ids: Vec<String> = self
            .lock()
            .get(channel)
            .into_iter()
            .flatten()
            .filter(|(_, user)| user.present())
            .map(|(id, _)| id.clone())
            .collect();
        ids.sort();
        ids
    }

    /// Announces every local member again (another replica said hello, or
    /// this one reconnected to Redis).
    pub fn announce_all(&self) {
        for (channel, users) in self.lock().iter() {
            for (user_id, user) in users {
                if user.local > 0 {
                    self.announce(Broadcast::MemberUp {
                        origin: self.origin.clone(),
                        channel: channel.clone(),
                        user_id: user_id.clone(),
                        info: user.info.clone(),
                    });
                }
            }
        }
    }

    pub fn hello(&self) {
        self.announce(Broadcast::Hello {
            origin: self.origin.clone(),
        });
        self.announce_all();
    }

    pub fn heartbeat(&self) {
        self.announce(Broadcast::Heartbeat {
            origin: self.origin.clone(),
        });
    }

    pub fn heard(&self, origin: &str) {
        let mut nodes = self.nodes.lock().unwrap_or_else(|e| e.into_inner());
        nodes.insert(origin.to_owned(), Instant::now());
    }

    /// Drops the members of replicas silent for longer than `silence`;
    /// returns what that changes, per channel.
    pub fn reap(&self, silence: Duration) -> Vec<(String, Change)> {
        let silent: Vec<String> = {
            let mut nodes = self.nodes.lock().unwrap_or_else(|e| e.into_inner());
            let gone: Vec<String> = nodes
                .iter()
                .filter(|(_, heard)| heard.elapsed() > silence)
                .map(|(origin, _)| origin.clone())
                .collect();
            for origin in &gone {
                nodes.remove(origin);
            }
            gone
        };
        let mut changes = Vec::new();
        for origin in silent {
            let affected: Vec<(String, String)> = self
                .lock()
                .iter()
                .flat_map(|(channel, users)| {
                    users
                        .iter()
                        .filter(|(_, user)| user.remote.contains(&origin))
                        .map(|(id, _)| (channel.clone(), id.clone()))
                        .collect::<Vec<_>>()
                })
                .collect();
            for (channel, user_id) in affected {
                let change = self.remote_down(&origin, &channel, &user_id);
                if change != Change::Unchanged {
                    changes.push((channel, change));
                }
            }
        }
        changes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn member(id: &str) -> Member {
        Member {
            user_id: id.into(),
            info: json!({ "name": id }),
        }
    }

    #[test]
    fn a_user_appears_once_however_many_connections_and_replicas() {
        let presence = Presence::new("here".into());
        let mut announced = presence.take_outgoing().unwrap();
        assert!(matches!(
            presence.local_join("presence-a", &member("u")),
            Change::Added(_)
        ));
        assert_eq!(
            presence.local_join("presence-a", &member("u")),
            Change::Unchanged,
            "second tab"
        );
        assert_eq!(
            presence.remote_up("there", "presence-a", "u", &json!({})),
            Change::Unchanged,
            "also present elsewhere"
        );
        assert!(matches!(announced.try_recv(), Ok(Broadcast::MemberUp { .. })));
        assert!(announced.try_recv().is_err(), "one announcement for both tabs");
        assert_eq!(presence.local_leave("presence-a", "u"), Change::Unchanged);
        assert_eq!(
            presence.local_leave("presence-a", "u"),
            Change::Unchanged,
            "still there elsewhere"
        );
        assert!(matches!(announced.try_recv(), Ok(Broadcast::MemberDown { .. })));
        assert_eq!(
            serde_json::to_value(presence.roster("presence-a")).unwrap()["presence"]["count"],
            1
        );
        assert!(matches!(
            presence.remote_down("there", "presence-a", "u"),
            Change::Removed(_)
        ));
        assert_eq!(
            serde_json::to_value(presence.roster("presence-a")).unwrap()["presence"]["count"],
            0
        );
    }

    #[test]
    fn the_roster_lists_members_of_every_replica() {
        let presence = Presence::new("here".into());
        presence.local_join("presence-a", &member("local"));
        presence.remote_up("there", "presence-a", "remote", &json!({ "name": "remote" }));
        let roster = serde_json::to_value(presence.roster("presence-a")).unwrap();
        assert_eq!(roster["presence"]["ids"], json!(["local", "remote"]));
        assert_eq!(roster["presence"]["hash"]["remote"]["name"], "remote");
        assert_eq!(presence.users("presence-a"), vec!["local", "remote"]);
    }

    #[test]
    fn a_silent_replicas_members_are_dropped() {
        let presence = Presence::new("here".into());
        presence.heard("there");
        presence.remote_up("there", "presence-a", "u", &json!({}));
        assert!(presence.reap(Duration::from_secs(60)).is_empty(), "heard recently");
        std::thread::sleep(Duration::from_millis(20));
        let changes = presence.reap(Duration::from_millis(10));
        assert_eq!(changes.len(), 1);
        assert!(matches!(changes[0].1, Change::Removed(_)));
        assert_eq!(presence.users("presence-a"), Vec::<String>::new());
    }
}
