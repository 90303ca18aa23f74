//! The differential conformance suite: the same requests to real nginx
//! (configured by `media/media.conf.template`) and to spotik-edge (ETag format
//! `nginx`) over the same media folder, comparing status, the headers that
//! matter and the body bytes. Every deliberate difference is named in
//! `DIFFERENCES.md` and expected here case by case; any other difference fails.

mod cases;
mod wire;

use cases::{Case, Expect};
use spotik_edge::config::IoMode;
use spotik_nginx_compat::{CdnServer, MediaServer, Nginx};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use wire::{exchange, Observed};

pub const SECRET: &str = "conformance-secret";

/// Headers compared on 2xx and 304 answers.
const COMPARED: [&str; 7] = [
    "content-length",
    "content-range",
    "content-type",
    "etag",
    "last-modified",
    "accept-ranges",
    "cache-control",
];

fn media(root: &Path) {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/audio");
    std::fs::create_dir_all(root.join("sub/dir")).unwrap();
    std::fs::create_dir_all(root.join("folder.mp3")).unwrap();
    for name in [
        "tone-1500ms.mp3",
        "tone-1500ms.m4a",
        "tone-1500ms.flac",
        "tone-1500ms.opus",
        "tone-1500ms.wav",
    ] {
        std::fs::copy(fixtures.join(name), root.join(name)).unwrap();
    }
    let big: Vec<u8> = (0..cases::BIG_LEN).map(|i| ((i * 31) ^ (i >> 9)) as u8).collect();
    std::fs::write(root.join("big.mp3"), big).unwrap();
    std::fs::write(root.join("empty.mp3"), b"").unwrap();
    std::fs::write(root.join("one.mp3"), b"1").unwrap();
    // WebM audio; the edge does not look inside.
    std::fs::write(root.join("tone-1500ms.weba"), b"\x1a\x45\xdf\xa3 webm audio").unwrap();
    std::fs::write(root.join("a b.mp3"), b"space in the name").unwrap();
    std::fs::write(root.join("sub/dir/deep.ogg"), b"deep file").unwrap();
    std::fs::write(root.join(".hidden.mp3"), b"hidden").unwrap();
    std::fs::write(root.join("notes.txt"), b"text").unwrap();
}

async fn start_edge(root: &Path, secret: Option<&str>, io: IoMode) -> SocketAddr {
    let mut config = spotik_edge::Config::for_root(root);
    config.etag_format = spotik_shared::etag::EtagFormat::Nginx;
    config.signing_secret = secret.map(str::to_owned);
    config.io = io;
    // The big file must take the disk path, not the small-file cache.
    config.small_file_max = 1024 * 1024;
    let app = Arc::new(spotik_edge::App::new(config).unwrap());
    // The io_uring run must run io_uring, not its buffered fallback, unless
    // the run says io_uring is refused here (SPOTIK_SKIP_URING=1).
    if app.config().io != io {
        assert!(
            std::env::var_os("SPOTIK_SKIP_URING").is_some(),
            "{io:?} was asked for but the edge runs {:?}: io_uring is refused here; set SPOTIK_SKIP_URING=1 to run without it",
            app.config().io
        );
        eprintln!(
            "io_uring refused here: the {io:?} run uses {:?} (SPOTIK_SKIP_URING)",
            app.config().io
        );
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(spotik_edge::server::serve(app, listener, std::future::pending()));
    addr
}

/// Compares one case; `Err` explains the first undocumented difference.
fn compare(case: &Case, nginx: &Observed, edge: &Observed) -> Result<(), String> {
    match &case.expect {
        Expect::Same => {}
        Expect::Differs { id, nginx: n, edge: e } => {
            return if nginx.status == *n && edge.status == *e {
                Ok(())
            } else {
                Err(format!(
                    "documented difference {id} expects nginx {n} / edge {e}, got {} / {}",
                    nginx.status, edge.status
                ))
            };
        }
    }
    same_answer(("nginx", nginx), ("edge", edge))
}

/// Whether two answers agree on the status, the compared headers and the
/// body. `nginx` is the side that answers as nginx does, which may omit
/// `Accept-Ranges` on a 206 or 304 where the edge must send it (D1).
fn same_answer(nginx: (&str, &Observed), edge: (&str, &Observed)) -> Result<(), String> {
    let ((nginx_name, nginx), (edge_name, edge)) = (nginx, edge);
    if nginx.status != edge.status {
        return Err(format!(
            "status: {nginx_name} {} {edge_name} {}",
            nginx.status, edge.status
        ));
    }
    let same_header = |name: &str| {
        let (n, e) = (nginx.normalised_header(name), edge.normalised_header(name));
        if n == e {
            Ok(())
        } else {
            Err(format!("{name}: {nginx_name} {n:?} {edge_name} {e:?}"))
        }
    };
    if nginx.status >= 400 {
        // Error pages differ in body and type; the status and Content-Range are the contract.
        return same_header("content-range");
    }
    for name in COMPARED {
        if name == "accept-ranges" && matches!(nginx.status, 206 | 304) && nginx.header(name).is_none() {
            // D1: nginx omits Accept-Ranges on 206 and 304; the edge always sends it.
            if edge.header(name) != Some("bytes") {
                return Err(format!(
                    "accept-ranges on {}: {edge_name} sent {:?}",
                    edge.status,
                    edge.header(name)
                ));
            }
            continue;
        }
        same_header(name)?;
    }
    if nginx.normalised_body() != edge.normalised_body() {
        return Err(format!(
            "body: {nginx_name} {} bytes, {edge_name} {} bytes differ",
            nginx.body.len(),
            edge.body.len()
        ));
    }
    Ok(())
}

/// Sends each case to a reference server and to the one compared, the
/// pair `plain` or `signed` as the case is, and names what `compare` finds.
async fn differences(
    cases: &[Case],
    pass: &str,
    plain: (SocketAddr, SocketAddr),
    signed: (SocketAddr, SocketAddr),
    compare: fn(&Case, &Observed, &Observed) -> Result<(), String>,
) -> Vec<String> {
    let mut failures = Vec::new();
    for case in cases {
        let (reference, compared) = if case.signed { signed } else { plain };
        let expected = exchange(reference, &case.request()).await;
        let observed = exchange(compared, &case.request()).await;
        if let Err(why) = compare(case, &expected, &observed) {
            failures.push(format!("{pass}{:<48} {why}", case.name));
        }
    }
    failures
}

async fn run_suite(io: IoMode) {
    assert!(
        spotik_nginx_compat::nginx_binary().is_some(),
        "nginx is required (apt-get install nginx-light); deploy/test installs it"
    );
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("media");
    media(&root);
    let nginx = Nginx::start_media(&[
        MediaServer {
            media_root: &root,
            signing_secret: None,
        },
        MediaServer {
            media_root: &root,
            signing_secret: Some(SECRET),
        },
    ])
    .expect("nginx starts");
    let edge_plain = start_edge(&root, None, io).await;
    let edge_signed = start_edge(&root, Some(SECRET), io).await;

    let cases = cases::all(&root);
    assert!(cases.len() >= 80, "only {} cases", cases.len());
    let plain = (nginx.addrs[0], edge_plain);
    let signed = (nginx.addrs[1], edge_signed);
    let failures = differences(&cases, "", plain, signed, compare).await;
    assert!(
        failures.is_empty(),
        "{} of {} cases differ ({io:?}):\n{}\nnginx error log:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n"),
        nginx.error_log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edge_answers_like_nginx_with_mmap() {
    run_suite(IoMode::Mmap).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edge_answers_like_nginx_with_io_uring() {
    run_suite(IoMode::Uring).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edge_answers_like_nginx_with_buffered_reads() {
    run_suite(IoMode::Buffered).await;
}

/// The CDN tier (`cdn/cdn.conf.template`) must not change what a player is
/// told: every case through it, once from a cold cache and once warm,
/// against the edge it stands in front of. Its own differences are listed
/// in DIFFERENCES.md (C1…) and expected case by case.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cdn_tier_answers_like_the_edge_cold_and_warm() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("media");
    media(&root);
    let edge_plain = start_edge(&root, None, IoMode::Mmap).await;
    let edge_signed = start_edge(&root, Some(SECRET), IoMode::Mmap).await;
    let cdn = Nginx::start_cdn(&[
        CdnServer {
            edges: &[edge_plain],
            signing_secret: None,
        },
        CdnServer {
            edges: &[edge_signed],
            signing_secret: Some(SECRET),
        },
    ])
    .expect("the CDN node starts");

    let cases = cases::all(&root);
    let (plain, signed) = ((edge_plain, cdn.addrs[0]), (edge_signed, cdn.addrs[1]));
    let mut failures = differences(&cases, "cold ", plain, signed, compare_through_cdn).await;
    failures.extend(differences(&cases, "warm ", plain, signed, compare_through_cdn).await);
    assert!(
        failures.is_empty(),
        "{} of {} cases differ through the CDN:\n{}\nnginx error log:\n{}",
        failures.len(),
        cases.len() * 2,
        failures.join("\n"),
        cdn.error_log()
    );
}

/// The CDN node is nginx, so it evaluates ranges and conditionals on a
/// cached answer as nginx does (D1, D3, D6 show nginx's side), while paths
/// and the slice it fetches are the edge's to judge (D2, D4, D5 show the
/// edge's side); the tier adds differences of its own (C1…).
fn compare_through_cdn(case: &Case, edge: &Observed, cdn: &Observed) -> Result<(), String> {
    let expected = match (case.through_cdn, &case.expect) {
        (Some((_, status)), _) => Some(status),
        (
            None,
            Expect::Differs {
                id: "D2" | "D4" | "D5",
                edge,
                ..
            },
        ) => Some(*edge),
        (None, Expect::Differs { nginx, .. }) => Some(*nginx),
        (None, Expect::Same) => None,
    };
    if let Some(status) = expected {
        return if cdn.status == status {
            Ok(())
        } else {
            Err(format!(
                "documented difference expects the CDN to answer {status}, got {}",
                cdn.status
            ))
        };
    }
    // The CDN node is the side that answers as nginx does.
    same_answer(("cdn", cdn), ("edge", edge))
}
