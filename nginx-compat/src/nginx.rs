//! Starting and stopping a private nginx: its own prefix, pid file, logs
//! and ports, never the system's instance.

use crate::render::render;
use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// Where this folder's templates are.
pub fn templates() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// The nginx executable: `$NGINX`, else `nginx` on PATH or in /usr/sbin.
pub fn nginx_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("NGINX") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join("nginx"))
        .find(|candidate| candidate.is_file())
}

/// A free TCP port on 127.0.0.1 (bound and released; good enough for tests).
pub fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// One media server block of `media/media.conf.template`.
pub struct MediaServer<'a> {
    pub media_root: &'a Path,
    /// `None` renders the block without signed links.
    pub signing_secret: Option<&'a str>,
}

/// One CDN node of `cdn/cdn.conf.template` in front of some edges.
pub struct CdnServer<'a> {
    pub edges: &'a [SocketAddr],
    /// The edges' signing secret; `None` renders the node without signed links.
    pub signing_secret: Option<&'a str>,
}

fn cdn_cache_in(dir: &Path, i: usize) -> PathBuf {
    dir.join(format!("cache-{i}"))
}

/// One server block to render: its template values and signing secret.
struct Block<'a> {
    values: Vec<(&'static str, String)>,
    signing_secret: Option<&'a str>,
}

/// A running nginx with one media server block per [`MediaServer`].
pub struct Nginx {
    child: Child,
    dir: TempDir,
    pub addrs: Vec<SocketAddr>,
}

impl Nginx {
    /// Renders the media templates and starts nginx in the foreground.
    pub fn start_media(servers: &[MediaServer<'_>]) -> io::Result<Self> {
        let blocks = servers.iter().map(|server| Block {
            values: vec![("MEDIA_ROOT", server.media_root.display().to_string())],
            signing_secret: server.signing_secret,
        });
        Self::start_blocks(
            tempfile::tempdir()?,
            "media/media.conf.template",
            "LISTEN",
            blocks,
            |text, _| text,
        )
    }

    /// Renders the CDN template once per [`CdnServer`] (each with its own
    /// cache, [`Nginx::cdn_cache`]) and starts nginx in the foreground.
    pub fn start_cdn(servers: &[CdnServer<'_>]) -> io::Result<Self> {
        let dir = tempfile::tempdir()?;
        // Collected: the values borrow `dir`, which is then handed over.
        let blocks: Vec<_> = servers
            .iter()
            .enumerate()
            .map(|(i, server)| Block {
                values: vec![
                    (
                        "EDGE_SERVERS",
                        server.edges.iter().map(|edge| format!("server {edge}; ")).collect(),
                    ),
                    ("CDN_CACHE_DIR", cdn_cache_in(dir.path(), i).display().to_string()),
                    ("CDN_MAX_SIZE", "1g".to_owned()),
                ],
                signing_secret: server.signing_secret,
            })
            .collect();
        // Each node's cache zone, path variable and upstream (every name
        // starting `spotik_cdn`) need names of their own inside one nginx.
        let own_names = |text: String, i: usize| text.replace("spotik_cdn", &format!("spotik_cdn_{i}"));
        Self::start_blocks(
            dir,
            "cdn/cdn.conf.template",
            "CDN_LISTEN",
            blocks.into_iter(),
            own_names,
        )
    }

    /// Renders `template` once per block, on a free port given as `listen`,
    /// with its `secure-link.conf` snippet, and starts nginx on them all.
    fn start_blocks<'a>(
        dir: TempDir,
        template: &str,
        listen: &'static str,
        blocks: impl Iterator<Item = Block<'a>>,
        rename: impl Fn(String, usize) -> String,
    ) -> io::Result<Self> {
        let template = std::fs::read_to_string(templates().join(template))?;
        let link_template = std::fs::read_to_string(templates().join("media/secure-link.conf.template"))?;
        let mut includes = String::new();
        let mut addrs = Vec::new();
        for (i, block) in blocks.enumerate() {
            let snippets = dir.path().join(format!("snippets-{i}"));
            std::fs::create_dir_all(&snippets)?;
            let addr: SocketAddr = format!("127.0.0.1:{}", free_port()?).parse().expect("valid address");
            let mut values: HashMap<&str, String> = block.values.into_iter().collect();
            values.insert(listen, addr.to_string());
            values.insert("NGINX_SNIPPETS", snippets.display().to_string());
            let link = match block.signing_secret {
                Some(secret) => {
                    values.insert("SIGNING_SECRET", secret.to_owned());
                    render(&link_template, &values).map_err(io::Error::other)?
                }
                None => String::new(),
            };
            std::fs::write(snippets.join("secure-link.conf"), link)?;
            let conf = dir.path().join(format!("block-{i}.conf"));
            let text = render(&template, &values).map_err(io::Error::other)?;
            std::fs::write(&conf, rename(text, i))?;
            includes.push_str(&format!("    include {};\n", conf.display()));
            addrs.push(addr);
        }
        let mut nginx = Self::start(dir, &includes)?;
        nginx.addrs = addrs;
        for addr in &nginx.addrs {
            wait_for(*addr)?;
        }
        Ok(nginx)
    }

    /// The cache folder of CDN node `i` (of [`Nginx::start_cdn`]).
    pub fn cdn_cache(&self, i: usize) -> PathBuf {
        cdn_cache_in(self.dir.path(), i)
    }

    /// Starts nginx in the foreground with `http_block` as the body of its
    /// `http {}` block, in `dir` (which it keeps). Callers wait for their ports.
    /// One process, no master: killing it leaves no orphaned workers behind.
    pub fn start(dir: TempDir, http_block: &str) -> io::Result<Self> {
        let binary = nginx_binary().ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "nginx not found"))?;
        let user = if is_root() { "user root;\n" } else { "" };
        let main = format!(
            "{user}master_process off;\nworker_processes 1;\npid {dir}/nginx.pid;\nerror_log {dir}/error.log warn;\n\
             events {{ worker_connections 4096; }}\n\
             http {{\n    access_log off;\n{http_block}\n}}\n",
            dir = dir.path().display()
        );
        let conf = dir.path().join("nginx.conf");
        std::fs::write(&conf, main)?;
        check_config(&binary, dir.path(), &conf)?;
        let child = Command::new(&binary)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&conf)
            .args(["-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        Ok(Self {
            child,
            dir,
            addrs: Vec::new(),
        })
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `nginx -t` on a configuration; its output on failure.
pub fn check_config(binary: &Path, prefix: &Path, conf: &Path) -> io::Result<()> {
    let out = Command::new(binary)
        .arg("-t")
        .arg("-p")
        .arg(prefix)
        .arg("-c")
        .arg(conf)
        .output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "nginx -t failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )))
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

pub fn wait_for(addr: SocketAddr) -> io::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if TcpStream::connect(addr).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(io::Error::new(
        io::ErrorKind::TimedOut,
        format!("nginx did not listen on {addr}"),
    ))
}
