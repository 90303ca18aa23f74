//! The rules of a room's chat and reactions: what a message may hold and
//! which reactions there are (how fast one may
//! send them is the chat flood limit's business).

/// The longest message, in characters.
pub const MAX_MESSAGE_CHARS: usize = 500;
/// The reactions to what plays: a fixed set, so that a reaction is a
/// word of the room's language, not a message in disguise.
pub const REACTIONS: [&str; 6] = ["👍", "❤️", "🔥", "😂", "👏", "🎉"];

/// Why a message is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    Empty,
    TooLong,
    Hidden,
}

impl Refusal {
    pub fn sentence(&self) -> String {
        match self {
            Self::Empty => "Write something first.".into(),
            Self::TooLong => format!("A message holds at most {MAX_MESSAGE_CHARS} characters."),
            Self::Hidden => "A message may not contain control characters or direction overrides.".into(),
        }
    }
}

/// The message as it is kept: trimmed, one line, within the length.
pub fn message(text: &str) -> Result<String, Refusal> {
    let text = text.trim();
    if text.is_empty() {
        return Err(Refusal::Empty);
    }
    if text.chars().count() > MAX_MESSAGE_CHARS {
        return Err(Refusal::TooLong);
    }
    if text
        .chars()
        .any(|c| c.is_control() || crate::domain::text::is_bidi_control(c))
    {
        return Err(Refusal::Hidden);
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_trimmed_bounded_and_shows_what_it_says() {
        assert_eq!(message("  hello  "), Ok("hello".into()));
        assert_eq!(message(" \t "), Err(Refusal::Empty));
        assert_eq!(message(&"é".repeat(500)).map(|m| m.chars().count()), Ok(500));
        assert_eq!(message(&"é".repeat(501)), Err(Refusal::TooLong));
        assert_eq!(message("two\nlines"), Err(Refusal::Hidden));
        assert_eq!(message("evil\u{202E}txt"), Err(Refusal::Hidden));
        assert_eq!(
            message("שלום \u{200F}"),
            Ok("שלום \u{200F}".into()),
            "a plain direction mark stays"
        );
    }
}
