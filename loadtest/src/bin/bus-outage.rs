//! What native listeners hear of votes taken on another replica: the bus
//! under a storm (loadtest/bus-failover kills the Redis Cluster primary
//! carrying a room's channel mid-run) and across rooms routed by the front
//! (loadtest/bus-affinity).
//!
//! ```text
//! bus-outage --server FRONT_OR_B --publish-server A --token T --rooms ROOM:TRACK,ROOM:TRACK… \
//!            [--per-room 1000] [--seconds 20] [--interval-ms 20] [--spread] [--label name]
//! ```
//!
//! `--per-room` listeners join each room on `--server`, each opening its
//! socket as the web app does (`/ws?token=…&room=…`, which the front hashes
//! to a replica), or without the room as the Vue front end does
//! (`--spread`). Votes (up, down, alternately, the rooms in turn) go to
//! `--publish-server` every `--interval-ms` for `--seconds`, each answered
//! before the next. Every vote raises one `track_voted` numbered with its
//! room's next `seq`, so listeners match arrivals to votes by `seq`, not by
//! order. Prints `READY` when the votes begin, then `RESULT label=
//! delivered= expected= missed_p50= missed_max= outage_ms_p50=
//! outage_ms_max= p50_ms= p99_ms= told= votes_failed=`: the outage is the
//! longest span of its room's votes a listener did not hear, from the
//! first such vote to the next it heard; `told` counts the listeners that
//! missed nothing or heard, after each event they missed, a later one,
//! whose gap in `seq` tells a client to refetch the room (docs/realtime.md).

use futures_util::StreamExt;
use serde_json::Value;
use spotik_loadtest::client::Client;
use spotik_loadtest::{quantile, Args};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

struct Run {
    server: String,
    publish_server: String,
    token: String,
    /// (room, track) pairs.
    rooms: Vec<(String, String)>,
    votes_per_room: usize,
    interval: Duration,
    spread: bool,
}

/// The rooms of the listeners in the order their sockets open: each room
/// `per_room` times, shuffled (a fixed seed, so runs compare). Plain turns
/// (`i % rooms`) give a room every `rooms`-th socket, and a front's round
/// robin over replicas dividing `rooms` would send all of a room's
/// listeners to one replica: spread sockets measured as if they had room
/// affinity. Shuffled, a room's listeners land as by chance, which is
/// what the capacity model's "spread" assumes.
fn opening_order(rooms: usize, per_room: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..rooms * per_room).map(|i| i % rooms).collect();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in (1..order.len()).rev() {
        // xorshift64: enough to break the period, no crate for it.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        order.swap(i, (state % (i as u64 + 1)) as usize);
    }
    order
}

/// One listener of `room`: the `seq` and arrival (µs since the epoch) of each `track_voted`.
async fn listener(
    run: Arc<Run>,
    room: usize,
    epoch: Instant,
    ready: Arc<AtomicUsize>,
    stop: Arc<AtomicU64>,
) -> Vec<(u64, u64)> {
    let id = &run.rooms[room].0;
    let url = if run.spread {
        format!("ws://{}/ws?token={}", run.server, run.token)
    } else {
        format!("ws://{}/ws?token={}&room={id}", run.server, run.token)
    };
    let mut socket = spotik_loadtest::socket::join_room(&url, id).await;
    let mut heard = Vec::with_capacity(run.votes_per_room);
    loop {
        let deadline = stop.load(Ordering::Acquire);
        let now = epoch.elapsed().as_micros() as u64;
        if now >= deadline {
            break;
        }
        let wait = Duration::from_micros((deadline - now).min(200_000));
        let Ok(next) = tokio::time::timeout(wait, socket.next()).await else {
            continue;
        };
        let text = match next {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(_)) => continue,
            _ => break,
        };
        let arrived = epoch.elapsed().as_micros() as u64;
        if text.contains("\"room_joined\"") {
            ready.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        if !text.contains("\"track_voted\"") {
            continue;
        }
        let frame: Value = serde_json::from_str(&text).expect("a JSON frame");
        if let Some(seq) = frame["data"]["seq"].as_u64() {
            heard.push((seq, arrived));
        }
    }
    heard
}

async fn event_seq(client: &mut Client, token: &str, room: &str) -> u64 {
    let answer = client
        .request(
            "GET",
            &format!("/api/rooms/{room}"),
            &format!("Authorization: Bearer {token}\r\n"),
            b"",
        )
        .await
        .expect("the room's state");
    answer.json()["data"]["event_seq"]
        .as_u64()
        .expect("event_seq in the room")
}

/// Votes, the rooms in turn, one every `interval`. `sent[room][j]` is the
/// send instant (µs) of the room's j-th vote, `u64::MAX` when it failed.
async fn vote(run: Arc<Run>, epoch: Instant, sent: Arc<Vec<Vec<AtomicU64>>>) -> usize {
    let mut client = Client::new(&run.publish_server);
    let mut next = tokio::time::Instant::now();
    let mut failed = 0;
    for j in 0..run.votes_per_room {
        for (room, (id, track)) in run.rooms.iter().enumerate() {
            tokio::time::sleep_until(next).await;
            next += run.interval;
            let method = if j % 2 == 0 { "POST" } else { "DELETE" };
            let target = format!("/api/rooms/{id}/tracks/{track}/vote");
            sent[room][j].store(epoch.elapsed().as_micros() as u64, Ordering::Release);
            let answer = client
                .request(
                    method,
                    &target,
                    &format!("Authorization: Bearer {}\r\n", run.token),
                    b"",
                )
                .await;
            if !answer.is_ok_and(|a| (200..300).contains(&a.status)) {
                sent[room][j].store(u64::MAX, Ordering::Release);
                failed += 1;
            }
        }
    }
    failed
}

/// What one listener missed of its room's votes: (missed, longest unheard span µs, told by a later seq).
fn judge(heard: &[(u64, u64)], first: u64, sent: &[u64], latencies: &mut Vec<u64>) -> (u64, u64, bool) {
    let mut got = vec![false; sent.len()];
    for &(seq, arrived) in heard {
        let Some(j) = seq.checked_sub(first).map(|j| j as usize).filter(|&j| j < sent.len()) else {
            continue;
        };
        if sent[j] != u64::MAX && !got[j] {
            got[j] = true;
            latencies.push(arrived.saturating_sub(sent[j]));
        }
    }
    let counted = |j: usize| sent[j] != u64::MAX;
    let missed = (0..sent.len()).filter(|&j| counted(j) && !got[j]).count() as u64;
    let last_sent = sent.iter().rev().find(|&&s| s != u64::MAX).copied().unwrap_or(0);
    let (mut longest, mut j) = (0u64, 0);
    while j < sent.len() {
        if !counted(j) || got[j] {
            j += 1;
            continue;
        }
        let begin = sent[j];
        while j < sent.len() && !(counted(j) && got[j]) {
            j += 1;
        }
        let end = if j < sent.len() { sent[j] } else { last_sent };
        longest = longest.max(end.saturating_sub(begin));
    }
    let last_heard = (0..sent.len()).rev().find(|&j| got[j]);
    let told = (0..sent.len())
        .filter(|&j| counted(j) && !got[j])
        .all(|j| last_heard.is_some_and(|heard| heard > j));
    (missed, longest, told)
}

#[tokio::main]
async fn main() {
    let args = Args::from_env();
    let get = |name: &str| args.get(name).unwrap_or_else(|| panic!("{name} is required"));
    let number = |name: &str, default: u64| args.get(name).map_or(default, |v| v.parse().expect(name));
    let interval = Duration::from_millis(number("--interval-ms", 20));
    let rooms: Vec<(String, String)> = get("--rooms")
        .split(',')
        .map(|pair| {
            let (room, track) = pair.split_once(':').expect("--rooms ROOM:TRACK,…");
            (room.to_owned(), track.to_owned())
        })
        .collect();
    let votes = number("--seconds", 20) * 1000 / interval.as_millis().max(1) as u64;
    let run = Arc::new(Run {
        server: get("--server"),
        publish_server: get("--publish-server"),
        token: get("--token"),
        votes_per_room: (votes as usize / rooms.len()).max(1),
        rooms,
        interval,
        spread: args.has("--spread"),
    });
    let per_room = number("--per-room", 1000) as usize;
    let label = args.get("--label").unwrap_or_else(|| "bus".into());

    let epoch = Instant::now();
    let ready = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicU64::new(u64::MAX));
    let mut listeners = Vec::new();
    for (i, room) in opening_order(run.rooms.len(), per_room).into_iter().enumerate() {
        listeners.push((
            room,
            tokio::spawn(listener(run.clone(), room, epoch, ready.clone(), stop.clone())),
        ));
        if i % 100 == 99 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    while ready.load(Ordering::Relaxed) < listeners.len() {
        assert!(epoch.elapsed() < Duration::from_secs(90), "listeners did not all join");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut client = Client::new(&run.publish_server);
    let mut first = Vec::new();
    for (room, _) in &run.rooms {
        first.push(event_seq(&mut client, &run.token, room).await + 1);
    }
    let sent: Arc<Vec<Vec<AtomicU64>>> = Arc::new(
        run.rooms
            .iter()
            .map(|_| (0..run.votes_per_room).map(|_| AtomicU64::new(u64::MAX)).collect())
            .collect(),
    );
    println!("READY votes={}", run.votes_per_room * run.rooms.len());
    let failed = vote(run.clone(), epoch, sent.clone()).await;
    // Events still on their way arrive within the grace period.
    stop.store(epoch.elapsed().as_micros() as u64 + 3_000_000, Ordering::Release);

    let sent: Vec<Vec<u64>> = sent
        .iter()
        .map(|room| room.iter().map(|s| s.load(Ordering::Acquire)).collect())
        .collect();
    let (mut latencies, mut missed, mut outages) = (Vec::new(), Vec::new(), Vec::new());
    let (mut expected, mut told) = (0, 0);
    for (room, listener) in listeners {
        let heard = listener.await.expect("a listener");
        expected += sent[room].iter().filter(|&&s| s != u64::MAX).count();
        let (unheard, longest, was_told) = judge(&heard, first[room], &sent[room], &mut latencies);
        missed.push(unheard);
        outages.push(longest);
        told += usize::from(was_told);
    }
    latencies.sort_unstable();
    missed.sort_unstable();
    outages.sort_unstable();
    let ms = |us: u64| us as f64 / 1000.0;
    println!(
        "RESULT label={label} delivered={} expected={expected} missed_p50={} missed_max={} outage_ms_p50={:.0} outage_ms_max={:.0} p50_ms={:.2} p99_ms={:.2} told={told}/{} votes_failed={failed}",
        latencies.len(),
        quantile(&missed, 0.5),
        missed.last().copied().unwrap_or(0),
        ms(quantile(&outages, 0.5)),
        ms(outages.last().copied().unwrap_or(0)),
        ms(quantile(&latencies, 0.5)),
        ms(quantile(&latencies, 0.99)),
        missed.len(),
    );
}

#[cfg(test)]
mod tests {
    use super::opening_order;

    /// Replicas a room's listeners reach, on average, when the i-th socket
    /// goes to replica i % replicas (a round robin).
    fn reached(order: &[usize], rooms: usize, replicas: usize) -> f64 {
        let mut hit = vec![vec![false; replicas]; rooms];
        for (i, &room) in order.iter().enumerate() {
            hit[room][i % replicas] = true;
        }
        hit.iter().flatten().filter(|&&h| h).count() as f64 / rooms as f64
    }

    #[test]
    fn a_rooms_listeners_land_on_replicas_as_by_chance() {
        let per_room = 10;
        for (rooms, replicas) in [(30, 3), (10, 3), (4, 2), (300, 3)] {
            let order = opening_order(rooms, per_room);
            for room in 0..rooms {
                assert_eq!(order.iter().filter(|&&r| r == room).count(), per_room);
            }
            // By chance: replicas × (1 − (1 − 1/replicas)^per_room).
            let chance = replicas as f64 * (1.0 - (1.0 - 1.0 / replicas as f64).powi(per_room as i32));
            let got = reached(&order, rooms, replicas);
            assert!(
                (got - chance).abs() < 0.1,
                "{rooms} rooms over {replicas}: {got} replicas a room, by chance {chance}"
            );
        }
        // What plain turns did with 30 rooms over 3 replicas.
        let turns: Vec<usize> = (0..300).map(|i| i % 30).collect();
        assert_eq!(reached(&turns, 30, 3), 1.0);
    }
}
