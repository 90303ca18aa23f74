//! An optional access log in nginx's `combined` format, so existing log
//! tooling (goaccess, fail2ban filters, awk one-liners) keeps working:
//!
//! `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"`
//!
//! Lines are written when the response body is finished or abandoned, so the
//! byte count is what was really sent. Times are in UTC.

use std::fmt::Write as _;
use std::io::{self, LineWriter, Write};
use std::net::IpAddr;
use std::path::Path;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

pub struct AccessLog {
    out: Mutex<Box<dyn Write + Send>>,
}

/// What a log line needs from the request, captured when it arrives.
pub struct AccessRecord {
    pub remote: IpAddr,
    pub time: SystemTime,
    pub request_line: String,
    pub status: u16,
    pub referer: Option<String>,
    pub user_agent: Option<String>,
}

impl AccessLog {
    /// Appends to `path`, or writes to stdout for `-`.
    pub fn open(path: &Path) -> io::Result<Self> {
        let out: Box<dyn Write + Send> = if path == Path::new("-") {
            Box::new(LineWriter::new(io::stdout()))
        } else {
            Box::new(LineWriter::new(
                std::fs::OpenOptions::new().create(true).append(true).open(path)?,
            ))
        };
        Ok(Self { out: Mutex::new(out) })
    }

    pub fn write(&self, record: &AccessRecord, bytes_sent: u64) {
        let line = format_line(record, bytes_sent);
        if let Ok(mut out) = self.out.lock() {
            let _ = out.write_all(line.as_bytes());
        }
    }
}

pub fn format_line(record: &AccessRecord, bytes_sent: u64) -> String {
    let mut line = String::with_capacity(160);
    let _ = write!(line, "{} - - [{}] \"", record.remote, local_time(record.time));
    escape_into(&mut line, &record.request_line);
    let _ = write!(line, "\" {} {bytes_sent} \"", record.status);
    escape_into(&mut line, record.referer.as_deref().unwrap_or("-"));
    line.push_str("\" \"");
    escape_into(&mut line, record.user_agent.as_deref().unwrap_or("-"));
    line.push_str("\"\n");
    line
}

/// nginx escapes `"`, `\` and bytes outside printable ASCII as `\xHH`.
fn escape_into(out: &mut String, value: &str) {
    for byte in value.bytes() {
        if byte == b'"' || byte == b'\\' || !(0x20..0x7f).contains(&byte) {
            let _ = write!(out, "\\x{byte:02X}");
        } else {
            out.push(byte as char);
        }
    }
}

/// `24/Nov/2026:05:48:33 +0000`.
fn local_time(time: SystemTime) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let of_day = secs % 86_400;
    format!(
        "{day:02}/{}/{year}:{:02}:{:02}:{:02} +0000",
        MONTHS[month as usize - 1],
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), after Howard Hinnant's algorithm.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn combined_format_matches_nginx() {
        let record = AccessRecord {
            remote: "10.0.0.7".parse().unwrap(),
            time: UNIX_EPOCH + Duration::from_secs(1_795_499_313),
            request_line: "GET /audio/a b.mp3 HTTP/1.1".into(),
            status: 206,
            referer: None,
            user_agent: Some("Mozilla \"quoted\"".into()),
        };
        assert_eq!(
            format_line(&record, 2),
            "10.0.0.7 - - [24/Nov/2026:05:48:33 +0000] \"GET /audio/a b.mp3 HTTP/1.1\" 206 2 \"-\" \"Mozilla \\x22quoted\\x22\"\n"
        );
    }

    #[test]
    fn calendar_handles_leap_days() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }
}
