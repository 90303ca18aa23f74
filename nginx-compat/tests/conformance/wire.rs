//! One request, one connection, the raw bytes back: nothing between the
//! servers and the comparison normalises anything unnoticed.

use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub struct Observed {
    pub status: u16,
    headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Observed {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    fn boundary(&self) -> Option<&str> {
        self.header("content-type")?
            .strip_prefix("multipart/byteranges; boundary=")
    }

    /// A header with the multipart boundary replaced, so two servers' bodies compare.
    pub fn normalised_header(&self, name: &str) -> Option<String> {
        let value = self.header(name)?;
        Some(match self.boundary() {
            Some(boundary) => value.replace(boundary, "BOUNDARY"),
            None => value.to_owned(),
        })
    }

    pub fn normalised_body(&self) -> Vec<u8> {
        let Some(boundary) = self.boundary() else {
            return self.body.clone();
        };
        let needle = boundary.as_bytes();
        let mut out = Vec::with_capacity(self.body.len());
        let mut i = 0;
        while i < self.body.len() {
            if self.body[i..].starts_with(needle) {
                out.extend_from_slice(b"BOUNDARY");
                i += needle.len();
            } else {
                out.push(self.body[i]);
                i += 1;
            }
        }
        out
    }
}

pub async fn exchange(addr: SocketAddr, request: &[u8]) -> Observed {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request).await.expect("send");
    let mut raw = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(10), stream.read_to_end(&mut raw))
        .await
        .expect("server answered and closed in time")
        .expect("read");
    parse(&raw).unwrap_or_else(|| {
        panic!(
            "unparsable response to {:?}: {:?}",
            String::from_utf8_lossy(request),
            String::from_utf8_lossy(&raw)
        )
    })
}

fn parse(raw: &[u8]) -> Option<Observed> {
    let head_end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..head_end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    Some(Observed {
        status,
        headers,
        body: raw[head_end + 4..].to_vec(),
    })
}
