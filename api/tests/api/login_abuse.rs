//! Logins and registrations as a hostile visitor sends them: many at once,
//! through a proxy, with made-up e-mails (issue 19, items 2, 4, 5 and 9).

use crate::support::*;
use reqwest::StatusCode;
use serde_json::json;
use std::time::{Duration, Instant};

async fn login(app: &TestApp, email: &str, password: &str, forwarded_for: Option<&str>) -> Answer {
    let mut request = app
        .client
        .post(app.url("/auth/login"))
        .json(&json!({ "email": email, "password": password }));
    if let Some(client) = forwarded_for {
        request = request.header("x-forwarded-for", client);
    }
    answer(request.send().await.unwrap()).await
}

#[tokio::test(flavor = "multi_thread")]
async fn password_hashing_stays_within_its_memory_budget_and_gives_it_back() {
    let database = TestDatabase::create();
    let database_url = database.url.clone();
    let media = tempfile::tempdir().unwrap();
    let api = ApiProcess::start_with(&database_url, media.path(), free_port(), |command| {
        // Production's cost: 19 MiB a hash; three may run at once.
        command
            .env("ARGON2_MEMORY_KIB", "19456")
            .env("PASSWORD_HASH_MEMORY_MIB", "60")
            .env("PASSWORD_HASH_WAIT_MS", "300")
            .env("LOGIN_LIMIT_PER_IP", "1000")
            .env("LOGIN_LIMIT_PER_ACCOUNT", "1000");
    })
    .await;
    let pid = api.child.id();
    let client = reqwest::Client::new();
    let baseline = proc_status_kib(pid, "VmRSS");
    let registering: Vec<_> = (0..64)
        .map(|n| {
            let (client, base) = (client.clone(), api.base.clone());
            tokio::spawn(async move {
                let body = json!({ "username": format!("user{n}"), "email": format!("user{n}@example.com"), "password": "password123", "password_confirmation": "password123" });
                answer(client.post(format!("{base}/auth/register")).json(&body).send().await.unwrap()).await
            })
        })
        .collect();
    let (mut created, mut busy) = (0, 0);
    for task in registering {
        let reply = task.await.unwrap();
        match reply.status {
            StatusCode::CREATED => created += 1,
            StatusCode::SERVICE_UNAVAILABLE => {
                assert!(reply.headers.get("retry-after").is_some(), "503 says when to come back");
                busy += 1;
            }
            other => panic!("registration answered {other}: {:?}", reply.body),
        }
    }
    assert!(created > 0 && created + busy == 64, "{created} created, {busy} busy");
    // Failed logins, the unauthenticated path of the issue: many at once.
    let logins: Vec<_> = (0..100)
        .map(|n| {
            let (client, base) = (client.clone(), api.base.clone());
            tokio::spawn(async move {
                let body = json!({ "email": format!("user{}@example.com", n % 64), "password": "wrong-password" });
                client
                    .post(format!("{base}/auth/login"))
                    .json(&body)
                    .send()
                    .await
                    .unwrap()
                    .status()
            })
        })
        .collect();
    for task in logins {
        let status = task.await.unwrap();
        assert!(
            [StatusCode::UNAUTHORIZED, StatusCode::SERVICE_UNAVAILABLE].contains(&status),
            "{status}"
        );
    }
    let peak = proc_status_kib(pid, "VmHWM");
    let budget = 60 * 1024;
    assert!(
        peak < baseline + budget + 40 * 1024,
        "peak {peak} KiB over a baseline of {baseline} KiB: more than the 60 MiB budget and some slack"
    );
    let settled = Instant::now() + Duration::from_secs(5);
    while proc_status_kib(pid, "VmRSS") > baseline + 24 * 1024 && Instant::now() < settled {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after = proc_status_kib(pid, "VmRSS");
    assert!(
        after <= baseline + 24 * 1024,
        "{after} KiB resident afterwards, {baseline} KiB before: the hashes' memory was kept"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn parallel_guesses_at_one_account_are_evaluated_at_most_the_limit() {
    let app = spawn_with(Options {
        tweak: |c| c.login_limit.per_account = 10,
        ..Options::default()
    })
    .await;
    app.user("victim").await;
    let guesses: Vec<_> = (0..100)
        .map(|n| {
            let (client, url) = (app.client.clone(), app.url("/auth/login"));
            tokio::spawn(async move {
                let body = json!({ "email": "victim@example.com", "password": format!("guess-{n}") });
                client.post(url).json(&body).send().await.unwrap().status()
            })
        })
        .collect();
    let mut evaluated = 0;
    for guess in guesses {
        match guess.await.unwrap() {
            StatusCode::UNAUTHORIZED => evaluated += 1,
            StatusCode::TOO_MANY_REQUESTS => {}
            other => panic!("{other}"),
        }
    }
    assert!(
        evaluated <= 10,
        "{evaluated} wrong passwords evaluated under a limit of 10"
    );
    let right = login(&app, "victim@example.com", "password123", None).await;
    assert_eq!(
        right.status,
        StatusCode::TOO_MANY_REQUESTS,
        "the account is now protected"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn one_client_behind_the_proxy_cannot_lock_out_the_others() {
    let app = spawn_with(Options {
        tweak: |c| {
            c.login_limit.per_ip = 30;
            c.login_limit.per_account = 10;
            c.trusted_proxies = spotik_api::http::client_addr::TrustedProxies::parse("127.0.0.1").unwrap();
        },
        ..Options::default()
    })
    .await;
    app.user("alice").await;
    // Through the proxy, from 203.0.113.66: 31 failures with made-up e-mails.
    let mut limited = false;
    for n in 0..31 {
        let reply = login(
            &app,
            &format!("nobody{n}@example.com"),
            "whatever1",
            Some("203.0.113.66"),
        )
        .await;
        limited |= reply.status == StatusCode::TOO_MANY_REQUESTS;
    }
    assert!(limited, "the sprayer itself is limited");
    // Another client of the same proxy logs in.
    let other = login(&app, "alice@example.com", "password123", Some("198.51.100.7")).await;
    assert_eq!(other.status, StatusCode::OK, "{:?}", other.body);
    // And made-up e-mails did not block a real account from that very address.
    let same = login(&app, "alice@example.com", "password123", Some("203.0.113.66")).await;
    assert_eq!(same.status, StatusCode::OK, "{:?}", same.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn forwarded_headers_from_a_stranger_are_not_believed() {
    let app = spawn_with(Options {
        tweak: |c| c.login_limit.per_ip = 5,
        ..Options::default()
    })
    .await;
    app.user("carol").await;
    // Each guess claims another address; no proxy is trusted, so they are all one client.
    let mut statuses = Vec::new();
    for n in 0..8 {
        let reply = login(
            &app,
            "carol@example.com",
            &format!("guess-{n}"),
            Some(&format!("192.0.2.{n}")),
        )
        .await;
        statuses.push(reply.status);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count(),
        5,
        "{statuses:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_account_costs_what_a_wrong_password_costs() {
    // Counted, not timed: a login's cost is its password hash runs, and a
    // timing assertion would be at the mercy of whatever else CI runs.
    let app = spawn_app().await;
    app.user("dave").await;
    let runs = || app.state.passwords.runs();
    // The decoy is made on the first missing account, once per process.
    login(&app, "nobody@example.com", "wrong-password", None).await;
    for (email, what) in [
        ("nobody@example.com", "a missing account"),
        ("dave@example.com", "a wrong password"),
    ] {
        let before = runs();
        for _ in 0..10 {
            let reply = login(&app, email, "wrong-password", None).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        }
        assert_eq!(runs() - before, 10, "ten logins with {what}: one Argon2 run each");
    }
}

/// Registers `name` on `api` from `forwarded_for`; the answer.
async fn register_from(client: &reqwest::Client, base: &str, name: &str, forwarded_for: &str) -> Answer {
    let body = json!({ "username": name, "email": format!("{name}@example.com"), "password": "password123", "password_confirmation": "password123" });
    answer(
        client
            .post(format!("{base}/auth/register"))
            .header("x-forwarded-for", forwarded_for)
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn one_address_registers_its_share_of_accounts_per_window() {
    let database = TestDatabase::create();
    let database_url = database.url.clone();
    let media = tempfile::tempdir().unwrap();
    let api = ApiProcess::start_with(&database_url, media.path(), free_port(), |command| {
        command
            .env("REGISTER_LIMIT_PER_IP", "3")
            .env("TRUSTED_PROXIES", "127.0.0.1");
    })
    .await;
    let client = reqwest::Client::new();
    for n in 0..3 {
        let created = register_from(&client, &api.base, &format!("first{n}"), "203.0.113.1").await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    }
    let refused = register_from(&client, &api.base, "first3", "203.0.113.1").await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS, "{:?}", refused.body);
    let wait: u64 = refused.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(wait > 3000, "told to come back when the hour is over: {wait}");
    assert!(refused.body["message"].as_str().unwrap().contains("address"));
    let other = register_from(&client, &api.base, "second0", "203.0.113.2").await;
    assert_eq!(other.status, StatusCode::CREATED, "another address has its own share");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_of_registrations_leaves_logins_their_own_hashing() {
    let database = TestDatabase::create();
    let database_url = database.url.clone();
    let media = tempfile::tempdir().unwrap();
    let api = ApiProcess::start_with(&database_url, media.path(), free_port(), |command| {
        // Two hashes of 32 MiB at once: one for logins, one for registrations.
        // No waiting for a place: a login finds its lane free or fails, so
        // a shared budget that the flood keeps full fails it for certain.
        command
            .env("ARGON2_MEMORY_KIB", "32768")
            .env("PASSWORD_HASH_MEMORY_MIB", "64")
            .env("PASSWORD_HASH_WAIT_MS", "5")
            .env("LOGIN_LIMIT_PER_IP", "1000");
    })
    .await;
    let client = reqwest::Client::new();
    let real = register_from(&client, &api.base, "real", "127.0.0.1").await;
    assert_eq!(real.status, StatusCode::CREATED);
    // 100 registrations always in flight, until the logins are done.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flood: Vec<_> = (0..100)
        .map(|lane| {
            let (client, base, stop) = (client.clone(), api.base.clone(), stop.clone());
            tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    register_from(&client, &base, &format!("flood{lane}x{n}"), "127.0.0.1").await;
                    n += 1;
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    for _ in 0..10 {
        let started = Instant::now();
        let logged_in = answer(
            client
                .post(format!("{}/auth/login", api.base))
                .json(&json!({ "email": "real@example.com", "password": "password123" }))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(
            logged_in.status,
            StatusCode::OK,
            "a real login during a registration flood (after {:?}): {:?}",
            started.elapsed(),
            logged_in.body
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for task in flood {
        task.await.unwrap();
    }
}

/// An app with a login limit of four wrong passwords per account, on `redis`.
fn limited_to_four(redis: &PrivateRedis) -> Options {
    Options {
        redis_url: format!("redis://127.0.0.1:{}", redis.port),
        tweak: |c| c.login_limit.per_account = 4,
        ..Options::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn login_limits_hold_across_replicas_and_each_counts_alone_without_redis() {
    let mut redis = PrivateRedis::start(free_port());
    let a = spawn_with(limited_to_four(&redis)).await;
    let b = spawn_with(Options {
        database_url: Some(a.database_url.clone()),
        media: Some(a.media.clone()),
        redis_prefix: Some(a.redis_prefix.clone()),
        ..limited_to_four(&redis)
    })
    .await;
    a.user("victim").await;
    a.user("other").await;
    a.user("steady").await;

    // Guesses spread over both replicas: the limit is the account's, not
    // each replica's (each would let four through on its own).
    let mut evaluated = 0;
    for n in 0..10 {
        let replica = if n % 2 == 0 { &a } else { &b };
        let tried = login(replica, "victim@example.com", &format!("guess-{n}"), None).await;
        match tried.status {
            StatusCode::UNAUTHORIZED => evaluated += 1,
            StatusCode::TOO_MANY_REQUESTS => assert!(tried.headers.contains_key("retry-after")),
            other => panic!("{other}: {:?}", tried.body),
        }
    }
    assert_eq!(
        evaluated, 4,
        "wrong passwords evaluated across two replicas under a limit of 4"
    );
    for replica in [&a, &b] {
        let right = login(replica, "victim@example.com", "password123", None).await;
        assert_eq!(
            right.status,
            StatusCode::TOO_MANY_REQUESTS,
            "the account is protected on both"
        );
    }
    // A success gives the client's place back everywhere: the steady user
    // signs in more often than the per-client limit would allow attempts.
    for n in 0..6 {
        let replica = if n % 2 == 0 { &a } else { &b };
        assert_eq!(
            login(replica, "steady@example.com", "password123", None).await.status,
            StatusCode::OK
        );
    }

    // Redis away: each replica counts alone, and signing in still works.
    redis.stop();
    let mut evaluated = 0;
    for n in 0..12 {
        let replica = if n % 2 == 0 { &a } else { &b };
        match login(replica, "other@example.com", &format!("guess-{n}"), None)
            .await
            .status
        {
            StatusCode::UNAUTHORIZED => evaluated += 1,
            StatusCode::TOO_MANY_REQUESTS => {}
            other => panic!("{other} without Redis"),
        }
    }
    assert_eq!(
        evaluated, 8,
        "without Redis each replica lets its own four through, and no more"
    );
    for replica in [&a, &b] {
        assert_eq!(
            login(replica, "steady@example.com", "password123", None).await.status,
            StatusCode::OK
        );
    }
}
