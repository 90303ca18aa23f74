//! The capacity model of `docs/capacity.md` as a program: the costs
//! measured here (each with the run it comes from) and a load, in; what the
//! load needs of each part, and which part runs out first, out.
//!
//! ```text
//! capacity [--listeners 1000000] [--rooms 50000] [--track-seconds 210]
//!          [--votes-per-track 1] [--bitrate-kbps 192] [--affinity]
//! ```
//!
//! `--affinity`: the listeners of a room are on one API replica (a load
//! balancer hashing the room), so a sharded bus carries each event to one
//! replica instead of to every replica with a listener of the room.

/// Costs measured on this kind of machine (2 cores), per core unless said.
#[derive(Clone, Copy, Debug)]
pub struct Costs {
    /// Memory of one idle native `/ws` listener, bytes (`compare-api`,
    /// 2026-12-03: 7 826–7 860; Pusher 5 240–5 303).
    pub socket_bytes: f64,
    /// Frames delivered per second by one API core with no backlog
    /// (`compare-api`: 1 000 subscribers × an event every 20 ms, p99 17 ms).
    pub frames_per_core: f64,
    /// Votes one room takes per second through the API with group commit
    /// (`compare-api`, 50 voters: 7 316/s, one API core + PostgreSQL).
    pub votes_per_room: f64,
    /// Commits per second PostgreSQL makes on this machine, independent rows
    /// (`pgbench -c 50 -j 2 -T 10 -N`, 2026-12-03: 5 595 tps).
    pub pg_commits: f64,
    /// Votes per second one PostgreSQL server applies in the cross-room
    /// batches of `store/ballots.rs`: `spotik_apply_vote_batch` of 20 votes
    /// of 20 rooms from 8 clients, `pgbench -c 8 -j 2 -T 10` (2026-12-07:
    /// 539 batches/s, so 10 782 votes/s; the same function with one vote
    /// a commit: 2 192/s). loadtest/RESULTS.md, "Votes of many rooms".
    pub pg_batched_votes: f64,
    /// Messages one Redis core delivers per second to subscribers
    /// (`redis-benchmark publish` of 450 bytes to 20 subscribers,
    /// 2026-12-03: 89 047 publishes/s, so 1.78 M deliveries/s).
    pub redis_deliveries: f64,
    /// Bytes per second one edge core sends of large files
    /// (`compare-edge`: 100 MiB answers at 19.1 ms of CPU each).
    pub edge_bytes_per_core: f64,
    /// Edge CPU per first-range answer at a track change, seconds
    /// (`track-change`: 500 answers in 24.8 ms on one core).
    pub edge_first_range_cpu: f64,
    /// Usable bytes per second of one edge's network card (25 Gbit/s at 70 %).
    pub nic_bytes: f64,
    /// Listeners one API replica holds (descriptors, memory, fan-out).
    pub sockets_per_replica: f64,
    /// API CPU, seconds, for one bus message of a room the replica has no
    /// listener of (`loadtest/bus-shards`, 2026-12-03: replica C spent
    /// 64.2 µs per event on one Redis, 6.2 µs, its idle, on the cluster).
    pub bus_receive_cpu: f64,
}

impl Default for Costs {
    fn default() -> Self {
        Self {
            socket_bytes: 7_860.0,
            frames_per_core: 50_000.0,
            votes_per_room: 7_316.0,
            pg_commits: 5_595.0,
            pg_batched_votes: 10_782.0,
            redis_deliveries: 1_780_000.0,
            edge_bytes_per_core: 100.0 * 1_048_576.0 / 0.0191,
            edge_first_range_cpu: 0.0248 / 500.0,
            nic_bytes: 25e9 / 8.0 * 0.7,
            sockets_per_replica: 50_000.0,
            bus_receive_cpu: 58e-6,
        }
    }
}

/// The load to plan for.
#[derive(Clone, Copy, Debug)]
pub struct Load {
    pub listeners: f64,
    pub rooms: f64,
    pub track_seconds: f64,
    /// Votes each listener casts per track.
    pub votes_per_track: f64,
    pub bitrate_kbps: f64,
    /// A room's listeners on one API replica.
    pub affinity: bool,
}

impl Default for Load {
    fn default() -> Self {
        Self {
            listeners: 1_000_000.0,
            rooms: 50_000.0,
            track_seconds: 210.0,
            votes_per_track: 1.0,
            bitrate_kbps: 192.0,
            affinity: false,
        }
    }
}

/// What the load needs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Plan {
    pub track_changes_per_s: f64,
    pub votes_per_s: f64,
    /// Room events per second (two per track change, one per vote).
    pub events_per_s: f64,
    pub frames_per_s: f64,
    pub api_replicas: f64,
    pub api_cores_for_frames: f64,
    pub socket_memory_gib: f64,
    /// Deliveries the bus makes per second today (one channel: every
    /// replica hears every event) and sharded by room (`--affinity` or not).
    pub bus_today_per_s: f64,
    pub bus_deliveries_per_s: f64,
    /// API cores, over all replicas, spent taking in bus messages: today,
    /// and sharded (a replica then hears only rooms it has listeners of).
    pub api_cores_for_bus_today: f64,
    pub api_cores_for_bus: f64,
    pub redis_shards: f64,
    /// PostgreSQL writes per second (votes, track changes), and their share
    /// of one server's measured ceilings: votes in cross-room batches, a
    /// track change a commit of its own.
    pub pg_writes_per_s: f64,
    pub pg_load: f64,
    pub egress_gbit_s: f64,
    pub edge_replicas: f64,
    pub edge_cores: f64,
}

pub fn plan(costs: &Costs, load: &Load) -> Plan {
    let per_room = load.listeners / load.rooms;
    let track_changes_per_s = load.rooms / load.track_seconds;
    let votes_per_s = load.listeners * load.votes_per_track / load.track_seconds;
    let events_per_s = 2.0 * track_changes_per_s + votes_per_s;
    let frames_per_s = events_per_s * per_room;
    let api_replicas = (load.listeners / costs.sockets_per_replica).ceil();
    // Without affinity a room's listeners sit on as many replicas as the
    // chance spreads them over; every one of those replicas hears each event.
    let replicas_per_room = if load.affinity {
        1.0
    } else {
        api_replicas * (1.0 - (1.0 - 1.0 / api_replicas).powf(per_room))
    };
    let bus_deliveries_per_s = events_per_s * replicas_per_room;
    let egress = load.listeners * load.bitrate_kbps * 1000.0 / 8.0;
    let edge_cpu = egress / costs.edge_bytes_per_core + track_changes_per_s * per_room * costs.edge_first_range_cpu;
    Plan {
        track_changes_per_s,
        votes_per_s,
        events_per_s,
        frames_per_s,
        api_replicas,
        api_cores_for_frames: frames_per_s / costs.frames_per_core,
        socket_memory_gib: load.listeners * costs.socket_bytes / 1_073_741_824.0,
        bus_today_per_s: events_per_s * api_replicas,
        bus_deliveries_per_s,
        api_cores_for_bus_today: events_per_s * api_replicas * costs.bus_receive_cpu,
        api_cores_for_bus: bus_deliveries_per_s * costs.bus_receive_cpu,
        redis_shards: (bus_deliveries_per_s / costs.redis_deliveries).ceil().max(1.0),
        pg_writes_per_s: votes_per_s + track_changes_per_s,
        pg_load: votes_per_s / costs.pg_batched_votes + track_changes_per_s / costs.pg_commits,
        egress_gbit_s: egress * 8.0 / 1e9,
        edge_replicas: (egress / costs.nic_bytes).ceil(),
        edge_cores: edge_cpu,
    }
}

fn main() {
    let args = spotik_loadtest::Args::from_env();
    let number = |name: &str, default: f64| args.get(name).map_or(default, |v| v.parse().expect(name));
    let defaults = Load::default();
    let load = Load {
        listeners: number("--listeners", defaults.listeners),
        rooms: number("--rooms", defaults.rooms),
        track_seconds: number("--track-seconds", defaults.track_seconds),
        votes_per_track: number("--votes-per-track", defaults.votes_per_track),
        bitrate_kbps: number("--bitrate-kbps", defaults.bitrate_kbps),
        affinity: args.has("--affinity"),
    };
    let costs = Costs::default();
    let p = plan(&costs, &load);
    println!(
        "{} listeners in {} rooms, tracks of {} s, {} vote(s) per listener per track, {} kbit/s, room affinity: {}\n",
        load.listeners, load.rooms, load.track_seconds, load.votes_per_track, load.bitrate_kbps, load.affinity
    );
    println!("| quantity | value |\n| --- | ---: |");
    let rows = [
        ("track changes / s", p.track_changes_per_s),
        ("votes / s", p.votes_per_s),
        ("room events / s", p.events_per_s),
        ("frames to listeners / s", p.frames_per_s),
        ("API replicas (sockets)", p.api_replicas),
        ("API cores for the frames", p.api_cores_for_frames),
        ("memory of the sockets, GiB", p.socket_memory_gib),
        ("bus deliveries / s, one channel (today)", p.bus_today_per_s),
        ("bus deliveries / s, sharded by room", p.bus_deliveries_per_s),
        (
            "API cores taking in bus messages, one channel (today)",
            p.api_cores_for_bus_today,
        ),
        ("API cores taking in bus messages, sharded by room", p.api_cores_for_bus),
        ("Redis shards for the sharded bus", p.redis_shards),
        ("PostgreSQL writes / s (votes, track changes)", p.pg_writes_per_s),
        ("PostgreSQL load (of one measured server)", p.pg_load),
        ("egress, Gbit/s", p.egress_gbit_s),
        ("edge replicas (network cards)", p.edge_replicas),
        ("edge cores (CPU)", p.edge_cores),
    ];
    for (name, value) in rows {
        println!("| {name} | {value:.2} |");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The figures `docs/capacity.md` quotes come from this model.
    #[test]
    fn a_million_listeners_in_fifty_thousand_rooms() {
        let p = plan(&Costs::default(), &Load::default());
        assert_eq!(p.api_replicas, 20.0);
        assert!((p.egress_gbit_s - 192.0).abs() < 1e-9);
        assert_eq!(p.edge_replicas, 11.0);
        assert!((p.votes_per_s - 4_761.9).abs() < 1.0);
        // Votes in cross-room batches: under half of one measured server.
        assert!(p.pg_load > 0.45 && p.pg_load < 0.52, "{}", p.pg_load);
        // Twenty listeners per room spread over twenty replicas reach
        // about thirteen of them: a sharded bus saves little without affinity.
        let spread = p.bus_deliveries_per_s / p.events_per_s;
        assert!(spread > 12.0 && spread < 14.0, "{spread}");
        let with_affinity = plan(
            &Costs::default(),
            &Load {
                affinity: true,
                ..Load::default()
            },
        );
        assert_eq!(with_affinity.bus_deliveries_per_s, with_affinity.events_per_s);
        // Taking in every room's events costs each replica 0.3 of a core
        // (measured cost); sharded with affinity, a twentieth of that.
        assert!(
            (p.api_cores_for_bus_today - 6.08).abs() < 0.01,
            "{}",
            p.api_cores_for_bus_today
        );
        assert!((with_affinity.api_cores_for_bus - 0.30).abs() < 0.01);
    }

    #[test]
    fn the_needs_grow_with_the_listeners() {
        let one = plan(&Costs::default(), &Load::default());
        let two = plan(
            &Costs::default(),
            &Load {
                listeners: 2_000_000.0,
                ..Load::default()
            },
        );
        assert!((two.egress_gbit_s / one.egress_gbit_s - 2.0).abs() < 1e-9);
        assert_eq!(two.api_replicas, 2.0 * one.api_replicas);
        assert!(
            two.frames_per_s > 2.0 * one.frames_per_s,
            "more listeners per room, more frames each"
        );
    }
}
