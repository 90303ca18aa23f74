//! The one line a probe child prints, and how the parent reads it back.
//!
//! `ok <extension> <duration_ms>` or `rejected <message>`: plain text, so
//! that the parent needs no parser beyond `split_once` for what an isolated
//! (and possibly compromised) child says, and refuses anything else.

use crate::{Audio, Rejected, CONTAINERS};

/// The line for `result`, ending in a newline.
pub fn encode(result: &Result<Audio, Rejected>) -> String {
    match result {
        Ok(audio) => format!("ok {} {}\n", audio.extension, audio.duration_ms),
        Err(Rejected(message)) => format!("rejected {}\n", message.replace('\n', " ")),
    }
}

/// What the child said, or `None` when its output is not a verdict (it
/// died, was killed, or printed something else).
pub fn decode(output: &str) -> Option<Result<Audio, Rejected>> {
    let line = output.strip_suffix('\n')?;
    if line.contains('\n') {
        return None;
    }
    match line.split_once(' ')? {
        ("ok", rest) => {
            let (extension, duration) = rest.split_once(' ')?;
            let (extension, mime_type) = CONTAINERS.into_iter().find(|(e, _)| *e == extension)?;
            let duration_ms: i64 = duration.parse().ok().filter(|&ms| ms > 0)?;
            Some(Ok(Audio {
                extension,
                mime_type,
                duration_ms,
            }))
        }
        ("rejected", message) if !message.is_empty() && message.len() <= 200 => Some(Err(Rejected(message.to_owned()))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_verdict_reads_back_as_itself() {
        for (extension, mime_type) in CONTAINERS {
            let ok = Ok(Audio {
                extension,
                mime_type,
                duration_ms: 1_536,
            });
            assert_eq!(decode(&encode(&ok)), Some(ok));
        }
        let rejected = Err(Rejected("The audio data is corrupt.".into()));
        assert_eq!(decode(&encode(&rejected)), Some(rejected));
    }

    #[test]
    fn anything_else_is_no_verdict() {
        for output in [
            "",
            "ok mp3 1500",
            "ok exe 10\n",
            "ok mp3 -4\n",
            "ok mp3 1\nok mp3 2\n",
            "thread panicked\n",
            "rejected \n",
        ] {
            assert_eq!(decode(output), None, "{output:?}");
        }
    }
}
