//! Text that others will see: no characters that hide or disguise it.
//!
//! PostgreSQL refuses NUL in text (SQLSTATE 22021), so a NUL that reached a
//! statement was a 500 — seven anonymous requests then raised the "server
//! errors" alert. NUL is refused where text enters: JSON bodies
//! ([`has_nul_escape`], the only way JSON can carry one) and query strings
//! ([`has_nul_in_query`]). Names and descriptions shown to other users also
//! refuse control characters and the bidirectional overrides and isolates
//! (U+202A–U+202E, U+2066–U+2069) that make text read other than it is
//! stored ("Trojan Source"); the plain direction marks (U+200E, U+200F,
//! U+061C) stay allowed, right-to-left names need them.

use crate::domain::failure::Failure;

/// Whether `c` reorders or disguises the text around it.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Whether `c` may not appear in a name shown to others. Descriptions keep
/// their line breaks and tabs.
fn hidden(c: char, multiline: bool) -> bool {
    is_bidi_control(c) || (c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t')))
}

/// Refuses a one-line name with hidden characters, as a 422 on `field`.
pub fn name(field: &str, text: &str) -> Result<(), Failure> {
    refuse_hidden(field, text, false)
}

/// Refuses a description with hidden characters (line breaks are fine).
pub fn description(field: &str, text: &str) -> Result<(), Failure> {
    refuse_hidden(field, text, true)
}

fn refuse_hidden(field: &str, text: &str, multiline: bool) -> Result<(), Failure> {
    if text.chars().any(|c| hidden(c, multiline)) {
        return Err(Failure::field(
            field,
            "The text may not contain control characters or direction overrides.",
        ));
    }
    Ok(())
}

/// The same text without hidden characters (for names taken from files).
pub fn strip_hidden(text: &str) -> String {
    text.chars().filter(|&c| !hidden(c, false)).collect()
}

/// Whether a JSON document carries a NUL: a `\u0000` escape preceded by an
/// odd number of backslashes (an even number is an escaped backslash
/// followed by the letters `u0000`). Raw control bytes are already invalid JSON.
pub fn has_nul_escape(json: &[u8]) -> bool {
    json.windows(6).enumerate().any(|(at, window)| {
        window == b"\\u0000" && json[..at].iter().rev().take_while(|&&b| b == b'\\').count() % 2 == 0
    })
}

/// Whether a raw query string decodes to a NUL anywhere (`%00`).
pub fn has_nul_in_query(query: &str) -> bool {
    query.as_bytes().windows(3).any(|w| w == b"%00")
}

/// The 422 for a NUL in `field`.
pub fn nul_refused(field: &str) -> Failure {
    Failure::field(field, "The text may not contain NUL characters.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_escapes_are_found_and_escaped_backslashes_are_not() {
        assert!(has_nul_escape(br#"{"name":"a\u0000b"}"#));
        assert!(has_nul_escape(br#"{"name":"\\\u0000"}"#));
        assert!(!has_nul_escape(br#"{"name":"\\u0000"}"#));
        assert!(!has_nul_escape(br#"{"name":"u0000"}"#));
        assert!(has_nul_in_query("search=a%00b"));
        assert!(!has_nul_in_query("search=a%200"));
    }

    #[test]
    fn names_refuse_overrides_and_controls_but_keep_direction_marks() {
        assert!(name("name", "evil\u{202E}gpj.exe").is_err());
        assert!(name("name", "a\u{2067}b").is_err());
        assert!(name("name", "line\nbreak").is_err());
        assert!(description("description", "line\nbreak").is_ok());
        assert!(name("name", "שלום\u{200F} room").is_ok());
        assert_eq!(strip_hidden("a\u{202E}b\u{7}c"), "abc");
    }

    proptest::proptest! {
        /// serde_json agrees: a document has a NUL escape exactly when some
        /// string in it holds a NUL.
        #[test]
        fn the_scan_agrees_with_the_parser(text in "[a\\\\u0 \"]{0,16}") {
            let document = serde_json::json!({ "k": text }).to_string();
            let value: serde_json::Value = serde_json::from_str(&document).unwrap();
            let holds_nul = value["k"].as_str().unwrap().contains('\0');
            proptest::prop_assert_eq!(has_nul_escape(document.as_bytes()), holds_nul);
            let raw = format!("{{\"k\":\"{text}\"}}");
            if let Ok(value) = serde_json::from_str::<serde_json::Value>(&raw) {
                proptest::prop_assert_eq!(has_nul_escape(raw.as_bytes()), value["k"].as_str().unwrap().contains('\0'));
            }
        }
    }
}
