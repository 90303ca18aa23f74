//! Conditional requests (RFC 9110 §13.2.2), evaluated in the RFC's order.
//!
//! Pure functions over the request headers and the file's two validators;
//! the caller turns a [`Verdict`] into 412 or 304. Entity-tag lists are parsed
//! properly (lists, `W/`, `*`, quoted commas), unlike the backend Spotik
//! replaces, which compared raw strings.

use http::header::{self, HeaderMap};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The validators of the selected representation.
#[derive(Clone, Copy, Debug)]
pub struct Validators<'a> {
    /// Quoted strong entity tag, e.g. `"65a5-480000"`.
    pub etag: &'a [u8],
    /// Last modification, whole Unix seconds.
    pub modified: u64,
}

/// Outcome of the preconditions of a GET or HEAD.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Proceed,
    NotModified,
    PreconditionFailed,
}

/// Evaluates If-Match, If-Unmodified-Since, If-None-Match and If-Modified-Since.
///
/// One pass over the request's header fields collects all four (a request
/// carries a handful of fields, so this beats four hashed lookups).
pub fn evaluate(headers: &HeaderMap, validators: Validators<'_>) -> Verdict {
    let mut if_match = List::Absent;
    let mut if_none_match = List::Absent;
    let mut unmodified_since = DateField::Absent;
    let mut modified_since = DateField::Absent;
    for (name, value) in headers {
        let value = value.as_bytes();
        if name == header::IF_MATCH {
            if_match.see(value, validators.etag, Comparison::Strong);
        } else if name == header::IF_NONE_MATCH {
            if_none_match.see(value, validators.etag, Comparison::Weak);
        } else if name == header::IF_UNMODIFIED_SINCE {
            unmodified_since.see(value);
        } else if name == header::IF_MODIFIED_SINCE {
            modified_since.see(value);
        }
    }

    match if_match.matched() {
        Some(false) => return Verdict::PreconditionFailed,
        Some(true) => {}
        None => {
            if unmodified_since.date().is_some_and(|since| validators.modified > since) {
                return Verdict::PreconditionFailed;
            }
        }
    }
    match if_none_match.matched() {
        Some(true) => Verdict::NotModified,
        Some(false) => Verdict::Proceed,
        None if modified_since.date().is_some_and(|since| validators.modified <= since) => Verdict::NotModified,
        None => Verdict::Proceed,
    }
}

/// An entity-tag list field, over all its lines: they make one list, so
/// garbage on any line spoils the whole of it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum List {
    Absent,
    Matched,
    Unmatched,
    Malformed,
}

impl List {
    fn see(&mut self, line: &[u8], ours: &[u8], comparison: Comparison) {
        *self = match (*self, list_matches(line, ours, comparison)) {
            (Self::Malformed, _) | (_, None) => Self::Malformed,
            (Self::Matched, _) | (_, Some(true)) => Self::Matched,
            _ => Self::Unmatched,
        };
    }

    /// Whether the field matched, if it was sent; a malformed one never does.
    fn matched(self) -> Option<bool> {
        match self {
            Self::Absent => None,
            Self::Matched => Some(true),
            Self::Unmatched | Self::Malformed => Some(false),
        }
    }
}

/// A date field seen zero, one or several times; a repeated date is invalid,
/// and invalid dates are ignored. Parsed only if it ends up mattering.
enum DateField<'a> {
    Absent,
    Once(&'a [u8]),
    Repeated,
}

impl<'a> DateField<'a> {
    fn see(&mut self, value: &'a [u8]) {
        *self = match self {
            Self::Absent => Self::Once(value),
            _ => Self::Repeated,
        };
    }

    fn date(&self) -> Option<u64> {
        match self {
            Self::Once(value) => parse_date(value),
            _ => None,
        }
    }
}

/// Whether `If-Range` (if present) lets the `Range` header apply: an entity
/// tag must match strongly, a date must equal the modification time exactly.
pub fn if_range_allows(value: Option<&[u8]>, validators: Validators<'_>) -> bool {
    let Some(value) = value else {
        return true;
    };
    let value = value.trim_ascii();
    if value.starts_with(b"\"") || value.starts_with(b"W/") {
        return !value.starts_with(b"W/") && value == validators.etag;
    }
    parse_date(value) == Some(validators.modified)
}

/// Parses an HTTP-date (IMF-fixdate, RFC 850 or asctime) into Unix seconds.
pub fn parse_date(value: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(value).ok()?;
    let time = httpdate::parse_http_date(text.trim()).ok()?;
    time.duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs())
}

/// Formats Unix seconds as an IMF-fixdate.
pub fn format_date(secs: u64) -> String {
    httpdate::fmt_http_date(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Comparison {
    Strong,
    Weak,
}

/// Whether an `If-Match`/`If-None-Match` field value matches `ours` (a quoted
/// strong tag); `None` when it does not parse as a list of entity tags
/// (`"abc"x`, an unterminated quote, a bare word), wherever the garbage
/// sits. Such a field matches nothing: a client that sent it cannot be told
/// "you have this" on the strength of it (nginx answers those `200` to
/// If-None-Match and `412` to If-Match too). `*` matches any existing
/// representation.
fn list_matches(list: &[u8], ours: &[u8], comparison: Comparison) -> Option<bool> {
    if list.trim_ascii() == b"*" {
        return Some(true);
    }
    let mut matched = false;
    let mut rest = list;
    loop {
        rest = rest.trim_ascii_start();
        while let Some(after) = rest.strip_prefix(b",") {
            rest = after.trim_ascii_start();
        }
        if rest.is_empty() {
            return Some(matched);
        }
        let (weak, tagged) = match rest.strip_prefix(b"W/") {
            Some(after) => (true, after),
            None => (false, rest),
        };
        let body = tagged.strip_prefix(b"\"")?;
        let close = body.iter().position(|&b| b == b'"')?;
        let quoted = &tagged[..close + 2];
        let strong_enough = comparison == Comparison::Weak || !weak;
        matched |= strong_enough && quoted == ours;
        rest = tagged[close + 2..].trim_ascii_start();
        // A member ends at a comma or at the end of the value.
        if !rest.is_empty() && !rest.starts_with(b",") {
            return None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use proptest::prelude::*;

    const ETAG: &[u8] = b"\"abc\"";
    const MTIME: u64 = 1_700_000_000;

    fn v() -> Validators<'static> {
        Validators {
            etag: ETAG,
            modified: MTIME,
        }
    }

    fn check(pairs: &[(&str, &str)]) -> Verdict {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(
                header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        evaluate(&headers, v())
    }

    fn date(secs: u64) -> String {
        format_date(secs)
    }

    #[test]
    fn if_match_uses_strong_comparison_and_lists() {
        assert_eq!(check(&[("if-match", "\"abc\"")]), Verdict::Proceed);
        assert_eq!(check(&[("if-match", "\"x\", \"abc\"")]), Verdict::Proceed);
        assert_eq!(check(&[("if-match", "*")]), Verdict::Proceed);
        assert_eq!(check(&[("if-match", "W/\"abc\"")]), Verdict::PreconditionFailed);
        assert_eq!(check(&[("if-match", "\"x\"")]), Verdict::PreconditionFailed);
        assert_eq!(check(&[("if-match", "abc")]), Verdict::PreconditionFailed);
        assert_eq!(
            check(&[("if-match", "\"x\""), ("if-match", "\"abc\"")]),
            Verdict::Proceed,
            "split across lines"
        );
    }

    #[test]
    fn if_unmodified_since_only_without_if_match() {
        assert_eq!(
            check(&[("if-unmodified-since", &date(MTIME - 1))]),
            Verdict::PreconditionFailed
        );
        assert_eq!(check(&[("if-unmodified-since", &date(MTIME))]), Verdict::Proceed);
        assert_eq!(check(&[("if-unmodified-since", "yesterday")]), Verdict::Proceed);
        assert_eq!(
            check(&[("if-match", "*"), ("if-unmodified-since", &date(MTIME - 1))]),
            Verdict::Proceed
        );
    }

    #[test]
    fn if_none_match_uses_weak_comparison() {
        assert_eq!(check(&[("if-none-match", "\"abc\"")]), Verdict::NotModified);
        assert_eq!(check(&[("if-none-match", "W/\"abc\"")]), Verdict::NotModified);
        assert_eq!(check(&[("if-none-match", "\"a,b\", W/\"abc\"")]), Verdict::NotModified);
        assert_eq!(check(&[("if-none-match", "*")]), Verdict::NotModified);
        assert_eq!(check(&[("if-none-match", "\"abcd\"")]), Verdict::Proceed);
        assert_eq!(check(&[("if-none-match", "\"abc")]), Verdict::Proceed, "unterminated");
    }

    #[test]
    fn a_malformed_list_matches_nothing() {
        for garbage in [
            "\"abc\"x",
            "\"abc\" x",
            "\"abc\"\"abc\"",
            "\"abc\", x",
            "x, \"abc\"",
            "W/ \"abc\"",
            "abc",
        ] {
            assert_eq!(check(&[("if-none-match", garbage)]), Verdict::Proceed, "{garbage}");
            assert_eq!(
                check(&[("if-match", garbage)]),
                Verdict::PreconditionFailed,
                "{garbage}"
            );
        }
        assert_eq!(
            check(&[("if-none-match", " \"abc\" , ,\"x\" ")]),
            Verdict::NotModified,
            "spaces and empty members"
        );
        assert_eq!(
            check(&[("if-none-match", "\"abc\""), ("if-none-match", "\"x\"y")]),
            Verdict::Proceed,
            "garbage on another line spoils the list"
        );
    }

    #[test]
    fn if_modified_since_is_ignored_when_if_none_match_is_present() {
        assert_eq!(check(&[("if-modified-since", &date(MTIME))]), Verdict::NotModified);
        assert_eq!(check(&[("if-modified-since", &date(MTIME + 10))]), Verdict::NotModified);
        assert_eq!(check(&[("if-modified-since", &date(MTIME - 1))]), Verdict::Proceed);
        assert_eq!(check(&[("if-modified-since", "not a date")]), Verdict::Proceed);
        assert_eq!(
            check(&[("if-none-match", "\"x\""), ("if-modified-since", &date(MTIME))]),
            Verdict::Proceed
        );
    }

    #[test]
    fn preconditions_come_before_cache_validation() {
        assert_eq!(
            check(&[("if-match", "\"x\""), ("if-none-match", "\"abc\"")]),
            Verdict::PreconditionFailed
        );
        assert_eq!(
            check(&[("if-match", "\"abc\""), ("if-none-match", "\"abc\"")]),
            Verdict::NotModified
        );
    }

    #[test]
    fn all_three_date_formats_parse() {
        assert_eq!(parse_date(b"Sun, 06 Nov 1994 08:49:37 GMT"), Some(784111777));
        assert_eq!(parse_date(b"Sunday, 06-Nov-94 08:49:37 GMT"), Some(784111777));
        assert_eq!(parse_date(b"Sun Nov  6 08:49:37 1994"), Some(784111777));
        assert_eq!(parse_date(b"\xff"), None);
    }

    #[test]
    fn if_range_compares_strongly_and_exactly() {
        assert!(if_range_allows(None, v()));
        assert!(if_range_allows(Some(b"\"abc\""), v()));
        assert!(!if_range_allows(Some(b"W/\"abc\""), v()));
        assert!(!if_range_allows(Some(b"\"abd\""), v()));
        assert!(if_range_allows(Some(date(MTIME).as_bytes()), v()));
        assert!(!if_range_allows(Some(date(MTIME + 1).as_bytes()), v()));
        assert!(!if_range_allows(Some(b"garbage"), v()));
        assert!(!if_range_allows(Some(b"\"abc\"x"), v()));
        let date_and_garbage = format!("{}x", date(MTIME));
        assert!(!if_range_allows(Some(date_and_garbage.as_bytes()), v()));
    }

    proptest! {
        #[test]
        fn arbitrary_lists_never_panic(list in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = list_matches(&list, ETAG, Comparison::Weak);
            let _ = list_matches(&list, ETAG, Comparison::Strong);
            let _ = if_range_allows(Some(&list), v());
        }

        #[test]
        fn our_tag_matches_wherever_it_sits_in_a_list(others in proptest::collection::vec("[a-z0-9]{0,8}", 0..5), at in 0usize..5) {
            let mut tags: Vec<String> = others.iter().map(|t| format!("\"x{t}\"")).collect();
            tags.insert(at.min(tags.len()), "\"abc\"".into());
            let list = tags.join(" , ");
            prop_assert_eq!(list_matches(list.as_bytes(), ETAG, Comparison::Strong), Some(true));
            let without: Vec<String> = others.iter().map(|t| format!("W/\"x{t}\"")).collect();
            prop_assert_eq!(list_matches(without.join(",").as_bytes(), ETAG, Comparison::Weak), Some(false));
        }
    }
}
