//! Every scenario of the load generator, briefly (`--smoke`: 3 users, 2 s),
//! against a local stack: the real API and edge over a database of their
//! own, the machine's Redis and a temporary media directory. What a user
//! running `scenarios` against their stack does, with zero failures allowed.

use spotik_shared::test_database::TestDatabase;
use std::process::Command;

#[tokio::test(flavor = "multi_thread")]
async fn every_scenario_runs_against_a_local_stack_without_a_failure() {
    let media = std::env::temp_dir().join(format!("spotik-scenarios-{}", std::process::id()));
    std::fs::create_dir_all(&media).unwrap();
    let edge_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let edge = edge_listener.local_addr().unwrap();
    let mut edge_config = spotik_edge::Config::for_root(&media);
    edge_config.signing_secret = Some("scenario-edge-secret".into());
    tokio::spawn(spotik_edge::run(edge_config, edge_listener, std::future::pending()));

    let database = TestDatabase::create();
    let env = [
        ("DATABASE_URL", database.url.clone()),
        ("MEDIA_ROOT", media.display().to_string()),
        ("REDIS_PREFIX", format!("test:scenarios:{}:", std::process::id())),
        ("EDGE_PUBLIC_URL", format!("http://{edge}")),
        ("EDGE_SIGNING_SECRET", "scenario-edge-secret".into()),
        ("JWT_SECRET", "scenario-jwt-secret".into()),
        ("ARGON2_MEMORY_KIB", "256".into()),
        // This test binary cannot answer `probe-file`: probe in process.
        ("PROBE_PROGRAM", "inline".into()),
        // Every scenario's sockets come from 127.0.0.1.
        ("WS_MAX_PER_CLIENT", "100000".into()),
        ("MAX_CONNECTIONS_PER_CLIENT", "100000".into()),
        ("REGISTER_LIMIT_PER_IP", "100000".into()),
    ];
    let config =
        spotik_api::config::Config::from_lookup(|name| env.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone()))
            .unwrap();
    let state = spotik_api::connect(config).await.expect("the API starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = listener.local_addr().unwrap();
    tokio::spawn(spotik_api::run(state, listener, std::future::pending()));

    let output = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_scenarios"))
            .args(["--base", &format!("http://{api}"), "--smoke"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let said = String::from_utf8_lossy(&output.stdout);
    let results: Vec<&str> = said.lines().filter(|l| l.starts_with("RESULT ")).collect();
    assert_eq!(results.len(), 6, "{said}\n{}", String::from_utf8_lossy(&output.stderr));
    for line in &results {
        assert!(line.contains(" failed=0 "), "{said}");
        assert!(!line.contains(" requests=0 "), "{said}");
    }
    assert!(output.status.success(), "{said}");
    let _ = std::fs::remove_dir_all(&media);
}
