//! Is this file really audio, and how long is it? Decided by content, never
//! by the file name.
//!
//! The container is recognised by its magic bytes, then symphonia demuxes
//! every packet to measure the real duration: a file whose header promises
//! more than it holds (a truncated upload) or that holds no audio at all is
//! refused, whatever its extension says.

use std::fs::File;
use std::path::Path;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::{MediaSourceStream, MediaSourceStreamOptions};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

/// What an upload turned out to be.
#[derive(Clone, Debug, PartialEq)]
pub struct Audio {
    pub extension: &'static str,
    pub mime_type: &'static str,
    pub duration_ms: i64,
}

/// Why it is not acceptable, in words for the uploader.
#[derive(Debug, PartialEq, Eq)]
pub struct Rejected(pub String);

/// The container by its first bytes.
fn container(head: &[u8]) -> Option<(&'static str, &'static str)> {
    match head {
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'A', b'V', b'E', ..] => Some(("wav", "audio/wav")),
        [b'f', b'L', b'a', b'C', ..] => Some(("flac", "audio/flac")),
        [b'O', b'g', b'g', b'S', ..] => {
            if head.windows(8).any(|w| w == b"OpusHead") {
                Some(("opus", "audio/ogg; codecs=opus"))
            } else {
                Some(("ogg", "audio/ogg"))
            }
        }
        [_, _, _, _, b'f', b't', b'y', b'p', ..] => Some(("m4a", "audio/mp4")),
        [b'I', b'D', b'3', ..] => Some(("mp3", "audio/mpeg")),
        [0xFF, second, ..] if second & 0xE0 == 0xE0 => Some(("mp3", "audio/mpeg")),
        _ => None,
    }
}

/// Probes `path`; blocking, run it on the blocking pool.
pub fn probe(path: &Path) -> Result<Audio, Rejected> {
    let not_audio = || Rejected("The file is not a supported audio file (MP3, M4A, WAV, FLAC, OGG or Opus).".into());
    let mut head = [0u8; 64];
    let read = {
        use std::io::Read;
        let mut file = File::open(path).map_err(|_| not_audio())?;
        file.read(&mut head).map_err(|_| not_audio())?
    };
    if read == 0 {
        return Err(Rejected("The file is empty.".into()));
    }
    let (extension, mime_type) = container(&head[..read]).ok_or_else(not_audio)?;
    let file = File::open(path).map_err(|_| not_audio())?;
    let stream = MediaSourceStream::new(Box::new(file), MediaSourceStreamOptions::default());
    let mut hint = Hint::new();
    hint.with_extension(extension);
    let probed = symphonia::default::get_probe()
        .format(&hint, stream, &FormatOptions::default(), &MetadataOptions::default())
        .map_err(|_| not_audio())?;
    let mut format = probed.format;
    let track = format.default_track().ok_or_else(not_audio)?.clone();
    let params = &track.codec_params;
    let sample_rate = params
        .sample_rate
        .or_else(|| (extension == "opus").then_some(48_000))
        .ok_or_else(not_audio)?;
    let time_base = params.time_base;
    let declared = params.n_frames;

    // Walk every packet: the end of the last one is the real length.
    let mut end_ts: u64 = 0;
    let mut packets = 0u64;
    loop {
        match format.next_packet() {
            Ok(packet) if packet.track_id() == track.id => {
                packets += 1;
                end_ts = end_ts.max(packet.ts() + packet.dur());
            }
            Ok(_) => {}
            Err(symphonia::core::errors::Error::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(symphonia::core::errors::Error::ResetRequired) => break,
            Err(_) => return Err(Rejected("The audio data is corrupt.".into())),
        }
    }
    if packets == 0 || end_ts == 0 {
        return Err(Rejected("The file holds no audio.".into()));
    }
    if let Some(declared) = declared {
        // A header that promises much more than the stream holds: truncated.
        if declared > 0 && end_ts * 10 < declared * 9 {
            return Err(Rejected(
                "The file is truncated: it holds less audio than its header declares.".into(),
            ));
        }
    }
    let duration_ms = match time_base {
        Some(tb) => {
            let time = tb.calc_time(end_ts);
            time.seconds as i64 * 1000 + (time.frac * 1000.0).round() as i64
        }
        None => (end_ts as f64 * 1000.0 / f64::from(sample_rate)).round() as i64,
    };
    if duration_ms <= 0 {
        return Err(Rejected("The file holds no audio.".into()));
    }
    Ok(Audio {
        extension,
        mime_type,
        duration_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/fixtures/audio")
            .join(name)
    }

    #[test]
    fn every_accepted_format_is_recognised_with_its_duration() {
        for (name, extension, low, high) in [
            ("tone-1500ms.mp3", "mp3", 1_450, 1_600),
            ("tone-1500ms-id3.mp3", "mp3", 1_450, 1_600),
            ("tone-1500ms.m4a", "m4a", 1_450, 1_600),
            ("tone-1500ms.wav", "wav", 1_490, 1_510),
            ("tone-1500ms.flac", "flac", 1_490, 1_510),
            ("tone-1500ms.ogg", "ogg", 1_450, 1_550),
            ("tone-1500ms.opus", "opus", 1_450, 1_600),
        ] {
            let audio = probe(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e:?}"));
            assert_eq!(audio.extension, extension, "{name}");
            assert!(
                (low..=high).contains(&audio.duration_ms),
                "{name}: {} ms",
                audio.duration_ms
            );
        }
    }

    #[test]
    fn fakes_truncations_and_empty_files_are_refused() {
        assert!(probe(&fixture("fake-text.mp3")).is_err());
        assert!(probe(&fixture("truncated.mp3")).is_err());
        let dir = std::env::temp_dir().join(format!("probe-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.mp3");
        std::fs::write(&empty, b"").unwrap();
        assert_eq!(probe(&empty), Err(Rejected("The file is empty.".into())));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
