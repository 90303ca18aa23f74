//! Redis may vanish at any time: requests keep answering from PostgreSQL,
//! and nothing stale is served when it comes back.

use crate::support::*;
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn requests_answer_from_postgres_while_redis_is_down_and_nothing_stale_returns() {
    let port = free_port();
    let data = tempfile::tempdir().unwrap();
    let mut redis = PrivateRedis::start_keeping(port, data.path());
    let app = spawn_with(Options {
        redis_url: format!("redis://127.0.0.1:{}", redis.port),
        ..Options::default()
    })
    .await;
    let (alice, _) = app.user("alice").await;
    let room = app.room(&alice).await;
    app.upload(&room, &alice, "tone-1500ms.wav").await;
    let track = app.upload(&room, &alice, "tone-1500ms.flac").await.body["track"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Paused, so that the first track ending (1.5 s) cannot reorder the queue mid-test.
    app.post(&format!("/rooms/{room}/playback/pause"), &alice, json!({}))
        .await;
    let cached = app.get(&format!("/rooms/{room}/tracks"), &alice).await;
    assert_eq!(cached.body["tracks"][0]["vote_score"], 0);

    redis.stop();
    let vote = app
        .post(&format!("/rooms/{room}/tracks/{track}/vote"), &alice, json!({}))
        .await;
    assert_eq!(vote.status, StatusCode::OK, "{}", vote.body);
    let during = app.get(&format!("/rooms/{room}/tracks"), &alice).await;
    assert_eq!(during.status, StatusCode::OK);
    assert_eq!(during.body["tracks"][0]["vote_score"], 1, "answered from PostgreSQL");
    let health = answer(app.client.get(app.url("/health")).send().await.unwrap()).await;
    assert_eq!(health.body["status"], "degraded");
    assert_eq!(health.body["checks"]["redis"]["status"], "failed");
    assert_eq!(
        health.body["checks"]["websocket"]["status"], "failed",
        "events of other replicas cannot arrive: {}",
        health.body
    );

    // Redis returns with the old queue still in it: it must not be served.
    let mut redis = PrivateRedis::start_keeping(port, data.path());
    let mut direct = redis::Client::open(format!("redis://127.0.0.1:{port}"))
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let kept: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}queue:*", app.redis_prefix))
        .query_async(&mut direct)
        .await
        .unwrap();
    assert!(
        !kept.is_empty(),
        "the restarted Redis still holds the queue cached before the outage"
    );
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let after = app.get(&format!("/rooms/{room}/tracks"), &alice).await;
    assert_eq!(after.body["tracks"][0]["vote_score"], 1);
    // The cache comes back by itself within a few seconds.
    let mut recovered = false;
    for _ in 0..50 {
        let health = answer(app.client.get(app.url("/health")).send().await.unwrap()).await;
        if health.body["checks"]["redis"]["status"] == "ok" {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "redis use resumed after the restart");
    redis.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_starts_without_redis_and_fails_clearly_without_postgres() {
    let app = spawn_with(Options {
        redis_url: format!("redis://127.0.0.1:{}", free_port()),
        ..Options::default()
    })
    .await;
    let (alice, _) = app.user("alice").await;
    assert_eq!(app.get("/auth/me", &alice).await.status, StatusCode::OK);

    let mut config = spotik_api::Config::from_lookup(|_| None).unwrap();
    config.database_url = format!("postgres://postgres:secret@127.0.0.1:{}/nothing", free_port());
    config.pool.acquire_timeout = Duration::from_secs(2);
    let error = spotik_api::connect(config).await.err().expect("no database, no start");
    assert!(
        error.0.contains("DATABASE_URL") && !error.0.contains("secret"),
        "{error}"
    );
}

/// Redis restarted after an outage during which requests kept coming: within
/// 2 s every use of it is back — the cache (health says so) and publishing
/// (one event raised on one process reaches a client of another, first time).
#[tokio::test(flavor = "multi_thread")]
async fn every_use_of_redis_recovers_within_two_seconds_of_its_return() {
    use crate::ws::PusherClient;
    let port = free_port();
    let mut redis = PrivateRedis::start(port);
    let url = format!("redis://127.0.0.1:{port}");
    let app = spawn_with(Options {
        redis_url: url.clone(),
        ..Options::default()
    })
    .await;
    let other = replica_of(&app, &url).await;
    let (admin, _) = app.user("admin").await;
    let room = app.room(&admin).await;
    app.upload_bytes(&room, &admin, "long.wav", long_wav(30.0)).await;
    let mut client = PusherClient::connect(&other).await;
    client.subscribe(&other, &admin, &format!("private-room.{room}")).await;

    redis.stop();
    // Five seconds of outage with traffic: queue reads and health checks.
    let until = tokio::time::Instant::now() + Duration::from_secs(5);
    while tokio::time::Instant::now() < until {
        assert_eq!(
            app.get(&format!("/rooms/{room}/tracks"), &admin).await.status,
            StatusCode::OK
        );
        app.client.get(app.url("/health")).send().await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _back = PrivateRedis::start(port);
    let returned = tokio::time::Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let health = answer(app.client.get(app.url("/health")).send().await.unwrap()).await;
    assert_eq!(
        health.body["checks"]["redis"]["status"], "ok",
        "2 s after Redis returned: {}",
        health.body
    );
    assert!(
        other.state.hub.stats.bus_connected(),
        "the other process's subscriber is back too"
    );
    let paused = app
        .post(&format!("/rooms/{room}/playback/pause"), &admin, json!({}))
        .await;
    assert_eq!(paused.status, StatusCode::OK);
    let frame = client.expect("App\\Events\\playback\\paused").await;
    assert_eq!(
        frame["data"]["seq"], paused.body["data"]["seq"],
        "the event of that pause, sent once"
    );
    assert!(
        returned.elapsed() < Duration::from_secs(4),
        "took {:?}",
        returned.elapsed()
    );
}

/// A database that stops answering (frozen, as a hung or partitioned server
/// is): `/api/health` still answers, `503 unhealthy`, within its timeout.
#[tokio::test(flavor = "multi_thread")]
async fn health_answers_within_its_timeout_when_the_database_stops_answering() {
    let postgres = PrivatePostgres::start();
    let app = spawn_with(Options {
        database_url: Some(postgres.url()),
        tweak: |config| config.health_checks_timeout = Duration::from_millis(1000),
        ..Options::default()
    })
    .await;
    let healthy = answer(app.client.get(app.url("/health")).send().await.unwrap()).await;
    assert_eq!(healthy.body["checks"]["database"]["status"], "ok");

    postgres.freeze();
    let started = std::time::Instant::now();
    let asked = app
        .client
        .get(app.url("/health"))
        .timeout(Duration::from_secs(10))
        .send()
        .await;
    let took = started.elapsed();
    postgres.thaw();
    let health = answer(asked.expect("health answers while the database hangs")).await;
    assert_eq!(health.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(health.body["status"], "unhealthy");
    assert_eq!(health.body["checks"]["database"]["status"], "failed");
    assert!(took < Duration::from_millis(2000), "answered in {took:?}");

    // Thawed: ready again, without a restart.
    let thawed = std::time::Instant::now();
    let mut again = answer(app.client.get(app.url("/health")).send().await.unwrap()).await;
    while again.body["checks"]["database"]["status"] != "ok" && thawed.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        again = answer(app.client.get(app.url("/health")).send().await.unwrap()).await;
    }
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.body["checks"]["database"]["status"], "ok");
}

/// The API over `postgres`, waiting 2 s at most for a connection.
async fn app_over(postgres: &PrivatePostgres) -> std::sync::Arc<TestApp> {
    std::sync::Arc::new(
        spawn_with(Options {
            database_url: Some(postgres.url()),
            tweak: |config| config.pool.acquire_timeout = Duration::from_secs(2),
            ..Options::default()
        })
        .await,
    )
}

/// Requests that need a frozen database answer `503` within the pool's
/// acquire timeout, however many are waiting.
#[tokio::test(flavor = "multi_thread")]
async fn requests_answer_503_within_the_acquire_timeout_when_the_database_stops_answering() {
    let postgres = PrivatePostgres::start();
    let app = app_over(&postgres).await;
    let (alice, _) = app.user("alice").await;
    app.room(&alice).await;
    postgres.freeze();
    let started = std::time::Instant::now();
    let asks = (0..40).map(|_| {
        let (app, alice) = (app.clone(), alice.clone());
        tokio::spawn(async move {
            let asked = app
                .client
                .get(app.url("/rooms"))
                .bearer_auth(&alice)
                .timeout(Duration::from_secs(15))
                .send()
                .await;
            (asked.map(|r| r.status()), started.elapsed())
        })
    });
    let answers = futures_util::future::join_all(asks).await;
    postgres.thaw();
    for answer in answers {
        let (status, took) = answer.unwrap();
        assert_eq!(status.ok(), Some(StatusCode::SERVICE_UNAVAILABLE), "after {took:?}");
        assert!(took < Duration::from_millis(3500), "answered after {took:?}");
    }
}

/// Requests already holding a connection when PostgreSQL stops answering
/// are bounded too (`REQUEST_TIMEOUT`): under a steady load, PostgreSQL is
/// frozen mid-queries and every request still ends in time.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn requests_in_flight_when_the_database_hangs_end_in_time() {
    let postgres = PrivatePostgres::start();
    let app = std::sync::Arc::new(
        spawn_with(Options {
            database_url: Some(postgres.url()),
            tweak: |config| {
                config.pool.acquire_timeout = Duration::from_secs(2);
                config.request_timeout = Duration::from_secs(3);
            },
            ..Options::default()
        })
        .await,
    );
    let (alice, _) = app.user("alice").await;
    let room = app.room(&alice).await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients = steady_load(&app, &alice, &room, 24, Duration::ZERO, &stop);
    tokio::time::sleep(Duration::from_millis(500)).await;
    postgres.freeze();
    tokio::time::sleep(Duration::from_secs(5)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    // Whatever is still waiting now waits on the frozen server.
    let ended = tokio::time::timeout(Duration::from_secs(6), futures_util::future::join_all(clients)).await;
    postgres.thaw();
    let answers: Vec<_> = ended
        .expect("every request ended while the database was frozen")
        .into_iter()
        .flat_map(|c| c.unwrap())
        .collect();
    let unavailable = answers
        .iter()
        .filter(|(_, s, _)| *s == Some(StatusCode::SERVICE_UNAVAILABLE))
        .count();
    assert!(unavailable >= 24, "{unavailable} of {} answered 503", answers.len());
    for (_, status, took) in &answers {
        assert!(
            matches!(*status, Some(StatusCode::OK) | Some(StatusCode::SERVICE_UNAVAILABLE)),
            "{status:?}"
        );
        assert!(*took < Duration::from_millis(3800), "a request took {took:?}");
    }
}

/// PostgreSQL stopped and started again under steady load: while it is
/// down every request answers (503) within the acquire timeout, and once it
/// is back requests succeed again within seconds, without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_postgres_restart_under_load_fails_fast_and_recovers() {
    let postgres = PrivatePostgres::start();
    let app = app_over(&postgres).await;
    let (alice, _) = app.user("alice").await;
    let room = app.room(&alice).await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients = steady_load(&app, &alice, &room, 16, Duration::from_millis(20), &stop);
    tokio::time::sleep(Duration::from_millis(500)).await;
    postgres.stop();
    tokio::time::sleep(Duration::from_secs(3)).await;
    postgres.restart();
    let back = std::time::Instant::now();
    tokio::time::sleep(Duration::from_secs(4)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let answers: Vec<_> = futures_util::future::join_all(clients)
        .await
        .into_iter()
        .flat_map(|c| c.unwrap())
        .collect();
    let failed = answers.iter().filter(|(_, s, _)| *s != Some(StatusCode::OK)).count();
    assert!(failed > 0, "the outage was seen");
    for (_, status, took) in &answers {
        assert!(
            matches!(*status, Some(StatusCode::OK) | Some(StatusCode::SERVICE_UNAVAILABLE)),
            "{status:?}"
        );
        assert!(*took < Duration::from_millis(3500), "a request took {took:?}");
    }
    // Back within 2 s of PostgreSQL's return: every later request succeeds.
    let late_failures: Vec<_> = answers
        .iter()
        .filter(|(started, status, _)| *started > back + Duration::from_secs(2) && *status != Some(StatusCode::OK))
        .collect();
    assert!(
        late_failures.is_empty(),
        "{} failures after recovery",
        late_failures.len()
    );
    assert!(answers
        .iter()
        .any(|(started, status, _)| *started > back && *status == Some(StatusCode::OK)));
}

/// One request under load: when it started, its status (`None` if the
/// client gave up), how long it took.
type Outcome = (std::time::Instant, Option<StatusCode>, Duration);

/// `clients` loops asking for `room`, `pause` apart, until `stop` is set;
/// each returns what it saw.
fn steady_load(
    app: &std::sync::Arc<TestApp>,
    token: &str,
    room: &str,
    clients: usize,
    pause: Duration,
    stop: &std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Vec<tokio::task::JoinHandle<Vec<Outcome>>> {
    (0..clients)
        .map(|_| {
            let (app, token, room, stop) = (app.clone(), token.to_owned(), room.to_owned(), stop.clone());
            tokio::spawn(async move {
                let mut answers = Vec::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let started = std::time::Instant::now();
                    let status = app
                        .client
                        .get(app.url(&format!("/rooms/{room}")))
                        .bearer_auth(&token)
                        .timeout(Duration::from_secs(20))
                        .send()
                        .await
                        .map(|r| r.status())
                        .ok();
                    answers.push((started, status, started.elapsed()));
                    tokio::time::sleep(pause).await;
                }
                answers
            })
        })
        .collect()
}

/// Issue 19, item 15: once a request has found PostgreSQL gone, the next
/// ones are refused at once (not after the pool's acquire timeout each),
/// and service returns by itself when PostgreSQL does.
#[tokio::test(flavor = "multi_thread")]
async fn once_the_database_is_known_down_refusals_are_immediate_until_it_returns() {
    let postgres = PrivatePostgres::start();
    let app = app_over(&postgres).await;
    let (alice, _) = app.user("alice").await;
    app.room(&alice).await;
    postgres.stop();
    let first = app.get("/rooms", &alice).await;
    assert_eq!(first.status, StatusCode::SERVICE_UNAVAILABLE, "{:?}", first.body);
    for _ in 0..5 {
        let started = std::time::Instant::now();
        let refused = app.get("/rooms", &alice).await;
        assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(refused.headers.get("retry-after").is_some());
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "a refusal took {:?} with the database known down",
            started.elapsed()
        );
    }
    // Liveness and health still answer, and say why.
    assert_eq!(
        app.call(reqwest::Method::GET, "/ping", None, None).await.status,
        StatusCode::OK
    );
    postgres.restart();
    let back = std::time::Instant::now();
    let mut status = app.get("/rooms", &alice).await.status;
    while status != StatusCode::OK && back.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        status = app.get("/rooms", &alice).await.status;
    }
    assert_eq!(
        status,
        StatusCode::OK,
        "served again {:?} after PostgreSQL returned",
        back.elapsed()
    );
}
