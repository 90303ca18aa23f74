//! Signed media links, byte-compatible with nginx's `secure_link` module.
//!
//! The API signs, the edge (or nginx) verifies, with no shared state but the
//! secret. The signed string is `"<expires><uri> <secret>"` and the signature
//! its base64url MD5, which is exactly what
//! `secure_link_md5 "$secure_link_expires$uri <secret>"` computes. The checks
//! below follow `ngx_http_secure_link_variable` step by step so that a URL is
//! accepted or refused identically by both servers.

use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use md5::{Digest, Md5};

/// What a request's `md5`/`expires` arguments prove.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkCheck {
    /// Correct signature, not expired.
    Valid,
    /// Correct signature for an expiry in the past (nginx: `$secure_link = "0"`, 410).
    Expired,
    /// Missing, malformed or wrong (nginx: `$secure_link = ""`, 403).
    Invalid,
}

/// The signature of `uri` valid until `expires` (Unix seconds), unpadded base64url.
pub fn sign(secret: &str, uri: &str, expires: u64) -> String {
    URL_SAFE_NO_PAD.encode(digest(secret, uri.as_bytes(), expires.to_string().as_bytes()))
}

/// `uri?md5=<sig>&expires=<expires>`: the URL the API hands out.
pub fn signed_path(secret: &str, uri: &str, expires: u64) -> String {
    format!("{uri}?md5={}&expires={expires}", sign(secret, uri, expires))
}

/// Checks the raw (not percent-decoded) `md5` and `expires` query arguments
/// for the decoded, normalised request path `uri` at time `now`.
pub fn verify(secret: &str, uri: &[u8], md5: Option<&[u8]>, expires: Option<&[u8]>, now: u64) -> LinkCheck {
    let (Some(md5), Some(expires_raw)) = (md5, expires) else {
        return LinkCheck::Invalid;
    };
    let Some(expires) = parse_expires(expires_raw) else {
        return LinkCheck::Invalid;
    };
    let Some(given) = decode_signature(md5) else {
        return LinkCheck::Invalid;
    };
    if given != digest(secret, uri, expires_raw) {
        return LinkCheck::Invalid;
    }
    if expires < now {
        LinkCheck::Expired
    } else {
        LinkCheck::Valid
    }
}

/// The first value of query argument `name` (matched case-insensitively, as
/// nginx's `$arg_` variables are), still percent-encoded.
pub fn query_arg<'q>(query: &'q [u8], name: &[u8]) -> Option<&'q [u8]> {
    query.split(|&b| b == b'&').find_map(|pair| {
        let (key, value) = match pair.iter().position(|&b| b == b'=') {
            Some(eq) => (&pair[..eq], &pair[eq + 1..]),
            None => (pair, &pair[pair.len()..]),
        };
        key.eq_ignore_ascii_case(name).then_some(value)
    })
}

fn digest(secret: &str, uri: &[u8], expires: &[u8]) -> [u8; 16] {
    let mut hasher = Md5::new();
    hasher.update(expires);
    hasher.update(uri);
    hasher.update(b" ");
    hasher.update(secret.as_bytes());
    hasher.finalize().into()
}

/// nginx's `ngx_atotm`: one or more decimal digits, positive, no overflow.
fn parse_expires(raw: &[u8]) -> Option<u64> {
    if raw.is_empty() || !raw.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let value: u64 = std::str::from_utf8(raw).ok()?.parse().ok()?;
    (value > 0 && value <= i64::MAX as u64).then_some(value)
}

/// nginx accepts at most 24 characters, stops at the first `=` (so padding is
/// optional) and needs exactly 16 decoded bytes.
fn decode_signature(raw: &[u8]) -> Option<[u8; 16]> {
    if raw.len() > 24 {
        return None;
    }
    let significant = raw.iter().position(|&b| b == b'=').map_or(raw, |eq| &raw[..eq]);
    let decoded = URL_SAFE_NO_PAD
        .decode(significant)
        .or_else(|_| URL_SAFE.decode(significant))
        .ok()?;
    decoded.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SECRET: &str = "secret";

    #[test]
    fn signature_matches_nginx_secure_link_md5() {
        // base64url(md5("1700000000/audio/a.mp3 secret")), computed independently.
        assert_eq!(sign(SECRET, "/audio/a.mp3", 1_700_000_000), "pWy80ALqytXkgbK9uMxikQ");
    }

    #[test]
    fn padding_is_optional_and_ignored_after_the_first_equals_sign() {
        let uri = b"/audio/a.mp3";
        for sig in [
            "pWy80ALqytXkgbK9uMxikQ",
            "pWy80ALqytXkgbK9uMxikQ==",
            "pWy80ALqytXkgbK9uMxikQ=x",
        ] {
            assert_eq!(
                verify(SECRET, uri, Some(sig.as_bytes()), Some(b"1700000000"), 1),
                LinkCheck::Valid,
                "{sig}"
            );
        }
    }

    #[test]
    fn expiry_is_checked_only_after_the_signature() {
        let sig = sign(SECRET, "/audio/a.mp3", 100);
        let check = |now| verify(SECRET, b"/audio/a.mp3", Some(sig.as_bytes()), Some(b"100"), now);
        assert_eq!(check(100), LinkCheck::Valid, "expires is inclusive, as in nginx");
        assert_eq!(check(101), LinkCheck::Expired);
        assert_eq!(
            verify(SECRET, b"/audio/b.mp3", Some(sig.as_bytes()), Some(b"100"), 101),
            LinkCheck::Invalid
        );
    }

    #[test]
    fn malformed_arguments_are_invalid() {
        let sig = sign(SECRET, "/audio/a.mp3", 100);
        let sig = Some(sig.as_bytes());
        let uri = b"/audio/a.mp3";
        assert_eq!(verify(SECRET, uri, None, Some(b"100"), 0), LinkCheck::Invalid);
        assert_eq!(verify(SECRET, uri, sig, None, 0), LinkCheck::Invalid);
        for expires in [
            &b""[..],
            b"0",
            b"-100",
            b"+100",
            b"100 ",
            b"1e3",
            b"99999999999999999999",
        ] {
            assert_eq!(
                verify(SECRET, uri, sig, Some(expires), 0),
                LinkCheck::Invalid,
                "{expires:?}"
            );
        }
        for bad in [&b""[..], b"!!!!", b"pWy80ALqytXkgbK9uMxikQAAAAAAA", b"pWy80ALqytXk"] {
            assert_eq!(verify(SECRET, uri, Some(bad), Some(b"100"), 0), LinkCheck::Invalid);
        }
    }

    #[test]
    fn query_arg_takes_the_first_match_case_insensitively() {
        let query = b"x=1&MD5=abc&md5=def&expires&e=";
        assert_eq!(query_arg(query, b"md5"), Some(&b"abc"[..]));
        assert_eq!(query_arg(query, b"expires"), Some(&b""[..]));
        assert_eq!(query_arg(query, b"missing"), None);
    }

    proptest! {
        #[test]
        fn what_is_signed_verifies_until_it_expires(uri in "/audio/[a-z0-9/._-]{1,40}", expires in 1u64..4_000_000_000, now in 0u64..4_000_000_000) {
            let sig = sign(SECRET, &uri, expires);
            let want = if expires < now { LinkCheck::Expired } else { LinkCheck::Valid };
            prop_assert_eq!(verify(SECRET, uri.as_bytes(), Some(sig.as_bytes()), Some(expires.to_string().as_bytes()), now), want);
            prop_assert_eq!(verify("other", uri.as_bytes(), Some(sig.as_bytes()), Some(expires.to_string().as_bytes()), now), LinkCheck::Invalid);
        }

        #[test]
        fn arbitrary_arguments_never_panic(md5 in proptest::collection::vec(any::<u8>(), 0..40), expires in proptest::collection::vec(any::<u8>(), 0..30)) {
            let _ = verify(SECRET, b"/audio/a.mp3", Some(&md5), Some(&expires), 0);
        }
    }
}
