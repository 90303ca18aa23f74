//! The capacity model of `docs/capacity.md` as a program: the costs
//! measured here (each with the run it comes from) and a load, in; what the
//! load needs of each part, and which part runs out first, out.
//!
//! ```text
//! capacity [--listeners 1000000] [--rooms 50000] [--track-seconds 210]
//!          [--votes-per-track 1] [--bitrate-kbps 192] [--affinity] [--cdn]
//!          [--big-room 50000]
//! ```
//!
//! `--affinity`: the listeners of a room are on one API replica (a load
//! balancer hashing the room), so a sharded bus carries each event to one
//! replica instead of to every replica with a listener of the room.
//! `--cdn`: the CDN tier (nginx-compat/cdn) serves the listeners, and the
//! edges send it each track once per track change (no track shared between
//! rooms is assumed: the worst case for the edges).
//! `--big-room N`: one more room of N listeners beside the others (a long
//! tail's head): what its events cost and how many replicas must hold it.

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
    /// API CPU, seconds, for one delivery of a room's event to a replica
    /// with listeners of it, on the sharded bus (`loadtest/bus-affinity`,
    /// 2026-12-07: 30 rooms × 10 listeners on three replicas; spreading the
    /// sockets made 1.93 more deliveries a vote, 2.93 against 1.00, and cost
    /// the replicas 226 µs more a vote: 117 µs a delivery, the receiving
    /// replica's own parse, routing and framing for its listeners).
    pub bus_delivery_cpu: f64,
    /// Cores of one API replica (the measured machines have two).
    pub replica_cores: f64,
    /// Share of one PostgreSQL server's measured capacity to plan up to.
    pub pg_headroom: f64,
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
            bus_delivery_cpu: 117e-6,
            replica_cores: 2.0,
            pg_headroom: 0.7,
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
    /// Listeners served by the CDN tier; the edges fill it.
    pub cdn: bool,
    /// Listeners of one more, much larger room (0: none).
    pub big_room: f64,
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
            cdn: false,
            big_room: 0.0,
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
    /// PostgreSQL servers, rooms split between them by id, each planned
    /// up to `pg_headroom` of the measured one.
    pub pg_servers: f64,
    /// What the listeners receive; with `--cdn`, what the CDN sends them.
    pub egress_gbit_s: f64,
    /// What the edges send: the listeners, or with `--cdn` the CDN's fills.
    pub edge_egress_gbit_s: f64,
    pub edge_replicas: f64,
    pub edge_cores: f64,
    pub big_room: BigRoom,
}

/// The larger room of `--big-room`: every event of it is a frame to each of
/// its listeners.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct BigRoom {
    pub events_per_s: f64,
    pub frames_per_event: f64,
    pub frames_per_s: f64,
    pub cores: f64,
    /// Replicas that must hold its sockets and write its frames.
    pub replicas: f64,
    /// The same with vote events merged into a few a second (a score
    /// update per tick: [`VOTE_TICKS_PER_S`]), which the hub does not do today.
    pub cores_with_ticks: f64,
    pub replicas_with_ticks: f64,
}

/// Vote events per second a large room would send if votes were merged per tick.
pub const VOTE_TICKS_PER_S: f64 = 4.0;

fn big_room(costs: &Costs, load: &Load) -> BigRoom {
    if load.big_room <= 0.0 {
        return BigRoom::default();
    }
    let size = load.big_room;
    let changes = 2.0 / load.track_seconds;
    let votes = size * load.votes_per_track / load.track_seconds;
    let events_per_s = changes + votes;
    let frames_per_s = events_per_s * size;
    let cores = frames_per_s / costs.frames_per_core;
    let holding = |cores: f64| {
        (size / costs.sockets_per_replica)
            .ceil()
            .max((cores / costs.replica_cores).ceil())
    };
    let cores_with_ticks = (changes + votes.min(VOTE_TICKS_PER_S)) * size / costs.frames_per_core;
    BigRoom {
        events_per_s,
        frames_per_event: size,
        frames_per_s,
        cores,
        replicas: holding(cores),
        cores_with_ticks,
        replicas_with_ticks: holding(cores_with_ticks),
    }
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
    let spread_per_room = api_replicas * (1.0 - (1.0 - 1.0 / api_replicas).powf(per_room));
    let replicas_per_room = if load.affinity { 1.0 } else { spread_per_room };
    let bus_deliveries_per_s = events_per_s * replicas_per_room;
    // Today every replica hears every event: those with listeners of the
    // room work as on the sharded bus, the others receive and drop it.
    let bus_cores_today = events_per_s
        * (spread_per_room * costs.bus_delivery_cpu + (api_replicas - spread_per_room) * costs.bus_receive_cpu);
    let egress = load.listeners * load.bitrate_kbps * 1000.0 / 8.0;
    // With the CDN tier, the edges send each room's new track once (one
    // fill per slice, loadtest/cdn) and answer the CDN's first ranges only.
    let track_bytes = load.track_seconds * load.bitrate_kbps * 1000.0 / 8.0;
    let (edge_egress, first_ranges) = if load.cdn {
        (track_changes_per_s * track_bytes, track_changes_per_s)
    } else {
        (egress, track_changes_per_s * per_room)
    };
    let edge_cpu = edge_egress / costs.edge_bytes_per_core + first_ranges * costs.edge_first_range_cpu;
    let pg_load = votes_per_s / costs.pg_batched_votes + track_changes_per_s / costs.pg_commits;
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
        api_cores_for_bus_today: bus_cores_today,
        api_cores_for_bus: bus_deliveries_per_s * costs.bus_delivery_cpu,
        redis_shards: (bus_deliveries_per_s / costs.redis_deliveries).ceil().max(1.0),
        pg_writes_per_s: votes_per_s + track_changes_per_s,
        pg_load,
        pg_servers: (pg_load / costs.pg_headroom).ceil().max(1.0),
        egress_gbit_s: egress * 8.0 / 1e9,
        edge_egress_gbit_s: edge_egress * 8.0 / 1e9,
        edge_replicas: (edge_egress / costs.nic_bytes).ceil().max(2.0),
        edge_cores: edge_cpu,
        big_room: big_room(costs, load),
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
        cdn: args.has("--cdn"),
        big_room: number("--big-room", 0.0),
    };
    let costs = Costs::default();
    let p = plan(&costs, &load);
    println!(
        "{} listeners in {} rooms, tracks of {} s, {} vote(s) per listener per track, {} kbit/s, room affinity: {}, CDN: {}\n",
        load.listeners, load.rooms, load.track_seconds, load.votes_per_track, load.bitrate_kbps, load.affinity, load.cdn
    );
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
        (
            "PostgreSQL servers (rooms split by id, each at most 0.7 loaded)",
            p.pg_servers,
        ),
        ("egress to listeners, Gbit/s", p.egress_gbit_s),
        ("egress of the edges, Gbit/s", p.edge_egress_gbit_s),
        ("edge replicas (network cards, at least two)", p.edge_replicas),
        ("edge cores (CPU)", p.edge_cores),
    ];
    table(&rows);
    let big = p.big_room;
    if load.big_room > 0.0 {
        println!("\nThe room of {} listeners:\n", load.big_room);
        let rows = [
            ("events / s", big.events_per_s),
            ("frames per event", big.frames_per_event),
            ("frames / s", big.frames_per_s),
            ("API cores for its frames", big.cores),
            ("replicas holding it", big.replicas),
            ("API cores, votes merged into 4 updates / s", big.cores_with_ticks),
            ("replicas holding it, votes merged", big.replicas_with_ticks),
        ];
        table(&rows);
    }
}

fn table(rows: &[(&str, f64)]) {
    println!("| quantity | value |\n| --- | ---: |");
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
        // Every replica hearing every event: 13 deliveries at 117 µs and 7
        // drops at 58 µs an event, 10.0 cores; sharded and spread 7.9;
        // with affinity one delivery an event, 0.61.
        assert!(
            (p.api_cores_for_bus_today - 10.0).abs() < 0.1,
            "{}",
            p.api_cores_for_bus_today
        );
        assert!((p.api_cores_for_bus - 7.86).abs() < 0.05, "{}", p.api_cores_for_bus);
        assert!(
            (with_affinity.api_cores_for_bus - 0.61).abs() < 0.01,
            "{}",
            with_affinity.api_cores_for_bus
        );
    }

    /// docs/capacity.md's ten million: PostgreSQL breaks first and is split
    /// by room; the CDN takes the egress off the edges; the big room needs
    /// its votes merged.
    #[test]
    fn ten_million_listeners_in_half_a_million_rooms() {
        let load = Load {
            listeners: 10_000_000.0,
            rooms: 500_000.0,
            affinity: true,
            cdn: true,
            big_room: 50_000.0,
            ..Load::default()
        };
        let p = plan(&Costs::default(), &load);
        assert!((p.pg_load - 4.84).abs() < 0.05, "{}", p.pg_load);
        assert_eq!(p.pg_servers, 7.0);
        assert!((p.egress_gbit_s - 1920.0).abs() < 1e-6);
        // 2 381 track changes a second, 5.04 MB each.
        assert!((p.edge_egress_gbit_s - 96.0).abs() < 0.1, "{}", p.edge_egress_gbit_s);
        assert_eq!(p.edge_replicas, 6.0);
        assert_eq!(p.bus_deliveries_per_s, p.events_per_s);
        assert_eq!(p.api_replicas, 200.0);
        let big = p.big_room;
        assert_eq!(big.frames_per_event, 50_000.0);
        assert!((big.events_per_s - 238.1).abs() < 0.1, "{}", big.events_per_s);
        assert!((big.cores - 238.1).abs() < 0.1, "{}", big.cores);
        assert_eq!(big.replicas, 120.0);
        assert!((big.cores_with_ticks - 4.0).abs() < 0.02, "{}", big.cores_with_ticks);
        assert_eq!(big.replicas_with_ticks, 3.0);
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
