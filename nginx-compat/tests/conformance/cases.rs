//! The requests of the conformance suite, grouped as DIFFERENCES.md and the
//! issue list them: ranges, conditionals, HEAD, tiny files, paths, methods,
//! signed links.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Size of `big.mp3`: above the edge's small-file limit in the suite.
pub const BIG_LEN: usize = 3 * 1024 * 1024 + 5;

pub enum Expect {
    /// Status, compared headers and body must match.
    Same,
    /// A difference listed in DIFFERENCES.md under `id`: the statuses each side must give.
    Differs { id: &'static str, nginx: u16, edge: u16 },
}

pub struct Case {
    pub name: String,
    method: &'static str,
    target: String,
    headers: Vec<(String, String)>,
    version: &'static str,
    host: bool,
    pub signed: bool,
    pub expect: Expect,
    /// A difference of the CDN tier's own (DIFFERENCES.md, C…): its id and
    /// the status the CDN node gives.
    pub through_cdn: Option<(&'static str, u16)>,
}

impl Case {
    fn get(name: impl Into<String>, target: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            method: "GET",
            target: target.into(),
            headers: Vec::new(),
            version: "HTTP/1.1",
            host: true,
            signed: false,
            expect: Expect::Same,
            through_cdn: None,
        }
    }

    fn method(mut self, method: &'static str) -> Self {
        self.method = method;
        self
    }

    fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    /// Sends no `Host` header, and `version` in the request line.
    fn without_host(mut self, version: &'static str) -> Self {
        self.host = false;
        self.version = version;
        self
    }

    fn signed(mut self) -> Self {
        self.signed = true;
        self
    }

    fn differs(mut self, id: &'static str, nginx: u16, edge: u16) -> Self {
        self.expect = Expect::Differs { id, nginx, edge };
        self
    }

    fn cdn_differs(mut self, id: &'static str, status: u16) -> Self {
        self.through_cdn = Some((id, status));
        self
    }

    pub fn request(&self) -> Vec<u8> {
        let mut out = format!("{} {} {}\r\n", self.method, self.target, self.version);
        if self.host {
            out.push_str("Host: localhost\r\n");
        }
        out.push_str("Connection: close\r\n");
        for (name, value) in &self.headers {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str("\r\n");
        out.into_bytes()
    }
}

fn http_date(secs: i64) -> String {
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs as u64))
}

fn ranges(name: &str, size: usize) -> Vec<Case> {
    let target = format!("/audio/{name}");
    let seventeen = (0..17)
        .map(|i| format!("{}-{}", i * 3, i * 3))
        .collect::<Vec<_>>()
        .join(",");
    let sixteen = (0..16)
        .map(|i| format!("{}-{}", i * 3, i * 3))
        .collect::<Vec<_>>()
        .join(",");
    let specs = [
        "bytes=0-1".to_owned(),
        "bytes=0-".into(),
        "bytes=100-".into(),
        "bytes=-100".into(),
        "bytes=-99999999".into(),
        "bytes=0-0".into(),
        "bytes=10-20".into(),
        "bytes=5000-999999999".into(),
        format!("bytes={}-", size - 1),
        format!("bytes={size}-"),
        "bytes=999999999-".into(),
        "bytes=abc".into(),
        "bytes=500-100".into(),
        "bytes=-0".into(),
        "bytes= 1 - 2".into(),
        "BYTES=0-1".into(),
        "items=0-1".into(),
        "bytes=0-1,4-5".into(),
        "bytes=0-1, 10-20, -5".into(),
        "bytes=0-,0-".into(),
        "bytes=0-10,5-15".into(),
        format!("bytes={seventeen}"),
        format!("bytes={sixteen}"),
        "bytes=1-2,999999999-".into(),
        "bytes=0-1,".into(),
    ];
    // The ranges the edge answers as multipart/byteranges.
    let multipart = [
        "bytes=0-1,4-5".to_owned(),
        "bytes=0-1, 10-20, -5".into(),
        "bytes=0-10,5-15".into(),
        format!("bytes={sixteen}"),
    ];
    specs
        .into_iter()
        .map(|spec| {
            let case = Case::get(format!("range {name} {spec}"), &target);
            let case = if multipart.contains(&spec) {
                case.cdn_differs("C1", 200)
            } else {
                case
            };
            case.header("Range", spec)
        })
        .collect()
}

fn conditionals(etag: &str, mtime: i64) -> Vec<Case> {
    let t = "/audio/tone-1500ms.mp3";
    let weak = format!("W/{etag}");
    let list = format!("\"other\", {etag}");
    let [at, after, before] = [http_date(mtime), http_date(mtime + 3600), http_date(mtime - 1)];
    let mut cases = vec![
        Case::get("if-none-match current", t).header("If-None-Match", etag),
        Case::get("if-none-match weak", t).header("If-None-Match", &weak),
        Case::get("if-none-match list", t).header("If-None-Match", &list),
        Case::get("if-none-match *", t).header("If-None-Match", "*"),
        Case::get("if-none-match other", t).header("If-None-Match", "\"other\""),
        Case::get("if-modified-since mtime", t).header("If-Modified-Since", &at),
        Case::get("if-modified-since later", t).header("If-Modified-Since", &after),
        Case::get("if-modified-since earlier", t).header("If-Modified-Since", &before),
        Case::get("if-modified-since garbage", t).header("If-Modified-Since", "yesterday"),
        Case::get("if-match current", t).header("If-Match", etag),
        Case::get("if-match other", t).header("If-Match", "\"other\""),
        Case::get("if-match *", t).header("If-Match", "*"),
        Case::get("if-match list", t).header("If-Match", &list),
        Case::get("if-match weak", t).header("If-Match", &weak),
        Case::get("if-unmodified-since earlier", t).header("If-Unmodified-Since", &before),
        Case::get("if-unmodified-since mtime", t).header("If-Unmodified-Since", &at),
        Case::get("if-unmodified-since later", t).header("If-Unmodified-Since", &after),
        Case::get("if-range etag", t)
            .header("Range", "bytes=0-9")
            .header("If-Range", etag),
        Case::get("if-range other etag", t)
            .header("Range", "bytes=0-9")
            .header("If-Range", "\"other\""),
        Case::get("if-range weak etag", t)
            .header("Range", "bytes=0-9")
            .header("If-Range", &weak),
        Case::get("if-range date", t)
            .header("Range", "bytes=0-9")
            .header("If-Range", &at),
        Case::get("if-range other date", t)
            .header("Range", "bytes=0-9")
            .header("If-Range", &before),
        Case::get("if-range without range", t).header("If-Range", etag),
        Case::get("if-none-match + range", t)
            .header("If-None-Match", etag)
            .header("Range", "bytes=0-9"),
        Case::get("if-match fails + range", t)
            .header("If-Match", "\"x\"")
            .header("Range", "bytes=0-9"),
        Case::get("if-match + range", t)
            .header("If-Match", etag)
            .header("Range", "bytes=0-9"),
        Case::get("inm other + ims mtime", t)
            .header("If-None-Match", "\"other\"")
            .header("If-Modified-Since", &at),
        Case::get("inm current + ims mtime", t)
            .header("If-None-Match", etag)
            .header("If-Modified-Since", &at),
        Case::get("if-match other + inm current", t)
            .header("If-Match", "\"x\"")
            .header("If-None-Match", etag),
        // A field value that does not parse matches nothing.
        Case::get("if-none-match tag + garbage", t).header("If-None-Match", format!("{etag}x")),
        Case::get("if-none-match tag + space + garbage", t).header("If-None-Match", format!("{etag} x")),
        Case::get("if-none-match two tags unseparated", t).header("If-None-Match", format!("{etag}{etag}")),
        Case::get("if-none-match bare word", t).header("If-None-Match", "abc"),
        Case::get("if-match tag + garbage", t).header("If-Match", format!("{etag}x")),
        Case::get("if-range tag + garbage", t)
            .header("Range", "bytes=0-9")
            .header("If-Range", format!("{etag}x")),
    ];
    // RFC 9110 §13.1.3-5: a date field that is not a valid HTTP-date is ignored.
    cases.extend([
        Case::get("if-range date + garbage", t)
            .header("Range", "bytes=0-9")
            .header("If-Range", format!("{at}x"))
            .differs("D6", 206, 200),
        Case::get("if-modified-since date + garbage", t)
            .header("If-Modified-Since", format!("{at}x"))
            .differs("D6", 304, 200),
        Case::get("if-unmodified-since date + garbage", t)
            .header("If-Unmodified-Since", format!("{before}x"))
            .differs("D6", 412, 200),
    ]);
    // RFC 9110 §13.2.2: If-Modified-Since is ignored when If-None-Match is present,
    // If-Unmodified-Since when If-Match is.
    cases.push(
        Case::get("inm current + ims earlier", t)
            .header("If-None-Match", etag)
            .header("If-Modified-Since", &before)
            .differs("D3", 200, 304),
    );
    cases.push(
        Case::get("if-match current + ius earlier", t)
            .header("If-Match", etag)
            .header("If-Unmodified-Since", &before)
            .differs("D3", 412, 200),
    );
    cases
}

fn heads(etag: &str) -> Vec<Case> {
    vec![
        Case::get("HEAD small", "/audio/tone-1500ms.mp3").method("HEAD"),
        Case::get("HEAD big", "/audio/big.mp3").method("HEAD"),
        Case::get("HEAD range", "/audio/big.mp3")
            .method("HEAD")
            .header("Range", "bytes=5-10"),
        Case::get("HEAD if-none-match", "/audio/tone-1500ms.mp3")
            .method("HEAD")
            .header("If-None-Match", etag),
        Case::get("HEAD multipart", "/audio/tone-1500ms.mp3")
            .method("HEAD")
            .header("Range", "bytes=0-1,3-4")
            .cdn_differs("C1", 200),
    ]
}

fn tiny_files() -> Vec<Case> {
    vec![
        Case::get("empty file", "/audio/empty.mp3").cdn_differs("C2", 416),
        Case::get("one-byte file", "/audio/one.mp3"),
        Case::get("one-byte file bytes=0-0", "/audio/one.mp3").header("Range", "bytes=0-0"),
        Case::get("one-byte file bytes=0-5", "/audio/one.mp3").header("Range", "bytes=0-5"),
        Case::get("one-byte file bytes=-1", "/audio/one.mp3").header("Range", "bytes=-1"),
        Case::get("one-byte file bytes=1-", "/audio/one.mp3").header("Range", "bytes=1-"),
        // RFC 9110 §14.1.1: no range of an empty representation is satisfiable.
        Case::get("empty file bytes=0-", "/audio/empty.mp3")
            .header("Range", "bytes=0-")
            .differs("D2", 200, 416),
        Case::get("every format flac", "/audio/tone-1500ms.flac"),
        Case::get("every format m4a", "/audio/tone-1500ms.m4a"),
        Case::get("every format opus", "/audio/tone-1500ms.opus"),
        Case::get("every format wav", "/audio/tone-1500ms.wav"),
        Case::get("every format weba", "/audio/tone-1500ms.weba"),
    ]
}

fn paths() -> Vec<Case> {
    vec![
        Case::get("path with ./", "/audio/./tone-1500ms.mp3"),
        Case::get("path with //", "/audio//tone-1500ms.mp3"),
        Case::get("path with leading //", "//audio/tone-1500ms.mp3"),
        Case::get("percent-encoded space", "/audio/a%20b.mp3"),
        Case::get("percent-encoded letter", "/audio/%74one-1500ms.mp3"),
        Case::get("nested path", "/audio/sub/dir/deep.ogg"),
        Case::get("missing file", "/audio/missing.mp3"),
        Case::get("dot-file", "/audio/.hidden.mp3"),
        Case::get("not audio", "/audio/notes.txt"),
        Case::get("directory named like audio", "/audio/folder.mp3"),
        Case::get("prefix itself", "/audio/"),
        Case::get("outside the prefix", "/elsewhere.mp3"),
        Case::get("file with a trailing slash", "/audio/tone-1500ms.mp3/"),
        Case::get("file with an encoded trailing slash", "/audio/tone-1500ms.mp3%2F"),
        Case::get("file with a trailing /.", "/audio/tone-1500ms.mp3/."),
        Case::get("file with trailing //", "/audio/tone-1500ms.mp3//"),
        Case::get("HTTP/1.1 without Host", "/audio/tone-1500ms.mp3").without_host("HTTP/1.1"),
        Case::get("HTTP/1.0 without Host", "/audio/tone-1500ms.mp3").without_host("HTTP/1.0"),
        Case::get("two Host headers", "/audio/tone-1500ms.mp3").header("Host", "other"),
        Case::get("traversal above the root", "/audio/../../etc/passwd"),
        Case::get("encoded traversal above the root", "/audio/%2e%2e/%2e%2e/etc/passwd"),
        Case::get("encoded NUL", "/audio/tone-1500ms.mp3%00.mp3"),
        // Spec: `..` segments are refused outright, even when they stay inside the root.
        Case::get("dot-dot inside the root", "/audio/sub/../tone-1500ms.mp3").differs("D4", 200, 400),
        Case::get("backslash", "/audio/sub\\deep.ogg").differs("D5", 404, 400),
    ]
}

fn methods() -> Vec<Case> {
    let t = "/audio/tone-1500ms.mp3";
    vec![
        Case::get("POST", t).method("POST"),
        Case::get("PUT", t).method("PUT"),
        Case::get("DELETE", t).method("DELETE"),
        Case::get("OPTIONS preflight", t)
            .method("OPTIONS")
            .header("Origin", "https://app.example"),
    ]
}

fn signed(now: u64) -> Vec<Case> {
    use spotik_shared::signed_link::{sign, signed_path};
    let secret = crate::SECRET;
    let t = "/audio/tone-1500ms.mp3";
    let later = now + 3600;
    let sig = sign(secret, t, later);
    vec![
        Case::get("signed valid", signed_path(secret, t, later)).signed(),
        Case::get("signed valid padded", format!("{t}?md5={sig}==&expires={later}")).signed(),
        Case::get("signed valid with range", signed_path(secret, t, later))
            .header("Range", "bytes=0-1")
            .signed(),
        Case::get("signed expired", signed_path(secret, t, now - 60)).signed(),
        Case::get("signed forged", signed_path("wrong", t, later)).signed(),
        Case::get("signed missing", t).signed(),
        Case::get(
            "signed for another file",
            signed_path(secret, "/audio/one.mp3", later).replace("/audio/one.mp3", t),
        )
        .signed(),
        Case::get(
            "signed, then a trailing slash",
            signed_path(secret, t, later).replace(".mp3?", ".mp3/?"),
        )
        .signed(),
        Case::get("signed garbage expiry", format!("{t}?md5={sig}&expires=soon")).signed(),
        Case::get("signed no expiry", format!("{t}?md5={sig}")).signed(),
        Case::get("signed bad base64", format!("{t}?md5=!!!!&expires={later}")).signed(),
        Case::get(
            "signed nested path",
            signed_path(secret, "/audio/sub/dir/deep.ogg", later),
        )
        .signed(),
    ]
}

pub fn all(root: &Path) -> Vec<Case> {
    let meta = std::fs::metadata(root.join("tone-1500ms.mp3")).unwrap();
    let etag = format!("\"{:x}-{:x}\"", meta.mtime(), meta.len());
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let mut cases = Vec::new();
    cases.extend(ranges("tone-1500ms.mp3", meta.len() as usize));
    cases.extend(ranges("big.mp3", BIG_LEN));
    cases.extend(conditionals(&etag, meta.mtime()));
    cases.extend(heads(&etag));
    cases.extend(tiny_files());
    cases.extend(paths());
    cases.extend(methods());
    cases.extend(signed(now));
    cases
}
