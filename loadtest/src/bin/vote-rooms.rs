//! Votes spread over many rooms, beside a storm in one: what a commit
//! carries when each room alone rarely has two votes at once
//! (`store/ballots.rs`). Run by `loadtest/vote-rooms`, which starts the API.
//!
//! ```text
//! vote-rooms seed --database-url URL --rooms 5000 --storm 50 --out DIR
//! vote-rooms run  --server 127.0.0.1:8000 --database-url URL --secret JWT_SECRET --dir DIR
//!                 [--seconds 20] [--connections 256] [--storm-rate 0]
//!                 [--kill-pid PID --kill-after 10]
//! ```
//!
//! `seed` writes, with SQL, a room per voter (its administrator, one track,
//! paused) and a storm room with `--storm` members and one track; DIR gets
//! the rows' ids. `run` gives each room's voter a vote or an unvote every
//! second (phases spread over the second, over `--connections` keep-alive
//! connections), while each storm member votes and unvotes `--storm-rate`
//! times a second, or as fast as it is answered (0, the default: a closed
//! loop that takes whatever the server has left). Latency is from the instant a vote was due, so a slow server
//! cannot hide behind a client that waits (coordinated omission). At the
//! end every score is checked against the votes acknowledged; with
//! `--kill-pid` the API is killed with SIGKILL mid-run and every room must
//! hold its last acknowledged vote, or the one in flight after it.
//! Prints `RESULT …`.

use spotik_loadtest::{quantile, Args, Http};
use sqlx::PgPool;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// One voter and the track it votes for.
#[derive(Clone)]
struct Voter {
    room: Uuid,
    track: Uuid,
    user: Uuid,
}

/// What a voter was told, and what it asked last without an answer.
#[derive(Default)]
struct Outcome {
    latencies_us: Vec<u64>,
    /// The last acknowledged vote (`true`: up); `None`: none yet.
    acknowledged: Option<bool>,
    /// A vote asked after it whose answer never came (the kill).
    in_flight: Option<bool>,
    refused: u64,
}

async fn connect_pool(url: &str) -> PgPool {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .connect(url)
        .await
        .expect("--database-url")
}

fn write_voters(path: &std::path::Path, voters: &[Voter]) {
    let text: String = voters
        .iter()
        .map(|v| format!("{} {} {}\n", v.room, v.track, v.user))
        .collect();
    std::fs::write(path, text).expect("write the seed's ids");
}

fn read_voters(path: &std::path::Path) -> Vec<Voter> {
    std::fs::read_to_string(path)
        .expect("read the seed's ids")
        .lines()
        .map(|line| {
            let ids: Vec<Uuid> = line.split(' ').map(|id| Uuid::parse_str(id).expect("an id")).collect();
            Voter {
                room: ids[0],
                track: ids[1],
                user: ids[2],
            }
        })
        .collect()
}

/// Rooms, tracks, users and memberships, by set-based SQL (a few seconds
/// for thousands, where the API's own paths would take minutes).
async fn seed(db: &PgPool, rooms: usize, storm: usize, out: &std::path::Path) {
    let tag = Uuid::new_v4().simple().to_string()[..8].to_owned();
    let users: Vec<(Uuid,)> = sqlx::query_as(
        "INSERT INTO users (username, email, password_hash)
         SELECT 'vr' || $1 || '_' || i, 'vr' || $1 || '_' || i || '@bench.invalid', 'none'
         FROM generate_series(1, $2) AS i RETURNING id",
    )
    .bind(&tag)
    .bind((rooms + storm) as i32)
    .fetch_all(db)
    .await
    .expect("insert the voters");
    let ids: Vec<Uuid> = users.into_iter().map(|(id,)| id).collect();
    let (spread, stormers) = ids.split_at(rooms);
    // The storm room is administered by its first member.
    let administrators: Vec<Uuid> = spread.iter().copied().chain(stormers.first().copied()).collect();
    let made: Vec<(Uuid, Uuid)> = sqlx::query_as(
        "INSERT INTO rooms (name, administrator_id) SELECT 'vote-rooms ' || admin, admin FROM unnest($1::uuid[]) AS admin
         RETURNING id, administrator_id",
    )
    .bind(&administrators)
    .fetch_all(db)
    .await
    .expect("insert the rooms");
    let room_of: HashMap<Uuid, Uuid> = made.into_iter().map(|(room, admin)| (admin, room)).collect();
    let tracks: Vec<(Uuid, Uuid)> = sqlx::query_as(
        "INSERT INTO tracks (room_id, uploader_id, filename, original_name, file_path, duration_ms,
                             file_size_bytes, mime_type, content_sha256)
         SELECT id, administrator_id, 'none.wav', 'vote-rooms.wav', 'none/none.wav', 60000, 1, 'audio/wav', 'none'
         FROM rooms WHERE id = ANY ($1) RETURNING room_id, id",
    )
    .bind(room_of.values().copied().collect::<Vec<_>>())
    .fetch_all(db)
    .await
    .expect("insert the tracks");
    let track_of: HashMap<Uuid, Uuid> = tracks.into_iter().collect();
    let mut voters: Vec<Voter> = spread
        .iter()
        .map(|user| {
            let room = room_of[user];
            Voter {
                room,
                track: track_of[&room],
                user: *user,
            }
        })
        .collect();
    if let Some(first) = stormers.first() {
        let room = room_of[first];
        voters.extend(stormers.iter().map(|user| Voter {
            room,
            track: track_of[&room],
            user: *user,
        }));
    }
    sqlx::query("INSERT INTO room_participants (room_id, user_id) SELECT * FROM unnest($1::uuid[], $2::uuid[])")
        .bind(voters.iter().map(|v| v.room).collect::<Vec<_>>())
        .bind(voters.iter().map(|v| v.user).collect::<Vec<_>>())
        .execute(db)
        .await
        .expect("insert the memberships");
    std::fs::create_dir_all(out).expect("--out");
    write_voters(&out.join("spread"), &voters[..rooms]);
    write_voters(&out.join("storm"), &voters[rooms..]);
}

fn headers(secret: &str, user: Uuid) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs() as i64;
    let (token, _) = spotik_api::auth::jwt::issue(secret, user, now, Duration::from_secs(3600));
    format!("Authorization: Bearer {token}\r\n")
}

fn target(voter: &Voter) -> String {
    format!("/api/rooms/{}/tracks/{}/vote", voter.room, voter.track)
}

/// One vote; `Err` when the connection failed (the server is gone).
async fn cast(http: &mut Http, voter: &Voter, headers: &str, up: bool) -> Result<u16, std::io::Error> {
    let method = if up { "POST" } else { "DELETE" };
    http.try_request(method, &target(voter), headers, b"").await
}

/// Rooms `k, k + n, …` of the spread voters on one connection: each votes
/// once a second at its phase, up and down by turns.
async fn spread_lane(
    server: SocketAddr,
    voters: Vec<(Voter, String)>,
    phases: Vec<Duration>,
    began: Instant,
    until: Instant,
    dead: Arc<AtomicBool>,
) -> Vec<Outcome> {
    let mut outcomes: Vec<Outcome> = voters.iter().map(|_| Outcome::default()).collect();
    let Ok(mut http) = Http::try_connect(server).await else {
        return outcomes;
    };
    let mut schedule: Vec<(Duration, usize)> = Vec::new();
    let seconds = until.duration_since(began).as_secs();
    for second in 0..seconds {
        for (i, phase) in phases.iter().enumerate() {
            schedule.push((Duration::from_secs(second) + *phase, i));
        }
    }
    schedule.sort_unstable();
    for (due, i) in schedule {
        if dead.load(Ordering::Relaxed) {
            break;
        }
        let at = began + due;
        tokio::time::sleep_until(at.into()).await;
        let (voter, headers) = &voters[i];
        let outcome = &mut outcomes[i];
        let up = !outcome.acknowledged.unwrap_or(false);
        match cast(&mut http, voter, headers, up).await {
            Ok(200) => {
                outcome.latencies_us.push(at.elapsed().as_micros() as u64);
                outcome.acknowledged = Some(up);
            }
            Ok(_) => outcome.refused += 1,
            Err(_) => {
                outcome.in_flight = Some(up);
                break;
            }
        }
    }
    outcomes
}

/// A storm member: votes and unvotes `rate` times a second (its latency
/// from each vote's due instant), or as fast as answered when `rate` is 0.
async fn stormer(
    server: SocketAddr,
    voter: Voter,
    headers: String,
    rate: f64,
    until: Instant,
    dead: Arc<AtomicBool>,
) -> Outcome {
    let mut outcome = Outcome::default();
    let Ok(mut http) = Http::try_connect(server).await else {
        return outcome;
    };
    let began = Instant::now();
    let mut count = 0u32;
    while Instant::now() < until && !dead.load(Ordering::Relaxed) {
        let due = if rate > 0.0 {
            began + Duration::from_secs_f64(f64::from(count) / rate)
        } else {
            Instant::now()
        };
        count += 1;
        tokio::time::sleep_until(due.into()).await;
        let up = !outcome.acknowledged.unwrap_or(false);
        match cast(&mut http, &voter, &headers, up).await {
            Ok(200) => {
                outcome.latencies_us.push(due.elapsed().as_micros() as u64);
                outcome.acknowledged = Some(up);
            }
            Ok(_) => outcome.refused += 1,
            Err(_) => {
                outcome.in_flight = Some(up);
                break;
            }
        }
    }
    outcome
}

/// (votes, commits) the API has counted (`GET /api/metrics`).
async fn commit_figures(server: SocketAddr) -> Option<(u64, u64)> {
    let mut http = Http::try_connect(server).await.ok()?;
    let (status, body) = http.try_request_body("GET", "/api/metrics", "", b"").await.ok()?;
    if status != 200 {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(&body).ok()?;
    let votes = &value["data"]["votes"];
    Some((votes["votes"].as_u64()?, votes["commits"].as_u64()?))
}

/// Rooms whose stored vote is neither the last acknowledged one nor the one
/// in flight after it, and tracks whose score is not their count of votes.
async fn check(db: &PgPool, voters: &[Voter], outcomes: &[Outcome]) -> (usize, usize) {
    let stored: Vec<(Uuid, Uuid)> =
        sqlx::query_as("SELECT track_id, user_id FROM track_votes WHERE track_id = ANY ($1)")
            .bind(voters.iter().map(|v| v.track).collect::<Vec<_>>())
            .fetch_all(db)
            .await
            .expect("read the votes");
    let stored: std::collections::HashSet<(Uuid, Uuid)> = stored.into_iter().collect();
    let lost = voters
        .iter()
        .zip(outcomes)
        .filter(|(voter, outcome)| {
            let present = stored.contains(&(voter.track, voter.user));
            present != outcome.acknowledged.unwrap_or(false) && Some(present) != outcome.in_flight
        })
        .count();
    let (wrong,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM tracks t WHERE t.id = ANY ($1)
           AND t.vote_score <> (SELECT count(*) FROM track_votes v WHERE v.track_id = t.id)",
    )
    .bind(voters.iter().map(|v| v.track).collect::<Vec<_>>())
    .fetch_one(db)
    .await
    .expect("read the scores");
    (lost, wrong as usize)
}

fn summary(label: &str, outcomes: &[Outcome], seconds: f64) -> String {
    let mut latencies: Vec<u64> = outcomes.iter().flat_map(|o| o.latencies_us.iter().copied()).collect();
    latencies.sort_unstable();
    let refused: u64 = outcomes.iter().map(|o| o.refused).sum();
    format!(
        "{label}_votes={} {label}_votes_per_s={:.0} {label}_p50_ms={:.2} {label}_p99_ms={:.2} {label}_max_ms={:.2} {label}_refused={refused}",
        latencies.len(),
        latencies.len() as f64 / seconds,
        quantile(&latencies, 0.5) as f64 / 1000.0,
        quantile(&latencies, 0.99) as f64 / 1000.0,
        latencies.last().copied().unwrap_or(0) as f64 / 1000.0,
    )
}

async fn run(args: &Args) {
    let server: SocketAddr = args
        .get("--server")
        .unwrap_or_else(|| "127.0.0.1:8000".into())
        .parse()
        .expect("--server host:port");
    let db = connect_pool(&args.get("--database-url").expect("--database-url")).await;
    let secret = args.get("--secret").expect("--secret");
    let dir = std::path::PathBuf::from(args.get("--dir").expect("--dir"));
    let seconds: u64 = args.get("--seconds").map_or(20, |v| v.parse().expect("--seconds"));
    let connections: usize = args
        .get("--connections")
        .map_or(256, |v| v.parse().expect("--connections"));
    let storm_rate: f64 = args
        .get("--storm-rate")
        .map_or(0.0, |v| v.parse().expect("--storm-rate"));
    let kill: Option<(i32, u64)> = args.get("--kill-pid").map(|pid| {
        let after = args
            .get("--kill-after")
            .map_or(seconds / 2, |v| v.parse().expect("--kill-after"));
        (pid.parse().expect("--kill-pid"), after)
    });
    let spread = read_voters(&dir.join("spread"));
    let storm = read_voters(&dir.join("storm"));
    let before = commit_figures(server).await;
    let began = Instant::now() + Duration::from_millis(500);
    let until = began + Duration::from_secs(seconds);
    let dead = Arc::new(AtomicBool::new(false));
    let lanes = connections.min(spread.len()).max(1);
    let mut spread_runs = Vec::new();
    for lane in 0..lanes {
        let mine: Vec<(Voter, String)> = spread
            .iter()
            .skip(lane)
            .step_by(lanes)
            .map(|v| (v.clone(), headers(&secret, v.user)))
            .collect();
        // Phases spread evenly over the second across all rooms.
        let phases = (0..mine.len())
            .map(|k| Duration::from_secs_f64(((k * lanes + lane) as f64 / spread.len() as f64) % 1.0))
            .collect();
        spread_runs.push(tokio::spawn(spread_lane(
            server,
            mine,
            phases,
            began,
            until,
            Arc::clone(&dead),
        )));
    }
    let storm_runs: Vec<_> = storm
        .iter()
        .map(|v| {
            tokio::spawn(stormer(
                server,
                v.clone(),
                headers(&secret, v.user),
                storm_rate,
                until,
                Arc::clone(&dead),
            ))
        })
        .collect();
    if let Some((pid, after)) = kill {
        let dead = Arc::clone(&dead);
        tokio::spawn(async move {
            tokio::time::sleep_until((began + Duration::from_secs(after)).into()).await;
            // SAFETY: kill(2) with a pid the caller named; no memory is involved.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            dead.store(true, Ordering::Relaxed);
        });
    }
    let mut spread_outcomes = Vec::new();
    for run in spread_runs {
        spread_outcomes.extend(run.await.expect("a lane"));
    }
    let mut storm_outcomes = Vec::new();
    for run in storm_runs {
        storm_outcomes.push(run.await.expect("a storm member"));
    }
    let elapsed = began.elapsed().as_secs_f64().min(seconds as f64);
    let after = commit_figures(server).await;
    // Voters were read back lane by lane: line their outcomes up again.
    let mut ordered: Vec<Voter> = Vec::new();
    for lane in 0..lanes {
        ordered.extend(spread.iter().skip(lane).step_by(lanes).cloned());
    }
    let (spread_lost, spread_wrong) = check(&db, &ordered, &spread_outcomes).await;
    let (storm_lost, storm_wrong) = check(&db, &storm, &storm_outcomes).await;
    let commits = match (before, after) {
        (Some((v0, c0)), Some((v1, c1))) => format!(
            "server_votes_per_s={:.0} commits_per_s={:.0} votes_per_commit={:.1}",
            (v1 - v0) as f64 / elapsed,
            (c1 - c0) as f64 / elapsed,
            (v1 - v0) as f64 / (c1 - c0).max(1) as f64
        ),
        _ => "commits=unknown".into(),
    };
    println!(
        "RESULT rooms={} storm={} {} {} {commits} lost={} wrong_scores={}",
        spread.len(),
        storm.len(),
        summary("spread", &spread_outcomes, elapsed),
        summary("storm", &storm_outcomes, elapsed),
        spread_lost + storm_lost,
        spread_wrong + storm_wrong,
    );
}

#[tokio::main]
async fn main() {
    let args = Args::from_env();
    match args.first().as_deref() {
        Some("seed") => {
            let db = connect_pool(&args.get("--database-url").expect("--database-url")).await;
            let rooms = args.get("--rooms").map_or(5000, |v| v.parse().expect("--rooms"));
            let storm = args.get("--storm").map_or(50, |v| v.parse().expect("--storm"));
            seed(
                &db,
                rooms,
                storm,
                std::path::Path::new(&args.get("--out").expect("--out")),
            )
            .await;
        }
        Some("run") => run(&args).await,
        _ => panic!("vote-rooms seed … | run … (see the file's head)"),
    }
}
