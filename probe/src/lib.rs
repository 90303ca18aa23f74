//! Is this file really audio, and how long is it? Decided by content, never
//! by the file name.
//!
//! The container is recognised by its magic bytes, then symphonia demuxes
//! every packet to measure the real duration, decoding a sample of them
//! across the file: a file whose header promises more than it holds (a
//! truncated upload), that holds no audio at all, or whose frames hold
//! nothing but digital silence (48 MiB of empty frames made a 14-hour
//! "track") is refused, whatever its extension says.
//!
//! Uploads are hostile input and symphonia can panic on some of them (its
//! ID3v2 reader reaches an `unreachable!()` on a crafted extended header,
//! upstream issue #485). So nothing here reads metadata: leading ID3v2 tags
//! are measured and skipped by [`skip_id3v2`], and the probe registers the
//! container readers only. What is left is still run by the API in a child
//! process of its own (see [`verdict`] for the line it prints), so that a
//! panic, a loop or a memory bomb found later ends that child, not the server.

mod sample;
pub mod verdict;

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use symphonia::core::common::Limit;
use symphonia::core::formats::probe::{Hint, Probe};
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::{MediaSource, MediaSourceStream, MediaSourceStreamOptions};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::units::Timestamp;
use symphonia::default::formats;

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

/// The accepted containers: extension and MIME type.
pub const CONTAINERS: [(&str, &str); 6] = [
    ("wav", "audio/wav"),
    ("flac", "audio/flac"),
    ("opus", "audio/ogg; codecs=opus"),
    ("ogg", "audio/ogg"),
    ("m4a", "audio/mp4"),
    ("mp3", "audio/mpeg"),
];

/// The container by its first bytes (after any ID3v2 tags).
fn container(head: &[u8], tagged: bool) -> Option<(&'static str, &'static str)> {
    match head {
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'A', b'V', b'E', ..] => Some(CONTAINERS[0]),
        [b'f', b'L', b'a', b'C', ..] => Some(CONTAINERS[1]),
        [b'O', b'g', b'g', b'S', ..] => {
            if head.windows(8).any(|w| w == b"OpusHead") {
                Some(CONTAINERS[2])
            } else {
                Some(CONTAINERS[3])
            }
        }
        [_, _, _, _, b'f', b't', b'y', b'p', ..] => Some(CONTAINERS[4]),
        [0xFF, second, ..] if second & 0xE0 == 0xE0 => Some(CONTAINERS[5]),
        // A tag may be followed by padding before the first frame: the
        // MPEG reader looks for the frame itself.
        _ if tagged => Some(CONTAINERS[5]),
        _ => None,
    }
}

/// How much of the start of a file is read to recognise it.
const HEAD_BYTES: usize = 64 * 1024;

/// Whether a WAV file's `fmt ` chunk (within `head`) describes audio at
/// all: symphonia's RIFF reader panics on a sample rate of zero
/// (`TimeBase::new`, found by the `audio_probe` fuzz target), and zero
/// channels, block alignment or sample size describe nothing either.
fn wav_format_sane(head: &[u8]) -> bool {
    let u16_at = |at: usize| head.get(at..at + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32_at = |at: usize| {
        head.get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let mut at = 12;
    while let (Some(tag), Some(len)) = (head.get(at..at + 4), u32_at(at + 4)) {
        let data = at + 8;
        if tag == b"fmt " {
            return len >= 16
                && [u16_at(data + 2), u16_at(data + 12), u16_at(data + 14)]
                    .iter()
                    .all(|v| v.is_some_and(|v| v > 0))
                && u32_at(data + 4).is_some_and(|rate| rate > 0);
        }
        // Chunks are padded to an even length.
        at = data.saturating_add(len as usize).saturating_add(len as usize & 1);
    }
    false
}

/// Boxes that hold other boxes.
const MP4_CONTAINERS: [&[u8; 4]; 11] = [
    b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf", b"mvex", b"moof", b"traf", b"udta",
];

/// Sample tables symphonia allocates by their declared entry count: the
/// bytes before the count, and the bytes of each entry.
const MP4_TABLES: [(&[u8; 4], u64, u64); 4] = [(b"stts", 4, 8), (b"stsc", 4, 12), (b"stco", 4, 4), (b"co64", 4, 8)];

/// Boxes walked at most, and how deep.
const MP4_MAX_BOXES: usize = 100_000;
const MP4_MAX_DEPTH: usize = 12;

/// Whether an MP4 file's boxes nest within each other and within the file,
/// and its sample tables hold as many entries as they declare. symphonia
/// reserves memory by declared counts and sizes before reading them: a
/// 19 KiB file whose `stts` declared four billion entries asked for 32 GiB
/// and aborted (found by the fuzz target).
fn mp4_boxes_sane<S: Read + Seek>(source: &mut S, start: u64, end: u64) -> bool {
    let mut boxes = 0;
    mp4_walk(source, start, end, 0, &mut boxes).unwrap_or(false)
}

fn mp4_walk<S: Read + Seek>(
    source: &mut S,
    mut at: u64,
    end: u64,
    depth: usize,
    boxes: &mut usize,
) -> std::io::Result<bool> {
    if depth > MP4_MAX_DEPTH {
        return Ok(false);
    }
    while at < end {
        *boxes += 1;
        if *boxes > MP4_MAX_BOXES || end - at < 8 {
            return Ok(false);
        }
        source.seek(SeekFrom::Start(at))?;
        let mut header = [0u8; 16];
        let read = read_up_to(source, &mut header)?;
        let kind: [u8; 4] = [header[4], header[5], header[6], header[7]];
        let (size, header_len) = match u32::from_be_bytes([header[0], header[1], header[2], header[3]]) {
            0 => (end - at, 8),
            1 if read >= 16 => (
                u64::from_be_bytes([
                    header[8], header[9], header[10], header[11], header[12], header[13], header[14], header[15],
                ]),
                16,
            ),
            1 => return Ok(false),
            size => (u64::from(size), 8),
        };
        if size < header_len || size > end - at {
            return Ok(false);
        }
        let body = at + header_len;
        let box_end = at + size;
        if MP4_CONTAINERS.contains(&&kind) {
            if !mp4_walk(source, body, box_end, depth + 1, boxes)? {
                return Ok(false);
            }
        } else if let Some((_, before, entry)) = MP4_TABLES.iter().find(|(name, ..)| **name == kind) {
            source.seek(SeekFrom::Start(body + before))?;
            let mut count = [0u8; 4];
            if read_up_to(source, &mut count)? < 4 {
                return Ok(false);
            }
            let declared = u64::from(u32::from_be_bytes(count)) * entry;
            if declared > box_end.saturating_sub(body + before + 4) {
                return Ok(false);
            }
        } else if &kind == b"stsz" {
            source.seek(SeekFrom::Start(body + 4))?;
            let mut fields = [0u8; 8];
            if read_up_to(source, &mut fields)? < 8 {
                return Ok(false);
            }
            let sample_size = u32::from_be_bytes([fields[0], fields[1], fields[2], fields[3]]);
            let count = u64::from(u32::from_be_bytes([fields[4], fields[5], fields[6], fields[7]]));
            if sample_size == 0 && count * 4 > box_end.saturating_sub(body + 12) {
                return Ok(false);
            }
        }
        at = box_end;
    }
    Ok(true)
}

/// Largest number of stacked ID3v2 tags skipped; more is not audio.
const MAX_ID3V2_TAGS: usize = 8;

/// Where the audio starts: past every ID3v2 tag at the front of `source`
/// (`ID3`, version, flags, a 28-bit syncsafe size, and a 10-byte footer
/// when flagged). `None` when a tag claims more bytes than the file holds.
pub fn skip_id3v2(source: &mut (impl Read + Seek), len: u64) -> std::io::Result<Option<u64>> {
    let mut offset = 0u64;
    for _ in 0..MAX_ID3V2_TAGS {
        source.seek(SeekFrom::Start(offset))?;
        let mut header = [0u8; 10];
        if read_up_to(source, &mut header)? < header.len() || &header[..3] != b"ID3" {
            return Ok(Some(offset));
        }
        let size = header[6..10]
            .iter()
            .fold(0u64, |size, byte| (size << 7) | u64::from(byte & 0x7F));
        let footer = if header[5] & 0x10 != 0 { 10 } else { 0 };
        offset += 10 + size + footer;
        if offset > len {
            return Ok(None);
        }
    }
    Ok(None)
}

fn read_up_to(source: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match source.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// A file seen from `start` on, as if its first bytes were not there.
struct Window<S> {
    inner: S,
    start: u64,
    len: u64,
    /// Said to the demuxer; see [`probe_source`] for why Ogg is not told.
    seekable: bool,
    /// How far into the window the demuxer has read, for [`Sampler`].
    read_to: Arc<AtomicU64>,
}

impl<S: Read> Read for Window<S> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read_to.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl<S: Seek> Seek for Window<S> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let absolute = match to {
            SeekFrom::Start(at) => self.inner.seek(SeekFrom::Start(self.start.saturating_add(at)))?,
            SeekFrom::End(by) => self.inner.seek(SeekFrom::End(by))?,
            SeekFrom::Current(by) => self.inner.seek(SeekFrom::Current(by))?,
        };
        if absolute < self.start {
            self.inner.seek(SeekFrom::Start(self.start))?;
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "seek before the audio",
            ));
        }
        self.read_to.store(absolute - self.start, Ordering::Relaxed);
        Ok(absolute - self.start)
    }
}

impl<S: Read + Seek + Send + Sync> MediaSource for Window<S> {
    fn is_seekable(&self) -> bool {
        self.seekable
    }

    fn byte_len(&self) -> Option<u64> {
        Some(self.len)
    }
}

/// The one container reader for `extension`, and no metadata reader (see
/// the module's comment). One reader only: a file recognised as MP3 by its
/// tag must not be handed to the Ogg reader because an `OggS` turns up
/// further on (the fuzz target found exactly that).
fn reader_for(extension: &str) -> &'static Probe {
    static PROBES: OnceLock<[Probe; 5]> = OnceLock::new();
    let probes = PROBES.get_or_init(|| {
        let mut probes: [Probe; 5] = Default::default();
        probes[0].register_format::<formats::WavReader<'_>>();
        probes[1].register_format::<formats::FlacReader<'_>>();
        probes[2].register_format::<formats::OggReader<'_>>();
        probes[3].register_format::<formats::IsoMp4Reader<'_>>();
        probes[4].register_format::<formats::MpaReader<'_>>();
        probes
    });
    match extension {
        "wav" => &probes[0],
        "flac" => &probes[1],
        "ogg" | "opus" => &probes[2],
        "m4a" => &probes[3],
        _ => &probes[4],
    }
}

fn not_audio() -> Rejected {
    Rejected("The file is not a supported audio file (MP3, M4A, WAV, FLAC, OGG or Opus).".into())
}

/// Probes the file at `path`; blocking. The API runs it in a child process
/// (`spotik-api probe-file`), tools and tests may call it directly.
pub fn probe(path: &Path) -> Result<Audio, Rejected> {
    let file = File::open(path).map_err(|_| not_audio())?;
    let len = file.metadata().map_err(|_| not_audio())?.len();
    probe_source(file, len)
}

/// Probes audio held in memory (the fuzz target's entry point).
pub fn probe_bytes(bytes: &[u8]) -> Result<Audio, Rejected> {
    probe_source(std::io::Cursor::new(bytes.to_vec()), bytes.len() as u64)
}

fn probe_source<S: Read + Seek + Send + Sync + 'static>(mut source: S, len: u64) -> Result<Audio, Rejected> {
    if len == 0 {
        return Err(Rejected("The file is empty.".into()));
    }
    let start = skip_id3v2(&mut source, len)
        .map_err(|_| not_audio())?
        .ok_or_else(not_audio)?;
    source.seek(SeekFrom::Start(start)).map_err(|_| not_audio())?;
    let mut head = vec![0u8; HEAD_BYTES];
    let read = read_up_to(&mut source, &mut head).map_err(|_| not_audio())?;
    if read == 0 {
        return Err(Rejected("The file holds no audio.".into()));
    }
    let (extension, mime_type) = container(&head[..read], start > 0).ok_or_else(not_audio)?;
    if extension == "wav" && !wav_format_sane(&head[..read]) {
        return Err(not_audio());
    }
    if extension == "m4a" && !mp4_boxes_sane(&mut source, start, len) {
        return Err(not_audio());
    }
    source.seek(SeekFrom::Start(start)).map_err(|_| not_audio())?;
    // The Ogg reader scans a seekable file's end for its last page, and
    // panics on a corrupt one (`PageReader::try_next_page`, found by the
    // fuzz target). Every packet is walked below anyway, which gives the
    // length the scan would have; so Ogg is read front to back only.
    let read_to = Arc::new(AtomicU64::new(0));
    let window = Window {
        inner: source,
        start,
        len: len - start,
        seekable: !matches!(extension, "ogg" | "opus"),
        read_to: Arc::clone(&read_to),
    };
    let stream = MediaSourceStream::new(Box::new(window), MediaSourceStreamOptions::default());
    let mut hint = Hint::new();
    hint.with_extension(extension);
    // Nothing reads metadata, but should a container reader keep some, it is small.
    let metadata = MetadataOptions::default()
        .limit_tag_bytes(Limit::Maximum(64 * 1024))
        .limit_visual_bytes(Limit::Maximum(0));
    let mut format = reader_for(extension)
        .probe(&hint, stream, FormatOptions::default(), metadata)
        .map_err(|_| not_audio())?;
    let track = format.default_track(TrackType::Audio).ok_or_else(not_audio)?.clone();
    let params = track
        .codec_params
        .as_ref()
        .and_then(|params| params.audio())
        .ok_or_else(not_audio)?;
    let sample_rate = params
        .sample_rate
        .or_else(|| (extension == "opus").then_some(48_000))
        .filter(|&rate| rate > 0)
        .ok_or_else(not_audio)?;
    let time_base = track.time_base;
    let declared = track.num_frames;

    // Walk every packet: the end of the last one is the real length. Some
    // are decoded on the way, so that the length is of sound, not of frame
    // headers (see [`sample`]).
    let mut sampler = sample::Sampler::new(params, len - start);
    let mut end_ts: u64 = 0;
    let mut packets = 0u64;
    loop {
        match format.next_packet() {
            Ok(Some(packet)) if packet.track_id == track.id => {
                packets += 1;
                let starts = u64::try_from(packet.pts.get()).unwrap_or(0);
                end_ts = end_ts.max(starts.saturating_add(packet.dur.get()));
                sampler.offer(&packet, read_to.load(Ordering::Relaxed));
            }
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(symphonia::core::errors::Error::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(symphonia::core::errors::Error::ResetRequired) => break,
            Err(_) => return Err(Rejected("The audio data is corrupt.".into())),
        }
    }
    if packets == 0 || end_ts == 0 {
        return Err(Rejected("The file holds no audio.".into()));
    }
    sampler.verdict()?;
    if let Some(declared) = declared {
        // A header that promises much more than the stream holds: truncated.
        if declared > 0 && u128::from(end_ts) * 10 < u128::from(declared) * 9 {
            return Err(Rejected(
                "The file is truncated: it holds less audio than its header declares.".into(),
            ));
        }
    }
    let seconds = match time_base {
        Some(tb) => tb
            .calc_time_saturating(Timestamp::new(i64::try_from(end_ts).unwrap_or(i64::MAX)))
            .as_secs_f64(),
        None => end_ts as f64 / f64::from(sample_rate),
    };
    let duration_ms = (seconds * 1000.0).round() as i64;
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

    /// The 42 bytes of issue 19: an ID3v2.4 tag whose extended header
    /// carries the restrictions byte `0x40`, which symphonia-metadata 0.5.5
    /// answers with `unreachable!()`.
    const ID3_RESTRICTIONS_BOMB: [u8; 42] = {
        let mut bytes = [0u8; 42];
        let head = *b"ID3\x04\x00\x40\x00\x00\x00\x20\x00\x00\x00\x06\x01\x10\x01\x40";
        let mut i = 0;
        while i < head.len() {
            bytes[i] = head[i];
            i += 1;
        }
        bytes
    };

    #[test]
    fn a_crafted_id3v2_extended_header_is_refused_not_a_panic() {
        assert_eq!(
            probe_bytes(&ID3_RESTRICTIONS_BOMB),
            Err(Rejected("The file holds no audio.".into()))
        );
    }

    #[test]
    fn a_wav_with_no_sample_rate_is_refused_not_a_panic() {
        // What the fuzz target found: symphonia divides time by it.
        let mut wav = std::fs::read(fixture("tone-1500ms.wav")).unwrap();
        assert_eq!(&wav[12..16], b"fmt ");
        wav[24..28].fill(0);
        assert_eq!(probe_bytes(&wav), Err(not_audio()));
        let mut channels = std::fs::read(fixture("tone-1500ms.wav")).unwrap();
        channels[22..24].fill(0);
        assert_eq!(probe_bytes(&channels), Err(not_audio()));
    }

    /// Inputs the `audio_probe` fuzz target crashed on, kept so that they
    /// stay answered without a panic (README.md in the folder says what
    /// each was): refused, but for the AAC stream symphonia 0.6 decodes,
    /// whose length must then be what its packets hold.
    #[test]
    fn what_the_fuzzer_found_is_answered_without_a_panic() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-findings");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "md") {
                continue;
            }
            let answer = probe_bytes(&std::fs::read(&path).unwrap());
            if path.ends_with("aac-spectrum-bounds.m4a") {
                let audio = answer.unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
                assert!((1..=60_000).contains(&audio.duration_ms), "{audio:?}");
            } else {
                assert!(answer.is_err(), "{}", path.display());
            }
            seen += 1;
        }
        assert!(seen > 0);
    }

    #[test]
    fn every_fixture_probes_the_same_from_memory() {
        for name in [
            "tone-1500ms-id3.mp3",
            "tone-1500ms.flac",
            "truncated.mp3",
            "fake-text.mp3",
        ] {
            let bytes = std::fs::read(fixture(name)).unwrap();
            assert_eq!(probe_bytes(&bytes), probe(&fixture(name)), "{name}");
        }
    }

    #[test]
    fn stacked_id3v2_tags_are_skipped_and_a_tag_longer_than_the_file_is_refused() {
        let audio = std::fs::read(fixture("tone-1500ms.mp3")).unwrap();
        let mut tagged = b"ID3\x03\x00\x00\x00\x00\x00\x04tag!ID3\x04\x00\x10\x00\x00\x00\x00".to_vec();
        tagged.extend_from_slice(b"3DI\x04\x00\x10\x00\x00\x00\x00");
        tagged.extend_from_slice(&audio);
        let found = probe_bytes(&tagged).unwrap();
        assert_eq!(found, probe_bytes(&audio).unwrap());
        let mut long = b"ID3\x03\x00\x00\x7f\x7f\x7f\x7f".to_vec();
        long.extend_from_slice(&audio);
        assert_eq!(probe_bytes(&long), Err(not_audio()));
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

    /// MPEG-2 Layer III frames at 8 kbit/s and 22.05 kHz, mono: a 4-byte
    /// header and 22 zero bytes each, 26 ms of "audio" per 26 bytes.
    fn empty_frames(count: usize) -> Vec<u8> {
        let mut frame = [0u8; 26];
        frame[..4].copy_from_slice(&[0xFF, 0xF3, 0x10, 0xC0]);
        frame.repeat(count)
    }

    #[test]
    fn empty_frames_are_refused_whatever_length_they_claim() {
        // 80 000 frames: 2 MiB that demux as 35 minutes.
        let refused = probe_bytes(&empty_frames(80_000)).unwrap_err();
        assert!(
            refused.0.contains("silence") || refused.0.contains("corrupt"),
            "{refused:?}"
        );
        // Real audio in front does not vouch for the padding after it.
        let mut padded = std::fs::read(fixture("tone-1500ms.mp3")).unwrap();
        padded.extend(empty_frames(80_000));
        assert!(probe_bytes(&padded).is_err(), "a tone then 35 minutes of empty frames");
    }

    #[test]
    fn fakes_truncations_and_empty_files_are_refused() {
        assert!(probe(&fixture("fake-text.mp3")).is_err());
        assert!(probe(&fixture("truncated.mp3")).is_err());
        let dir = std::env::temp_dir().join(format!("probe-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.mp3");
        std::fs::write(&empty, b"").unwrap();
        assert_eq!(probe(&empty), Err(Rejected("The file is empty.".into())));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
