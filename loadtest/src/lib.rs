//! Helpers for the side-by-side benchmarks in `loadtest/`; see `README.md`.

pub mod client;
pub mod socket;

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
    async fn open(server: SocketAddr) -> std::io::Result<BufReader<TcpStream>> {
        let stream = TcpStream::connect(server).await?;
        stream.set_nodelay(true)?;
        Ok(BufReader::new(stream))
    }

    pub async fn connect(server: SocketAddr) -> Self {
        Self::try_connect(server).await.expect("HTTP connect")
    }

    /// As [`Http::connect`], for a run that outlives the server (a kill).
    pub async fn try_connect(server: SocketAddr) -> std::io::Result<Self> {
        Ok(Self {
            reader: Self::open(server).await?,
            server,
            closed: false,
        })
    }

    pub async fn request(&mut self, method: &str, target: &str, headers: &str, body: &[u8]) -> u16 {
        self.try_request(method, target, headers, body)
            .await
            .expect("an HTTP answer")
    }

    /// The answer's status, or the connection's failure.
    pub async fn try_request(
        &mut self,
        method: &str,
        target: &str,
        headers: &str,
        body: &[u8],
    ) -> std::io::Result<u16> {
        Ok(self.try_request_body(method, target, headers, body).await?.0)
    }

    /// The answer's status and body, or the connection's failure.
    pub async fn try_request_body(
        &mut self,
        method: &str,
        target: &str,
        headers: &str,
        body: &[u8],
    ) -> std::io::Result<(u16, Vec<u8>)> {
        if self.closed {
            self.reader = Self::open(self.server).await?;
            self.closed = false;
        }
        let head = format!(
            "{method} {target} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n{headers}\r\n",
            self.server,
            body.len()
        );
        let stream = self.reader.get_mut();
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body).await?;
        let broken = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
        let mut line = String::new();
        if self.reader.read_line(&mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| broken("no status line"))?;
        let mut length = 0usize;
        loop {
            line.clear();
            if self.reader.read_line(&mut line).await? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().map_err(|_| broken("a bad Content-Length"))?;
                }
                if name.eq_ignore_ascii_case("connection") && value.trim().eq_ignore_ascii_case("close") {
                    self.closed = true;
                }
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body).await?;
        Ok((status, body))
    }
}

/// The `q`-quantile (0…1) of sorted samples.
pub fn quantile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}
