//! The JSON shapes clients are shown, with their OpenAPI schemas.
//!
//! The shapes are the compatibility contract of the Vue front end (see the
//! API spec and, for each field, the front-end file that reads it): field
//! names are fixed, extra fields are fine. Each resource is described once,
//! as a `Serialize` struct, so a field is added in one place. E-mail
//! addresses appear only in a user's own auth responses.

pub mod chat;
pub mod history;
pub mod moderation;
pub mod participants;
pub mod rooms;
pub mod tracks;
pub mod users;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::Value;

pub fn iso(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// ISO-8601 with milliseconds, as every timestamp of the API is written.
pub mod iso_format {
    use chrono::{DateTime, Utc};
    use serde::Serializer;

    pub fn serialize<S: Serializer>(time: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::iso(*time))
    }

    pub mod option {
        use chrono::{DateTime, Utc};
        use serde::Serializer;

        pub fn serialize<S: Serializer>(time: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
            match time {
                Some(time) => s.serialize_str(&super::super::iso(*time)),
                None => s.serialize_none(),
            }
        }
    }
}

/// A shape as a JSON value, for event payloads built around it.
pub fn to_value(shape: &impl Serialize) -> Value {
    serde_json::to_value(shape).unwrap_or(Value::Null)
}

/// Where a cover image is served: content-addressed, so the name is its URL.
/// Absolute, from the API's public origin (`API_PUBLIC_URL`): a front end
/// served from its own origin, with no `/api` proxy of its own, would load
/// a relative one from itself.
pub fn cover_url(api_url: &str, cover_path: Option<&str>) -> Option<String> {
    let file = cover_path?.rsplit('/').next()?;
    Some(format!("{api_url}/api/covers/{file}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cover_urls_name_the_content_addressed_file() {
        assert_eq!(
            cover_url("https://spotik.example", Some("covers/ab/cd/abcd.png")).as_deref(),
            Some("https://spotik.example/api/covers/abcd.png")
        );
        assert_eq!(cover_url("https://spotik.example", None), None);
    }
}
