//! Uploads built to break the parser: they are refused, and the server
//! that probed them goes on serving (issue 19, item 1).

use crate::support::*;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

/// The 42 bytes of the issue: an ID3v2.4 tag with an extended header whose
/// restrictions byte (`0x40`) symphonia-metadata 0.5.5 answers with
/// `unreachable!()`.
fn id3_restrictions_bomb() -> Vec<u8> {
    let mut bytes = b"ID3\x04\x00\x40\x00\x00\x00\x20\x00\x00\x00\x06\x01\x10\x01\x40".to_vec();
    bytes.resize(42, 0);
    bytes
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crafted_id3_tag_is_refused_and_the_server_lives_on() {
    let database = TestDatabase::create();
    let database_url = database.url.clone();
    let media = tempfile::tempdir().unwrap();
    let mut api = ApiProcess::start(&database_url, media.path(), free_port()).await;
    let token = api.user("mallory").await;
    let room = api.room(&token).await;

    let refused = api.upload(&room, &token, "bomb.mp3", id3_restrictions_bomb()).await;
    assert_eq!(refused.status, 422, "{:?}", refused.body);
    assert!(refused.body["errors"]["audio_file"].is_array(), "{:?}", refused.body);
    assert!(api.alive().await, "the replica survived the upload");

    let accepted = api
        .upload(
            &room,
            &token,
            "tone.mp3",
            std::fs::read(fixture("tone-1500ms-id3.mp3")).unwrap(),
        )
        .await;
    assert_eq!(accepted.status, 201, "{:?}", accepted.body);
    assert!(api.alive().await);
}

/// A probe program that behaves as `behaviour` says, in a temporary directory.
fn fake_probe(dir: &std::path::Path, behaviour: &str) -> String {
    let path = dir.join(format!("probe-{}.sh", uuid::Uuid::new_v4().simple()));
    std::fs::write(&path, format!("#!/bin/sh\n{behaviour}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_probe_that_crashes_hangs_or_lies_is_a_refusal_not_an_outage() {
    let database = TestDatabase::create();
    let database_url = database.url.clone();
    let media = tempfile::tempdir().unwrap();
    let scripts = tempfile::tempdir().unwrap();
    for (behaviour, description) in [
        ("kill -SEGV $$", "crashes"),
        ("sleep 30", "hangs"),
        ("echo 'ok exe 10'", "answers nonsense"),
        ("head -c 100000000 /dev/zero", "floods its output"),
    ] {
        let program = fake_probe(scripts.path(), behaviour);
        let mut api = ApiProcess::start_with(&database_url, media.path(), free_port(), |command| {
            command.env("PROBE_PROGRAM", &program).env("PROBE_TIMEOUT", "1");
        })
        .await;
        let token = api.user(&format!("user{}", description.len())).await;
        let room = api.room(&token).await;
        let started = Instant::now();
        let refused = api
            .upload(
                &room,
                &token,
                "tone.mp3",
                std::fs::read(fixture("tone-1500ms.mp3")).unwrap(),
            )
            .await;
        assert_eq!(refused.status, 422, "a probe that {description}: {:?}", refused.body);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "a probe that {description} is given up on: {:?}",
            started.elapsed()
        );
        assert!(api.alive().await, "a probe that {description}");
        assert!(
            std::fs::read_dir(media.path())
                .unwrap()
                .flatten()
                .all(|e| e.path().is_dir()),
            "nothing of the refused upload is kept"
        );
    }
}
