//! Opens N connections that each request an audio file and then read it at
//! a listener's pace (a few KiB per second), as players that buffer ahead
//! and then follow playback do. Reports how many are streaming, so that the
//! server's memory can be read while they are all open.
//!
//! `slow-listeners ADDR PATH N SECONDS [BYTES_PER_SECOND]`

use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [addr, path, n, seconds, ..] = args.as_slice() else {
        eprintln!("usage: slow-listeners ADDR PATH N SECONDS [BYTES_PER_SECOND]");
        std::process::exit(2);
    };
    let n: usize = n.parse().expect("N");
    let seconds: u64 = seconds.parse().expect("SECONDS");
    let rate: usize = args.get(4).map_or(16 * 1024, |r| r.parse().expect("BYTES_PER_SECOND"));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n {
        let (addr, path) = (addr.clone(), path.clone());
        tasks.push(tokio::spawn(async move { listen(&addr, &path, rate, deadline).await }));
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
    let mut streaming = 0;
    let mut bytes = 0;
    for task in tasks {
        if let Ok(Ok(read)) = task.await {
            streaming += usize::from(read > 0);
            bytes += read;
        }
    }
    println!("{streaming} of {n} listeners streamed, {bytes} bytes in all");
}

async fn listen(addr: &str, path: &str, rate: usize, deadline: Instant) -> std::io::Result<usize> {
    let mut stream = TcpStream::connect(addr).await?;
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n").as_bytes())
        .await?;
    let mut buffer = vec![0; rate / 4];
    let mut total = 0;
    while Instant::now() < deadline {
        match stream.read(&mut buffer).await? {
            0 => break,
            n => total += n,
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok(total)
}
