//! Entity tags for media files.
//!
//! Two formats exist because two kinds of fleet exist. `Md5` reproduces the
//! validator of the Laravel backend Spotik replaces, so caches warmed by it
//! keep validating; `Nginx` reproduces nginx's, so edge replicas and nginx
//! mixed behind one load balancer hand out identical tags.

use md5::{Digest, Md5};
use std::fmt::Write;

/// Which validator format a server emits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EtagFormat {
    /// `"` + hex MD5 of `filename ‖ mtime ‖ size` + `"`.
    Md5,
    /// nginx's `"<mtime hex>-<size hex>"`.
    Nginx,
}

impl std::str::FromStr for EtagFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "md5" => Ok(Self::Md5),
            "nginx" => Ok(Self::Nginx),
            other => Err(format!("unknown ETag format {other:?} (expected md5 or nginx)")),
        }
    }
}

/// The quoted, strong entity tag of a file.
///
/// `filename` is the file's base name as bytes (file names need not be
/// UTF-8); `mtime` is in whole Unix seconds, as both peers use.
pub fn etag(format: EtagFormat, filename: &[u8], mtime: u64, size: u64) -> String {
    match format {
        EtagFormat::Md5 => {
            let mut hasher = Md5::new();
            hasher.update(filename);
            hasher.update(mtime.to_string());
            hasher.update(size.to_string());
            let mut out = String::with_capacity(34);
            out.push('"');
            for byte in hasher.finalize() {
                let _ = write!(out, "{byte:02x}");
            }
            out.push('"');
            out
        }
        EtagFormat::Nginx => format!("\"{mtime:x}-{size:x}\""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_format_matches_the_original_backend() {
        // md5("a.mp3" . "1705312345" . "4718592"), as PHP computes it.
        let expected = format!("{:x}", Md5::digest(b"a.mp317053123454718592"));
        assert_eq!(
            etag(EtagFormat::Md5, b"a.mp3", 1_705_312_345, 4_718_592),
            format!("\"{expected}\"")
        );
        assert_eq!(expected, "6e8d727c6fe6b373aa90756f30061b3e");
    }

    #[test]
    fn nginx_format_is_lowercase_hex_of_mtime_and_size() {
        assert_eq!(
            etag(EtagFormat::Nginx, b"x", 1_705_312_345, 4_718_592),
            "\"65a50059-480000\""
        );
        assert_eq!(etag(EtagFormat::Nginx, b"x", 0, 0), "\"0-0\"");
    }

    #[test]
    fn format_parses_case_insensitively() {
        assert_eq!("NGINX".parse::<EtagFormat>(), Ok(EtagFormat::Nginx));
        assert!("sha1".parse::<EtagFormat>().is_err());
    }
}
