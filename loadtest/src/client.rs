//! A small keep-alive HTTP/1.1 client for the scenario generator: it keeps
//! what a scenario needs of an answer (status, headers, body) and reports
//! failures as values, so that a refused connection or a reset counts as a
//! failed request instead of ending the run.

use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// The error of a connection the server closed before answering.
const CLOSED: &str = "connection closed";
/// How long one request may take before it counts as failed.
const TIMEOUT: Duration = Duration::from_secs(30);

pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// `http://host:port/path…` split into the address to connect to and the target.
pub fn split_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("http://")?;
    let (authority, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_owned()), |(a, p)| (a, format!("/{p}")));
    let authority = authority.replace("localhost", "127.0.0.1");
    let authority = if authority.contains(':') {
        authority
    } else {
        format!("{authority}:80")
    };
    Some((authority, path))
}

pub struct Client {
    server: String,
    stream: Option<BufReader<TcpStream>>,
}

impl Client {
    pub fn new(server: &str) -> Self {
        Self {
            server: server.to_owned(),
            stream: None,
        }
    }

    /// One request; `headers` are whole lines (`Name: value\r\n`). A kept-alive
    /// connection the server closed meanwhile is replaced and the request
    /// sent again once, as browsers do.
    pub async fn request(&mut self, method: &str, target: &str, headers: &str, body: &[u8]) -> Result<Answer, String> {
        let reused = self.stream.is_some();
        match self.attempt(method, target, headers, body).await {
            Err(error) if reused && error == CLOSED => self.attempt(method, target, headers, body).await,
            outcome => outcome,
        }
    }

    async fn attempt(&mut self, method: &str, target: &str, headers: &str, body: &[u8]) -> Result<Answer, String> {
        match tokio::time::timeout(TIMEOUT, self.exchange(method, target, headers, body)).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(error)) => {
                self.stream = None;
                Err(error)
            }
            Err(_) => {
                self.stream = None;
                Err("timed out".into())
            }
        }
    }

    async fn exchange(&mut self, method: &str, target: &str, headers: &str, body: &[u8]) -> Result<Answer, String> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(&self.server)
                .await
                .map_err(|e| format!("connect: {e}"))?;
            stream.set_nodelay(true).ok();
            self.stream = Some(BufReader::new(stream));
        }
        let reader = self.stream.as_mut().expect("connected above");
        let head = format!(
            "{method} {target} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n{headers}\r\n",
            self.server,
            body.len()
        );
        let stream = reader.get_mut();
        stream.write_all(head.as_bytes()).await.map_err(|e| e.to_string())?;
        stream.write_all(body).await.map_err(|e| e.to_string())?;
        let mut line = String::new();
        if reader.read_line(&mut line).await.map_err(|e| e.to_string())? == 0 {
            return Err(CLOSED.into());
        }
        let status = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad status line {line:?}"))?;
        let mut headers = Vec::new();
        loop {
            line.clear();
            reader.read_line(&mut line).await.map_err(|e| e.to_string())?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                headers.push((name.trim().to_owned(), value.trim().to_owned()));
            }
        }
        let mut answer = Answer {
            status,
            headers,
            body: Vec::new(),
        };
        if method == "HEAD" || status == 204 || status == 304 {
            return Ok(answer);
        }
        if answer
            .header("transfer-encoding")
            .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
        {
            loop {
                line.clear();
                reader.read_line(&mut line).await.map_err(|e| e.to_string())?;
                let size = usize::from_str_radix(line.trim(), 16).map_err(|_| "bad chunk size")?;
                let mut chunk = vec![0; size + 2];
                reader.read_exact(&mut chunk).await.map_err(|e| e.to_string())?;
                if size == 0 {
                    break;
                }
                answer.body.extend_from_slice(&chunk[..size]);
            }
        } else if let Some(length) = answer.header("content-length").and_then(|l| l.parse::<usize>().ok()) {
            answer.body = vec![0; length];
            reader.read_exact(&mut answer.body).await.map_err(|e| e.to_string())?;
        }
        if answer
            .header("connection")
            .is_some_and(|c| c.eq_ignore_ascii_case("close"))
        {
            self.stream = None;
        }
        Ok(answer)
    }
}
