//! Content types of the audio formats the edge serves, by extension.

/// The `Content-Type` for a lower-case extension; unknown but allowed
/// extensions are served as opaque bytes.
pub fn content_type(extension: &str) -> &'static str {
    match extension {
        "mp3" => "audio/mpeg",
        "m4a" | "mp4" => "audio/mp4",
        "aac" => "audio/aac",
        "wav" => "audio/wav",
        "flac" => "audio/flac",
        "ogg" | "oga" => "audio/ogg",
        "opus" => "audio/ogg; codecs=opus",
        "webm" | "weba" => "audio/webm",
        _ => "application/octet-stream",
    }
}

/// The extensions served by default: every audio type above.
pub const DEFAULT_EXTENSIONS: &str = "mp3,m4a,mp4,aac,wav,flac,ogg,oga,opus,webm,weba";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_extension_has_an_audio_type() {
        for ext in DEFAULT_EXTENSIONS.split(',') {
            assert!(content_type(ext).starts_with("audio/"), "{ext}");
        }
        assert_eq!(content_type("opus"), "audio/ogg; codecs=opus");
        assert_eq!(content_type("weba"), "audio/webm");
        assert_eq!(content_type("exe"), "application/octet-stream");
    }
}
