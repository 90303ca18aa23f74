//! The API on a real three-node Redis Cluster (`REDIS_CLUSTER_URLS`),
//! started here with Debian's `redis-server --cluster-enabled yes` and
//! `redis-cli --cluster create`: caches by key, room events crossing
//! replicas on the room's sharded channel, and a node restart survived.

use crate::support::*;
use crate::ws::NativeClient;
use serde_json::json;
use spotik_api::store::events::EventName;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Three primaries, no replicas, each keeping its node file in `dir`.
struct Cluster {
    nodes: Vec<PrivateRedis>,
    dir: tempfile::TempDir,
}

impl Cluster {
    fn node(port: u16, dir: &Path) -> PrivateRedis {
        let dir = dir.display().to_string();
        let config = format!("nodes-{port}.conf");
        PrivateRedis::launch(
            port,
            &[
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                &config,
                "--cluster-node-timeout",
                "2000",
                "--dir",
                &dir,
                "--appendonly",
                "no",
            ],
        )
    }

    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let nodes: Vec<PrivateRedis> = (0..3).map(|_| Self::node(free_port(), dir.path())).collect();
        let addresses: Vec<String> = nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)).collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("redis-cli");
        assert!(created.success(), "redis-cli --cluster create");
        let cluster = Self { nodes, dir };
        cluster.wait_until_ok();
        cluster
    }

    fn state_ok(port: u16) -> bool {
        Command::new("redis-cli")
            .args(["-p", &port.to_string(), "cluster", "info"])
            .output()
            .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("cluster_state:ok"))
    }

    fn wait_until_ok(&self) {
        for _ in 0..200 {
            if self.nodes.iter().all(|n| Self::state_ok(n.port)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the cluster did not come up");
    }

    fn urls(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("redis://127.0.0.1:{}", n.port))
            .collect::<Vec<_>>()
            .join(",")
    }

    fn cli(port: u16, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .arg("-p")
            .arg(port.to_string())
            .args(args)
            .output()
            .expect("redis-cli");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// The node (index) owning `slot`, by node 0's view.
    fn owner_of(&self, slot: u16) -> usize {
        let ids: Vec<String> = self
            .nodes
            .iter()
            .map(|n| Self::cli(n.port, &["cluster", "myid"]))
            .collect();
        let table = Self::cli(self.nodes[0].port, &["cluster", "nodes"]);
        for line in table.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let owns = fields.iter().skip(8).any(|range| {
                let (low, high) = range.split_once('-').unwrap_or((range, range));
                matches!((low.parse::<u16>(), high.parse::<u16>()), (Ok(l), Ok(h)) if (l..=h).contains(&slot))
            });
            if owns {
                return ids.iter().position(|id| id == fields[0]).expect("a known node");
            }
        }
        panic!("no node owns slot {slot}");
    }

    /// Moves an empty `slot` from its owner to another node, as
    /// `redis-cli --cluster reshard` does: importing, migrating, then the
    /// new owner told to every node. The old owner drops the slot's
    /// sharded subscribers (a `sunsubscribe` push to each).
    fn move_slot(&self, slot: u16) -> usize {
        let from = self.owner_of(slot);
        let to = (from + 1) % self.nodes.len();
        let id = |i: usize| Self::cli(self.nodes[i].port, &["cluster", "myid"]);
        let (from_id, to_id, slot) = (id(from), id(to), slot.to_string());
        assert_eq!(
            Self::cli(
                self.nodes[to].port,
                &["cluster", "setslot", &slot, "importing", &from_id]
            ),
            "OK"
        );
        assert_eq!(
            Self::cli(
                self.nodes[from].port,
                &["cluster", "setslot", &slot, "migrating", &to_id]
            ),
            "OK"
        );
        for i in [to, from, 3 - to - from] {
            assert_eq!(
                Self::cli(self.nodes[i].port, &["cluster", "setslot", &slot, "node", &to_id]),
                "OK"
            );
        }
        for _ in 0..200 {
            if self.owner_of(slot.parse().unwrap()) == to {
                return to;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("slot {slot} did not move");
    }

    /// Stops node `i` and starts it again on the same port and node file.
    fn restart(&mut self, i: usize) {
        let port = self.nodes[i].port;
        self.nodes[i].stop();
        self.nodes[i] = Self::node(port, self.dir.path());
        self.wait_until_ok();
    }
}

async fn on_cluster(cluster: &Cluster, like: Option<&TestApp>) -> TestApp {
    spawn_with(Options {
        redis_cluster: Some(cluster.urls()),
        database_url: like.map(|app| app.database_url.clone()),
        media: like.map(|app| app.media.clone()),
        redis_prefix: like.map(|app| app.redis_prefix.clone()),
        ..Options::default()
    })
    .await
}

/// Waits until the bus of `app` is up (its first subscription made).
async fn bus_up(app: &TestApp) {
    for _ in 0..100 {
        if app.state.hub.stats.bus_connected() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the hub did not subscribe to the cluster");
}

/// Alice votes on one replica in a room Bob listens to on another.
struct Voting {
    room: String,
    alice: String,
    vote: String,
    listener: NativeClient,
    /// Whether Alice's vote stands now.
    voted: bool,
}

impl Voting {
    async fn start(voter: &TestApp, heard_on: &TestApp) -> Self {
        let (alice, _) = voter.user("alice").await;
        let (bob, _) = voter.user("bob").await;
        let room = voter.room(&alice).await;
        voter.post(&format!("/rooms/{room}/join"), &bob, json!({})).await;
        let track = voter.upload(&room, &alice, "tone-1500ms.wav").await.body["track"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let mut listener = NativeClient::connect(heard_on, &bob).await;
        listener.join(&room).await;
        tokio::time::sleep(Duration::from_millis(300)).await; // its SSUBSCRIBE made
        let vote = format!("/rooms/{room}/tracks/{track}/vote");
        Self {
            room,
            alice,
            vote,
            listener,
            voted: false,
        }
    }

    /// Votes (and takes the vote back, in turn) on `voter` until the
    /// listener hears one, half a second each, `attempts` times at most.
    async fn until_heard(&mut self, voter: &TestApp, attempts: usize) -> bool {
        for _ in 0..attempts {
            let answer = if self.voted {
                voter.delete(&self.vote, &self.alice).await
            } else {
                voter.post(&self.vote, &self.alice, json!({})).await
            };
            assert_eq!(answer.status, 200, "{:?}", answer.body);
            self.voted = !self.voted;
            if tokio::time::timeout(Duration::from_millis(500), self.listener.expect("track_voted"))
                .await
                .is_ok()
            {
                return true;
            }
        }
        false
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn room_events_cross_replicas_on_a_redis_cluster_and_survive_a_node_restart() {
    let mut cluster = Cluster::start();
    let first = on_cluster(&cluster, None).await;
    let second = on_cluster(&cluster, Some(&first)).await;
    // A replica with no listener of the room: it must not be sent the
    // room's votes (the point of sharding), but still hear joins.
    let third = on_cluster(&cluster, Some(&first)).await;
    for app in [&first, &second, &third] {
        bus_up(app).await;
    }
    // Bob listens on the second replica; Alice votes on the first.
    let mut voting = Voting::start(&first, &second).await;
    let (room, alice, vote) = (voting.room.clone(), voting.alice.clone(), voting.vote.clone());
    // The queue is cached on the cluster: the second read is a hit.
    let hits = first.state.cache.stats.hits.load(std::sync::atomic::Ordering::Relaxed);
    for _ in 0..2 {
        assert_eq!(first.get(&format!("/rooms/{room}/tracks"), &alice).await.status, 200);
    }
    assert!(first.state.cache.stats.hits.load(std::sync::atomic::Ordering::Relaxed) > hits);

    let mut overheard = third
        .state
        .hub
        .follow_room_events(uuid::Uuid::new_v4(), std::net::Ipv4Addr::LOCALHOST.into());
    assert_eq!(first.post(&vote, &alice, json!({})).await.status, 200);
    voting.voted = true;
    let heard = voting.listener.expect("track_voted").await;
    assert_eq!(heard["track"]["vote_score"], 1, "{heard}");
    let (carol, _) = first.user("carol").await;
    first.post(&format!("/rooms/{room}/join"), &carol, json!({})).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut names = Vec::new();
    while let Ok(event) = overheard.events.try_recv() {
        names.push(event.name);
    }
    assert!(
        names.contains(&EventName::UserJoined),
        "joins reach every replica: {names:?}"
    );
    assert!(
        !names.contains(&EventName::TrackVoted),
        "a vote reached a replica without listeners: {names:?}"
    );
    drop(overheard);

    // Every node restarted in turn: the sharded channel's node among them.
    for node in 0..3 {
        cluster.restart(node);
        assert!(
            voting.until_heard(&first, 40).await,
            "no event crossed after node {node} restarted"
        );
    }
}

/// Resharding moves a room's slot to another node, which drops the room's
/// sharded subscribers without closing their connections: the replica
/// listening to the room must notice and subscribe on the new owner.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rooms_events_still_cross_after_its_slot_moves_to_another_node() {
    let cluster = Cluster::start();
    let first = on_cluster(&cluster, None).await;
    let second = on_cluster(&cluster, Some(&first)).await;
    for app in [&first, &second] {
        bus_up(app).await;
    }
    let mut voting = Voting::start(&first, &second).await;
    assert!(voting.until_heard(&first, 1).await, "events cross before the move");

    let room = &voting.room;
    let channel = format!("{}room:{room}", first.redis_prefix);
    let slot: u16 = Cluster::cli(cluster.nodes[0].port, &["cluster", "keyslot", &channel])
        .parse()
        .unwrap();
    let to = cluster.move_slot(slot);
    assert!(
        voting.until_heard(&first, 20).await,
        "no event crossed after the room's slot moved to node {to}"
    );
    let figures = second.state.hub.stats.snapshot();
    assert!(figures.bus_resubscriptions >= 1, "{figures:?}");
}
