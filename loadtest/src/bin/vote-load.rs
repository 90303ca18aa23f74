//! Votes by many users on one track, as fast as they come back: each user
//! votes, unvotes, votes… for the given time.
//!
//! ```text
//! vote-load http --server 127.0.0.1:8000 --room R --track T --tokens FILE [--seconds 5]
//! vote-load sql  --database-url URL --room R --track T --users FILE [--seconds 5] [--pool 20]
//! ```
//!
//! `http` goes through spotik-api (`POST`/`DELETE /api/rooms/R/tracks/T/vote`,
//! one keep-alive connection and one token per user, a line of FILE each);
//! `sql` is the ceiling: the API's own vote statement issued by a bare
//! client over a pool of the same size (user ids, a line of FILE each).
//! Prints `RESULT requests= rps= p50_ms= p99_ms= expected_score=`: the
//! score the track must have now (the users whose last vote was up).

use spotik_loadtest::{quantile, Http};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Options {
    mode: String,
    server: String,
    database_url: String,
    room: String,
    track: String,
    file: String,
    seconds: u64,
    pool: u32,
}

fn options() -> Options {
    let args = spotik_loadtest::Args::from_env();
    let get = |name: &str| args.get(name);
    Options {
        mode: args.first().expect("http or sql"),
        server: get("--server").unwrap_or_else(|| "127.0.0.1:8000".into()),
        database_url: get("--database-url").unwrap_or_default(),
        room: get("--room").expect("--room"),
        track: get("--track").expect("--track"),
        file: get("--tokens").or_else(|| get("--users")).expect("--tokens or --users"),
        seconds: get("--seconds").map_or(5, |v| v.parse().expect("--seconds")),
        pool: get("--pool").map_or(20, |v| v.parse().expect("--pool")),
    }
}

/// One user's run: latencies in µs, and whether the last vote was up.
type Run = (Vec<u64>, bool);

async fn over_http(options: Arc<Options>, token: String, until: Instant) -> Run {
    let server = options.server.parse().expect("--server host:port");
    let mut http = Http::connect(server).await;
    let target = format!("/api/rooms/{}/tracks/{}/vote", options.room, options.track);
    let headers = format!("Authorization: Bearer {token}\r\nContent-Type: application/json\r\n");
    let (mut latencies, mut up) = (Vec::new(), false);
    while Instant::now() < until {
        let method = if up { "DELETE" } else { "POST" };
        let started = Instant::now();
        let status = http.request(method, &target, &headers, b"").await;
        assert_eq!(status, 200, "{method} {target}");
        latencies.push(started.elapsed().as_micros() as u64);
        up = !up;
    }
    (latencies, up)
}

async fn over_sql(options: Arc<Options>, pool: sqlx::PgPool, user: uuid::Uuid, until: Instant) -> Run {
    let track = uuid::Uuid::parse_str(&options.track).expect("--track");
    let room = uuid::Uuid::parse_str(&options.room).expect("--room");
    let (mut latencies, mut up) = (Vec::new(), false);
    while Instant::now() < until {
        let started = Instant::now();
        sqlx::query(spotik_api::routes::votes::statement(!up))
            .bind(track)
            .bind(user)
            .bind(room)
            .fetch_one(&pool)
            .await
            .expect("the vote statement");
        latencies.push(started.elapsed().as_micros() as u64);
        up = !up;
    }
    (latencies, up)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let options = Arc::new(options());
    let lines: Vec<String> = std::fs::read_to_string(&options.file)
        .expect("the file of tokens or users")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    let until = Instant::now() + Duration::from_secs(options.seconds);
    let started = Instant::now();
    let mut runs = Vec::new();
    match options.mode.as_str() {
        "http" => {
            for token in lines {
                runs.push(tokio::spawn(over_http(Arc::clone(&options), token, until)));
            }
        }
        "sql" => {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(options.pool)
                .connect(&options.database_url)
                .await
                .expect("--database-url");
            for user in lines {
                let user = uuid::Uuid::parse_str(&user).expect("a user id per line");
                runs.push(tokio::spawn(over_sql(Arc::clone(&options), pool.clone(), user, until)));
            }
        }
        other => panic!("mode http or sql, not {other}"),
    }
    let mut latencies = Vec::new();
    let mut expected_score = 0;
    for run in runs {
        let (mut own, up) = run.await.expect("a user's run");
        latencies.append(&mut own);
        expected_score += usize::from(up);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    println!(
        "RESULT mode={} requests={} rps={:.0} p50_ms={:.2} p99_ms={:.2} expected_score={expected_score}",
        options.mode,
        latencies.len(),
        latencies.len() as f64 / elapsed,
        quantile(&latencies, 0.5) as f64 / 1000.0,
        quantile(&latencies, 0.99) as f64 / 1000.0,
    );
}
