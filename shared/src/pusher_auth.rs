//! The two signatures of the Pusher Channels protocol.
//!
//! * Channel authorisation: a client may subscribe to `private-…` and
//!   `presence-…` channels only with `auth = "<key>:<hex HMAC-SHA256(secret,
//!   "<socket_id>:<channel>[:<channel_data>]")>"`, issued by the application's
//!   auth endpoint.
//! * HTTP API requests: `auth_signature = hex HMAC-SHA256(secret,
//!   "<METHOD>\n<path>\n<query>")`, the query being every other parameter,
//!   keys lower-cased, sorted, `key=value` joined with `&`; a body is bound by
//!   `body_md5`, and `auth_timestamp` must be within ten minutes.
//!
//! The hub verifies both; tests and load generators sign with the same code.

use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// How far `auth_timestamp` may be from the server's clock.
pub const MAX_CLOCK_SKEW_SECS: i64 = 600;

fn mac(secret: &str, parts: &[&str], separator: &str) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            mac.update(separator.as_bytes());
        }
        mac.update(part.as_bytes());
    }
    mac
}

fn channel_parts<'a>(socket_id: &'a str, channel: &'a str, channel_data: Option<&'a str>) -> Vec<&'a str> {
    let mut parts = vec![socket_id, channel];
    parts.extend(channel_data);
    parts
}

/// `"<key>:<signature>"` for a subscription of `socket_id` to `channel`.
pub fn sign_channel(key: &str, secret: &str, socket_id: &str, channel: &str, channel_data: Option<&str>) -> String {
    let signature = mac(secret, &channel_parts(socket_id, channel, channel_data), ":")
        .finalize()
        .into_bytes();
    format!("{key}:{}", hex::encode(signature))
}

/// Whether `auth` is the signature of this subscription, compared in constant time.
pub fn verify_channel(
    key: &str,
    secret: &str,
    socket_id: &str,
    channel: &str,
    channel_data: Option<&str>,
    auth: &str,
) -> bool {
    let Some((given_key, signature)) = auth.split_once(':') else {
        return false;
    };
    let Ok(signature) = hex::decode(signature) else {
        return false;
    };
    given_key == key
        && mac(secret, &channel_parts(socket_id, channel, channel_data), ":")
            .verify_slice(&signature)
            .is_ok()
}

/// Why an HTTP API request is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum RequestError {
    Missing(&'static str),
    UnknownKey,
    UnsupportedVersion,
    StaleTimestamp,
    BodyMismatch,
    BadSignature,
}

impl std::fmt::Display for RequestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Missing(name) => write!(f, "missing {name}"),
            Self::UnknownKey => f.write_str("unknown auth_key"),
            Self::UnsupportedVersion => f.write_str("auth_version must be 1.0"),
            Self::StaleTimestamp => write!(
                f,
                "auth_timestamp is more than {MAX_CLOCK_SKEW_SECS} s from the server's clock"
            ),
            Self::BodyMismatch => f.write_str("body_md5 does not match the body"),
            Self::BadSignature => f.write_str("invalid auth_signature"),
        }
    }
}

fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex_pair = bytes.get(i + 1..i + 3).and_then(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|s| u8::from_str_radix(s, 16).ok())
        });
        match (bytes[i], hex_pair) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The query's parameters, keys lower-cased and values decoded.
pub fn query_pairs(raw_query: &str) -> Vec<(String, String)> {
    raw_query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key).to_ascii_lowercase(), percent_decode(value))
        })
        .collect()
}

/// `"<METHOD>\n<path>\n<sorted query without auth_signature>"`.
pub fn string_to_sign(method: &str, path: &str, pairs: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = pairs.iter().filter(|(k, _)| k != "auth_signature").collect();
    sorted.sort();
    let query: Vec<String> = sorted.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{}\n{path}\n{}", method.to_ascii_uppercase(), query.join("&"))
}

pub fn body_md5(body: &[u8]) -> String {
    hex::encode(Md5::digest(body))
}

/// Verifies a signed HTTP API request against the application's key and secret.
pub fn verify_request(
    key: &str,
    secret: &str,
    method: &str,
    path: &str,
    raw_query: &str,
    body: &[u8],
    now: i64,
) -> Result<(), RequestError> {
    verify_query(key, secret, method, path, raw_query, now)?;
    verify_body(raw_query, body)
}

/// Verifies everything of a signed request but its body: the key, the
/// version, the timestamp and the signature, which covers the `body_md5`
/// the query claims. A server checks this before it reads a body at all,
/// so that an unsigned request cannot make it wait for one.
pub fn verify_query(
    key: &str,
    secret: &str,
    method: &str,
    path: &str,
    raw_query: &str,
    now: i64,
) -> Result<(), RequestError> {
    let pairs = query_pairs(raw_query);
    let get = |name: &'static str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .ok_or(RequestError::Missing(name))
    };
    if get("auth_key")? != key {
        return Err(RequestError::UnknownKey);
    }
    if get("auth_version")? != "1.0" {
        return Err(RequestError::UnsupportedVersion);
    }
    let timestamp: i64 = get("auth_timestamp")?
        .parse()
        .map_err(|_| RequestError::StaleTimestamp)?;
    if now.abs_diff(timestamp) > MAX_CLOCK_SKEW_SECS.unsigned_abs() {
        return Err(RequestError::StaleTimestamp);
    }
    let signature = hex::decode(get("auth_signature")?).map_err(|_| RequestError::BadSignature)?;
    mac(secret, &[&string_to_sign(method, path, &pairs)], "")
        .verify_slice(&signature)
        .map_err(|_| RequestError::BadSignature)
}

/// Whether `body` is the one whose digest the (verified) query names.
pub fn verify_body(raw_query: &str, body: &[u8]) -> Result<(), RequestError> {
    if body.is_empty() {
        return Ok(());
    }
    let pairs = query_pairs(raw_query);
    let claimed = pairs
        .iter()
        .find(|(k, _)| k == "body_md5")
        .map(|(_, v)| v.as_str())
        .ok_or(RequestError::Missing("body_md5"))?;
    if !claimed.eq_ignore_ascii_case(&body_md5(body)) {
        return Err(RequestError::BodyMismatch);
    }
    Ok(())
}

/// The signed query string of a request, as Pusher's server libraries build it.
pub fn sign_request(
    key: &str,
    secret: &str,
    method: &str,
    path: &str,
    params: &[(&str, &str)],
    body: &[u8],
    timestamp: i64,
) -> String {
    let mut pairs: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
        .collect();
    pairs.push(("auth_key".into(), key.into()));
    pairs.push(("auth_timestamp".into(), timestamp.to_string()));
    pairs.push(("auth_version".into(), "1.0".into()));
    if !body.is_empty() {
        pairs.push(("body_md5".into(), body_md5(body)));
    }
    let signature = hex::encode(
        mac(secret, &[&string_to_sign(method, path, &pairs)], "")
            .finalize()
            .into_bytes(),
    );
    pairs.sort();
    let mut query: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    query.push(format!("auth_signature={signature}"));
    query.join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    // The worked example of Pusher's authentication documentation.
    const KEY: &str = "278d425bdf160c739803";
    const SECRET: &str = "7ad3773142a6692b25b8";

    #[test]
    fn private_channel_signature_matches_pushers_documented_example() {
        let auth = sign_channel(KEY, SECRET, "1234.1234", "private-foobar", None);
        assert_eq!(
            auth,
            "278d425bdf160c739803:58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4"
        );
        assert!(verify_channel(KEY, SECRET, "1234.1234", "private-foobar", None, &auth));
        assert!(!verify_channel(KEY, SECRET, "1234.1235", "private-foobar", None, &auth));
        assert!(!verify_channel(KEY, SECRET, "1234.1234", "private-foobaz", None, &auth));
        assert!(!verify_channel(
            "other",
            SECRET,
            "1234.1234",
            "private-foobar",
            None,
            &auth
        ));
        assert!(!verify_channel(
            KEY,
            SECRET,
            "1234.1234",
            "private-foobar",
            None,
            "nonsense"
        ));
    }

    #[test]
    fn presence_signature_covers_the_channel_data() {
        let data = r#"{"user_id":10,"user_info":{"name":"Mr. Channels"}}"#;
        let auth = sign_channel(KEY, SECRET, "1234.1234", "presence-foobar", Some(data));
        assert_eq!(
            auth,
            "278d425bdf160c739803:31935e7d86dba64c2a90aed31fdc61869f9b22ba9d8863bba239c03ca481bc80"
        );
        let forged = r#"{"user_id":11,"user_info":{"name":"Mr. Channels"}}"#;
        assert!(!verify_channel(
            KEY,
            SECRET,
            "1234.1234",
            "presence-foobar",
            Some(forged),
            &auth
        ));
    }

    #[test]
    fn a_signed_request_verifies_and_any_change_breaks_it() {
        let body = br#"{"name":"foo","channels":["project-3"],"data":"{\"some\":\"data\"}"}"#;
        let now = 1_353_088_179;
        let query = sign_request(KEY, SECRET, "POST", "/apps/3/events", &[], body, now);
        assert_eq!(
            verify_request(KEY, SECRET, "POST", "/apps/3/events", &query, body, now),
            Ok(())
        );
        assert_eq!(
            verify_request(KEY, SECRET, "POST", "/apps/3/events", &query, b"{}", now),
            Err(RequestError::BodyMismatch)
        );
        assert_eq!(
            verify_request(KEY, SECRET, "POST", "/apps/4/events", &query, body, now),
            Err(RequestError::BadSignature)
        );
        assert_eq!(
            verify_request(KEY, "wrong", "POST", "/apps/3/events", &query, body, now),
            Err(RequestError::BadSignature)
        );
        assert_eq!(
            verify_request(KEY, SECRET, "POST", "/apps/3/events", &query, body, now + 601),
            Err(RequestError::StaleTimestamp)
        );
        let unsigned = query.split("&auth_signature").next().unwrap();
        assert_eq!(
            verify_request(KEY, SECRET, "POST", "/apps/3/events", unsigned, body, now),
            Err(RequestError::Missing("auth_signature"))
        );
    }

    #[test]
    fn query_parameters_are_signed_sorted_and_decoded() {
        let query = sign_request(
            KEY,
            SECRET,
            "GET",
            "/apps/3/channels",
            &[("filter_by_prefix", "presence-"), ("info", "user_count")],
            b"",
            1,
        );
        let reordered: Vec<&str> = query.split('&').rev().collect();
        let encoded = reordered.join("&").replace("presence-", "presence%2D");
        assert_eq!(
            verify_request(KEY, SECRET, "GET", "/apps/3/channels", &encoded, b"", 1),
            Ok(())
        );
    }

    proptest::proptest! {
        /// Any query string and body: judged, never a panic, and only a
        /// signature made with the secret passes.
        #[test]
        fn any_query_is_judged(query in "[ -~]{0,200}", body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64), now in proptest::prelude::any::<i64>()) {
            proptest::prop_assert!(verify_request(KEY, SECRET, "POST", "/apps/3/events", &query, &body, now).is_err());
        }

        /// Whatever the timestamp a client claims, far from now is stale.
        #[test]
        fn any_timestamp_is_judged(timestamp in proptest::prelude::any::<i64>(), now in proptest::prelude::any::<i64>()) {
            let query = sign_request(KEY, SECRET, "GET", "/apps/3/channels", &[], b"", timestamp);
            let verdict = verify_request(KEY, SECRET, "GET", "/apps/3/channels", &query, b"", now);
            let fresh = (i128::from(now) - i128::from(timestamp)).abs() <= i128::from(MAX_CLOCK_SKEW_SECS);
            proptest::prop_assert_eq!(verdict.is_ok(), fresh);
        }
    }
}
