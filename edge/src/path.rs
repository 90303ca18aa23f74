//! Request path normalisation: the only place a URL becomes a file name.
//!
//! The path is percent-decoded exactly once, then split into segments. Empty
//! and `.` segments vanish (nginx merges slashes and drops `.` the same way);
//! anything that could name a file outside the media root — `..`, NUL,
//! backslashes — is refused here, before any file system call. What comes out
//! is a [`CleanPath`]: segments joined by single slashes, with a leading one,
//! and a trailing one when the request had it. That slash is kept, as nginx
//! keeps it in `$uri`: `/audio/a.mp3/` names a directory, not the file, so it
//! is no second URL (and cache key) for `a.mp3`, and a link signed for one is
//! not valid for the other.

use std::borrow::Cow;

/// Why a path was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathError {
    /// Not a path any client should send: bad escapes, NUL, backslash, `..`.
    BadRequest,
    /// A path that is well formed but never served, such as a dot-file.
    NotFound,
}

/// A decoded, normalised absolute path: `/` or `/seg/seg…`, possibly with a
/// trailing `/`, where no segment is empty, `.` or `..`, and none holds NUL
/// or a backslash.
///
/// Paths that are already clean (nearly all of them) are borrowed, not copied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CleanPath<'a>(Cow<'a, [u8]>);

impl<'a> CleanPath<'a> {
    /// Decodes and normalises the raw path of a request URI.
    pub fn parse(raw: &'a str) -> Result<Self, PathError> {
        if is_clean(raw.as_bytes()) {
            return Ok(Self(Cow::Borrowed(raw.as_bytes())));
        }
        let decoded = percent_decode(raw.as_bytes())?;
        let mut out = Vec::with_capacity(decoded.len() + 1);
        for segment in decoded.split(|&b| b == b'/') {
            match segment {
                b"" | b"." => continue,
                b".." => return Err(PathError::BadRequest),
                _ if segment.iter().any(|&b| b == 0 || b == b'\\') => return Err(PathError::BadRequest),
                _ => {
                    out.push(b'/');
                    out.extend_from_slice(segment);
                }
            }
        }
        // `…/a.mp3/` and `…/a.mp3/.` both end in a directory.
        let last = decoded.rsplit(|&b| b == b'/').next();
        if out.is_empty() || matches!(last, Some(b"" | b".")) {
            out.push(b'/');
        }
        Ok(Self(Cow::Owned(out)))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The rest of the path below `prefix` (`/audio`), without its leading
    /// slash, when the path lies strictly below it.
    pub fn strip_prefix(&self, prefix: &[u8]) -> Option<&[u8]> {
        let rest = self.0.strip_prefix(prefix)?;
        rest.strip_prefix(b"/").filter(|rest| !rest.is_empty())
    }
}

/// A path that normalisation would leave as it is: `/`, or slash-separated
/// segments that are non-empty, not `.` or `..`, free of `%`, NUL and `\\`.
fn is_clean(raw: &[u8]) -> bool {
    if raw == b"/" {
        return true;
    }
    let Some(rest) = raw.strip_prefix(b"/") else {
        return false;
    };
    rest.split(|&b| b == b'/').all(|segment| {
        !matches!(segment, b"" | b"." | b"..") && !segment.iter().any(|&b| matches!(b, b'%' | 0 | b'\\'))
    })
}

/// Whether some segment of a relative media path is hidden (`.git`, `.env`…).
pub fn has_dot_segment(relative: &[u8]) -> bool {
    relative
        .split(|&b| b == b'/')
        .any(|segment| segment.first() == Some(&b'.'))
}

/// The extension of the last segment, as written, if it has one.
pub fn raw_extension(relative: &[u8]) -> Option<&[u8]> {
    let name = relative.rsplit(|&b| b == b'/').next()?;
    let dot = name.iter().rposition(|&b| b == b'.')?;
    let ext = &name[dot + 1..];
    (!ext.is_empty()).then_some(ext)
}

/// The extension of the last segment, lower-cased, if it has one.
pub fn extension(relative: &[u8]) -> Option<String> {
    let ext = std::str::from_utf8(raw_extension(relative)?).ok()?;
    Some(ext.to_ascii_lowercase())
}

/// Decodes `%XX` escapes once. A `%` not followed by two hex digits is an
/// error, as it is for nginx (400).
fn percent_decode(raw: &[u8]) -> Result<Vec<u8>, PathError> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] != b'%' {
            out.push(raw[i]);
            i += 1;
            continue;
        }
        let hex = raw.get(i + 1..i + 3).ok_or(PathError::BadRequest)?;
        let (Some(hi), Some(lo)) = (hex_value(hex[0]), hex_value(hex[1])) else {
            return Err(PathError::BadRequest);
        };
        out.push(hi << 4 | lo);
        i += 3;
    }
    Ok(out)
}

fn hex_value(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn clean(raw: &str) -> Result<String, PathError> {
        CleanPath::parse(raw).map(|p| String::from_utf8(p.0.into_owned()).unwrap())
    }

    #[test]
    fn dots_and_repeated_slashes_are_normalised() {
        assert_eq!(clean("/audio/./a.mp3"), Ok("/audio/a.mp3".into()));
        assert_eq!(clean("//audio//a.mp3"), Ok("/audio/a.mp3".into()));
        assert_eq!(clean("/audio/%2e/a%20b.mp3"), Ok("/audio/a b.mp3".into()));
        assert_eq!(clean(""), Ok("/".into()));
        assert_eq!(clean("/audio/a.mp3/"), Ok("/audio/a.mp3/".into()));
        assert_eq!(clean("/audio/a.mp3//"), Ok("/audio/a.mp3/".into()));
        assert_eq!(clean("/audio/a.mp3/."), Ok("/audio/a.mp3/".into()));
        assert_eq!(clean("/audio/a.mp3%2F"), Ok("/audio/a.mp3/".into()));
        assert_eq!(clean("/"), Ok("/".into()));
        assert_eq!(clean("//"), Ok("/".into()));
        assert!(matches!(CleanPath::parse("/audio/a.mp3").unwrap().0, Cow::Borrowed(_)));
    }

    #[test]
    fn escapes_out_of_the_root_are_refused_in_every_spelling() {
        for raw in [
            "/audio/../etc/passwd",
            "/audio/%2e%2e/etc/passwd",
            "/audio/%2E%2e%2fetc/passwd",
            "/audio/a%2f..%2f..%2fx",
            "/audio/..",
            "/audio/a%00.mp3",
            "/audio/a\\..\\b.mp3",
            "/audio/a%5c..%5cb.mp3",
            "/audio/%",
            "/audio/%4",
            "/audio/%zz",
        ] {
            assert_eq!(clean(raw), Err(PathError::BadRequest), "{raw}");
        }
    }

    #[test]
    fn decoding_happens_once() {
        assert_eq!(clean("/audio/%252e%252e/x"), Ok("/audio/%2e%2e/x".into()));
    }

    #[test]
    fn prefix_is_matched_on_segment_boundaries() {
        let p = CleanPath::parse("/audio/a.mp3").unwrap();
        assert_eq!(p.strip_prefix(b"/audio"), Some(&b"a.mp3"[..]));
        assert_eq!(
            CleanPath::parse("/audiofile.mp3").unwrap().strip_prefix(b"/audio"),
            None
        );
        assert_eq!(CleanPath::parse("/audio/").unwrap().strip_prefix(b"/audio"), None);
    }

    #[test]
    fn extensions_and_dot_segments() {
        assert_eq!(extension(b"dir/A.MP3").as_deref(), Some("mp3"));
        assert_eq!(extension(b"dir.mp3/noext"), None);
        assert_eq!(extension(b"trailing."), None);
        assert!(has_dot_segment(b".hidden/a.mp3"));
        assert!(has_dot_segment(b"a/.mp3"));
        assert!(!has_dot_segment(b"a/b.mp3"));
    }

    proptest! {
        #[test]
        fn normalised_paths_never_escape(raw in "[a-z./%25c2eE\\\\0-9]{0,40}") {
            if let Ok(path) = CleanPath::parse(&raw) {
                let bytes = path.as_bytes();
                prop_assert!(bytes.starts_with(b"/"));
                let inner = bytes[1..].strip_suffix(b"/").unwrap_or(&bytes[1..]);
                prop_assert!(inner.is_empty() || !inner.split(|&b| b == b'/').any(<[u8]>::is_empty));
                for segment in inner.split(|&b| b == b'/') {
                    prop_assert!(segment != b".." && segment != b".");
                    prop_assert!(!segment.contains(&0) && !segment.contains(&b'\\'));
                }
                // Normalisation is idempotent once decoding is accounted for.
                if let Ok(text) = std::str::from_utf8(bytes) {
                    if !text.contains('%') {
                        prop_assert_eq!(CleanPath::parse(text).unwrap(), path.clone());
                    }
                }
            }
        }
    }
}
