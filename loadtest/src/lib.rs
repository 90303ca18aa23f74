//! Helpers for the side-by-side benchmarks in `loadtest/`; see `README.md`.

pub mod client;

use std::net::SocketAddr;

/// The command line of a load tool: `--name value` pairs and `--flag`s.
pub struct Args(Vec<String>);

impl Args {
    pub fn from_env() -> Self {
        Self(std::env::args().skip(1).collect())
    }

    /// The value after `--name`, if given.
    pub fn get(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .position(|a| a == name)
            .and_then(|i| self.0.get(i + 1))
            .cloned()
    }

    /// Whether `--flag` is given.
    pub fn has(&self, flag: &str) -> bool {
        self.0.iter().any(|a| a == flag)
    }

    /// The first word (a tool's mode).
    pub fn first(&self) -> Option<String> {
        self.0.first().cloned()
    }
}
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// A keep-alive HTTP/1.1 connection, enough for sequential requests; it
/// reconnects when the server closes it (`Connection: close`).
pub struct Http {
    reader: BufReader<TcpStream>,
    server: SocketAddr,
    closed: bool,
}

impl Http {
    async fn open(server: SocketAddr) -> BufReader<TcpStream> {
        let stream = TcpStream::connect(server).await.expect("HTTP connect");
        stream.set_nodelay(true).unwrap();
        BufReader::new(stream)
    }

    pub async fn connect(server: SocketAddr) -> Self {
        Self {
            reader: Self::open(server).await,
            server,
            closed: false,
        }
    }

    pub async fn request(&mut self, method: &str, target: &str, headers: &str, body: &[u8]) -> u16 {
        if self.closed {
            self.reader = Self::open(self.server).await;
            self.closed = false;
        }
        let head = format!(
            "{method} {target} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n{headers}\r\n",
            self.server,
            body.len()
        );
        let stream = self.reader.get_mut();
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(body).await.unwrap();
        let mut line = String::new();
        self.reader.read_line(&mut line).await.unwrap();
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status line");
        let mut length = 0usize;
        loop {
            line.clear();
            self.reader.read_line(&mut line).await.unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap();
                }
                if name.eq_ignore_ascii_case("connection") && value.trim().eq_ignore_ascii_case("close") {
                    self.closed = true;
                }
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body).await.unwrap();
        status
    }
}

/// The `q`-quantile (0…1) of sorted samples.
pub fn quantile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}
