//! The deployment files against the binaries: every environment variable
//! the Kubernetes manifests and the compose file set is one spotik-api or
//! spotik-edge reads, and every port and probe is one they serve. A renamed
//! setting then fails here instead of being silently ignored in production.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

fn repository() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// What `spotik-api --help` lists as `[env: NAME]`.
fn api_reads() -> BTreeSet<String> {
    let help = Command::new(env!("CARGO_BIN_EXE_spotik-api"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    let names: BTreeSet<String> = help
        .split("[env: ")
        .skip(1)
        .filter_map(|rest| rest.split(']').next())
        .map(str::to_owned)
        .collect();
    assert!(names.contains("DATABASE_URL") && names.len() > 30, "{names:?}");
    names
}

fn edge_reads() -> BTreeSet<String> {
    let command = <spotik_edge::Config as clap::CommandFactory>::command();
    let names: BTreeSet<String> = command
        .get_arguments()
        .filter_map(|a| a.get_env())
        .map(|e| e.to_string_lossy().into_owned())
        .collect();
    assert!(names.contains("EDGE_ROOT"), "{names:?}");
    names
}

/// Upper-case names a manifest gives as an env entry (`- name: X`), a
/// ConfigMap key (`X: value`) or a Secret key (`key: X`).
fn env_names(yaml: &str) -> BTreeSet<String> {
    let is_name = |s: &str| {
        s.len() > 2
            && s.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
    };
    let mut names = BTreeSet::new();
    for line in yaml.lines() {
        let line = line.trim().trim_start_matches("- ").trim();
        for piece in line.split([',', '{', '}']) {
            let piece = piece.trim();
            let candidate = match piece.split_once(':') {
                Some(("name" | "key", value)) => value.trim(),
                Some((key, _)) => key.trim(),
                None => continue,
            };
            if is_name(candidate) {
                names.insert(candidate.to_owned());
            }
        }
    }
    names
}

fn kustomize(dir: &str) -> String {
    let output = Command::new("kubectl")
        .args(["kustomize", dir])
        .current_dir(repository())
        .output()
        .expect("kubectl is required (apt-get install kubectl); deploy/test installs it");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn every_setting_the_manifests_give_is_one_the_binaries_read() {
    let (api, edge) = (api_reads(), edge_reads());
    for overlay in ["deploy/k8s/base", "deploy/k8s/overlays/production"] {
        let rendered = kustomize(overlay);
        let mut checked = 0;
        for document in rendered.split("\n---\n") {
            let reads = if document.contains("name: spotik-api") {
                &api
            } else if document.contains("name: spotik-edge") {
                &edge
            } else {
                continue;
            };
            for name in env_names(document) {
                assert!(
                    reads.contains(&name),
                    "{overlay}: {name} is read by neither binary it is given to"
                );
                checked += 1;
            }
            if document.lines().any(|l| l == "kind: Deployment") {
                let (port, ready, live) = if std::ptr::eq(reads, &api) {
                    ("containerPort: 8000", "path: /api/health", "path: /api/ping")
                } else {
                    ("containerPort: 8080", "path: /health", "path: /ping")
                };
                for wanted in [port, ready, live] {
                    assert!(document.contains(wanted), "{overlay}: no {wanted} in\n{document}");
                }
            }
        }
        assert!(checked > 15, "{overlay}: only {checked} settings found");
    }
    // The listen addresses the ConfigMaps give match the container ports.
    let base = kustomize("deploy/k8s/base");
    assert!(base.contains("API_LISTEN: 0.0.0.0:8000") && base.contains("EDGE_LISTEN: 0.0.0.0:8080"));
}

#[test]
fn every_setting_the_compose_file_gives_is_one_the_binaries_read() {
    let compose = std::fs::read_to_string(repository().join("deploy/compose.yaml")).unwrap();
    let block = |from: &str| -> String {
        let start = compose.find(from).unwrap_or_else(|| panic!("no {from}"));
        let rest = &compose[start..];
        rest[..rest.find("\n\n").unwrap()].to_owned()
    };
    for (anchor, reads) in [("x-api: &api", api_reads()), ("x-edge: &edge", edge_reads())] {
        let names = env_names(&block(anchor));
        assert!(names.len() > 2, "{anchor}: {names:?}");
        for name in names {
            assert!(reads.contains(&name), "compose {anchor}: {name} is not read");
        }
    }
}
