//! The header sets of media responses, encoded once: CORS, and the
//! per-file 200/304/probe maps built when a file's metadata is loaded.

use crate::range::ByteRange;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// CORS headers, encoded once.
#[derive(Clone)]
pub struct CorsHeaders {
    allow_origin: HeaderValue,
    expose: HeaderValue,
    pub allow_headers: HeaderValue,
    pub max_age: HeaderValue,
}

impl Default for CorsHeaders {
    fn default() -> Self {
        Self {
            allow_origin: HeaderValue::from_static("*"),
            expose: HeaderValue::from_static("Content-Length, Content-Range, Accept-Ranges, ETag"),
            allow_headers: HeaderValue::from_static("Range, If-None-Match, If-Modified-Since, If-Range"),
            max_age: HeaderValue::from_static("86400"),
        }
    }
}

impl CorsHeaders {
    /// The headers every media response carries.
    pub fn apply(&self, headers: &mut HeaderMap) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, self.allow_origin.clone());
        headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, self.expose.clone());
    }
}

/// The headers every 200/206/304 of a media file carries, prepared once per
/// file so that answering is a clone of a ready map rather than a dozen
/// hashed inserts.
#[derive(Clone)]
pub struct MediaHeaders {
    pub cache_control: HeaderValue,
    pub cors: Option<CorsHeaders>,
}

impl MediaHeaders {
    /// The 304 set has no Content-Type or Content-Length.
    pub fn build(
        &self,
        etag: &HeaderValue,
        last_modified: &HeaderValue,
        content_type: &HeaderValue,
        length: u64,
    ) -> FileHeaders {
        let mut not_modified = HeaderMap::with_capacity(8);
        not_modified.insert(header::ETAG, etag.clone());
        not_modified.insert(header::LAST_MODIFIED, last_modified.clone());
        not_modified.insert(header::CACHE_CONTROL, self.cache_control.clone());
        not_modified.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        not_modified.insert(
            HeaderName::from_static("x-content-type-options"),
            HeaderValue::from_static("nosniff"),
        );
        if let Some(cors) = &self.cors {
            cors.apply(&mut not_modified);
        }
        let mut ok = HeaderMap::with_capacity(12);
        ok.clone_from(&not_modified);
        ok.insert(header::CONTENT_TYPE, content_type.clone());
        ok.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        let probe = (length >= 2).then(|| {
            let mut probe = ok.clone();
            probe.insert(header::CONTENT_LENGTH, HeaderValue::from(2));
            probe.insert(
                header::CONTENT_RANGE,
                content_range(ByteRange { start: 0, end: 2 }, length),
            );
            probe
        });
        FileHeaders {
            ok,
            not_modified,
            probe,
        }
    }
}

/// The header sets of one file, prepared when its metadata is loaded.
pub struct FileHeaders {
    /// A 200 for the whole file.
    pub ok: HeaderMap,
    /// A 304.
    pub not_modified: HeaderMap,
    /// The 206 of `bytes=0-1`, the probe Safari and iOS send before playing.
    pub probe: Option<HeaderMap>,
}

/// `bytes a-b/size`, written by hand: `format!` cost a thousand
/// instructions per 206, more than the rest of the range handling.
pub fn content_range(range: ByteRange, size: u64) -> HeaderValue {
    let mut buffer = [0u8; 6 + 3 * 20 + 2];
    buffer[..6].copy_from_slice(b"bytes ");
    let mut len = 6;
    for (i, number) in [range.start, range.end - 1, size].into_iter().enumerate() {
        if i > 0 {
            buffer[len] = if i == 1 { b'-' } else { b'/' };
            len += 1;
        }
        len += write_decimal(&mut buffer[len..], number);
    }
    HeaderValue::from_bytes(&buffer[..len]).expect("digits are a valid header")
}

/// Writes `n` in decimal at the start of `out`; returns the digit count.
fn write_decimal(out: &mut [u8], mut n: u64) -> usize {
    let mut digits = [0u8; 20];
    let mut count = 0;
    loop {
        digits[count] = b'0' + (n % 10) as u8;
        count += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for i in 0..count {
        out[i] = digits[count - 1 - i];
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_reads_like_format() {
        for (start, end, size) in [
            (0, 1, 1),
            (0, 2, 25_121),
            (1_048_576, 1_114_112, 5_242_880),
            (0, u64::MAX, u64::MAX),
        ] {
            let value = content_range(ByteRange { start, end }, size);
            assert_eq!(value.to_str().unwrap(), format!("bytes {start}-{}/{size}", end - 1));
        }
    }

    #[test]
    fn the_probe_map_is_the_206_of_the_first_two_bytes() {
        let headers = MediaHeaders {
            cache_control: HeaderValue::from_static("public"),
            cors: None,
        };
        let value = |s: &'static str| HeaderValue::from_static(s);
        let prepared = headers.build(&value("\"e\""), &value("date"), &value("audio/mpeg"), 25_121);
        let probe = prepared.probe.expect("a file of two bytes or more has one");
        assert_eq!(probe[header::CONTENT_LENGTH], "2");
        assert_eq!(probe[header::CONTENT_RANGE], "bytes 0-1/25121");
        assert_eq!(probe[header::ETAG], prepared.ok[header::ETAG]);
        assert!(headers
            .build(&value("\"e\""), &value("date"), &value("audio/mpeg"), 1)
            .probe
            .is_none());
    }
}
