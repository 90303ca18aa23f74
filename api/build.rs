//! Compiles the web app (`../web`) into the binary: `cargo build` alone
//! produces it, with no Node and no network.
//!
//! Every file the page loads is embedded twice, as it is and gzipped at the
//! highest level (compressed once here rather than on every request), under
//! `/assets/<version>/…`, where `<version>` is a digest of all of them: a
//! changed file changes every asset URL, so each may be cached for a year.
//! `index.html` is a template: its `{{ASSETS}}` becomes that prefix and
//! `{{PRELOAD}}` a `modulepreload` link per module, so that the browser
//! fetches the whole module graph at once instead of one import at a time.

use flate2::{write::GzEncoder, Compression};
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The folders and files of `web/` that the page loads; the rest (tests,
/// lint and type-check configuration, node_modules) stays out.
const SHIPPED: [&str; 4] = ["index.html", "app.css", "icon.svg", "src"];

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let web = manifest
        .join("../web")
        .canonicalize()
        .expect("the web app's sources in ../web");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let mut files = Vec::new();
    for entry in SHIPPED {
        let path = web.join(entry);
        println!("cargo:rerun-if-changed={}", path.display());
        collect(&path, &mut files);
    }
    files.sort();

    let mut digest = Sha256::new();
    for file in &files {
        digest.update(relative(&web, file).as_bytes());
        digest.update(std::fs::read(file).expect("a web file"));
    }
    let version = hex(&digest.finalize()[..6]);
    let prefix = format!("/assets/{version}");

    let mut table = String::new();
    let mut index = None;
    for file in &files {
        let name = relative(&web, file);
        let mut body = std::fs::read(file).expect("a web file");
        if name == "index.html" {
            let page = String::from_utf8(body).expect("index.html is UTF-8");
            let preload: String = files
                .iter()
                .map(|f| relative(&web, f))
                .filter(|n| n.ends_with(".js"))
                .map(|n| format!("<link rel=\"modulepreload\" href=\"{prefix}/{n}\">\n"))
                .collect();
            body = page
                .replace("{{ASSETS}}", &prefix)
                .replace("{{PRELOAD}}", preload.trim_end())
                .into_bytes();
        }
        let plain = out.join("web").join(&name);
        std::fs::create_dir_all(plain.parent().expect("a parent")).expect("OUT_DIR is writable");
        std::fs::write(&plain, &body).expect("OUT_DIR is writable");
        let gzip = plain.with_extension(format!(
            "{}.gz",
            plain.extension().and_then(|e| e.to_str()).unwrap_or("")
        ));
        let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
        encoder.write_all(&body).expect("gzip in memory");
        std::fs::write(&gzip, encoder.finish().expect("gzip in memory")).expect("OUT_DIR is writable");
        let etag = format!("\"{}\"", hex(&Sha256::digest(&body)[..8]));
        let entry = format!(
            "Asset {{ name: {name:?}, content_type: {ct:?}, body: include_bytes!({plain:?}), gzip: include_bytes!({gzip:?}), etag: {etag:?} }},\n",
            ct = content_type(&name),
            plain = plain.display().to_string(),
            gzip = gzip.display().to_string(),
        );
        if name == "index.html" {
            index = Some(entry);
        } else {
            table.push_str(&entry);
        }
    }
    let index = index.expect("web/index.html");
    let code = format!(
        "/// A digest of every file of the app: the asset URLs' version.\n\
         pub const VERSION: &str = {version:?};\n\
         /// The page, with its asset URLs and preload links filled in.\n\
         pub static INDEX: Asset = {index};\n\
         /// Every other file, by its path under `web/`.\n\
         pub static ASSETS: &[Asset] = &[\n{table}];\n",
        index = index.trim_end().trim_end_matches(','),
    );
    std::fs::write(out.join("web_assets.rs"), code).expect("OUT_DIR is writable");
}

fn collect(path: &Path, files: &mut Vec<PathBuf>) {
    if path.is_dir() {
        for entry in std::fs::read_dir(path).expect("a readable web folder") {
            collect(&entry.expect("a directory entry").path(), files);
        }
    } else {
        files.push(path.to_owned());
    }
}

fn relative(root: &Path, file: &Path) -> String {
    let name = file.strip_prefix(root).expect("under web/").to_string_lossy();
    name.replace('\\', "/")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("json") | Some("webmanifest") => "application/manifest+json",
        _ => "application/octet-stream",
    }
}
