//! Decoding a sample of a file's packets, so that its length is of sound.
//!
//! Demuxing alone measures frame headers: 48 MiB of empty MPEG frames (a
//! 4-byte header and zeros, 26 bytes each) probed as a 14-hour track, which
//! would hold a room's playback for that long. Decoding every packet would
//! cost as much as playing the file; instead [`RUNS`] short runs of
//! [`RUN`] packets are decoded at points spread evenly over the file's
//! bytes (so audio at the start cannot vouch for padding after it). A file
//! is refused when no run decodes, or when nearly every run is digital
//! silence or does not decode: real recordings are almost never exact zeros for long, and a
//! fabricated one is nothing else. Formats with no decoder here (Opus) are
//! measured by their packets alone, as before.

use crate::Rejected;
use symphonia::core::codecs::audio::{AudioCodecParameters, AudioDecoder, AudioDecoderOptions};
use symphonia::core::errors::Error;
use symphonia::core::packet::Packet;

/// Runs decoded across a file.
pub const RUNS: u64 = 64;
/// Packets decoded one after another in a run: decoders that carry state
/// between frames (MP3's bit reservoir) may fail the first after a reset.
pub const RUN: u32 = 4;

/// What one run found.
#[derive(Default)]
struct Run {
    decoded: bool,
    heard: bool,
}

pub struct Sampler {
    decoder: Option<Box<dyn AudioDecoder>>,
    len: u64,
    /// The next run starts once the demuxer has read past this many bytes.
    next_at: u64,
    runs_started: u64,
    /// Packets left to decode in the current run.
    left: u32,
    current: Run,
    runs: Vec<Run>,
}

impl Sampler {
    /// A sampler of a stream of `len` bytes with these parameters.
    pub fn new(params: &AudioCodecParameters, len: u64) -> Self {
        let decoder = symphonia::default::get_codecs()
            .make_audio_decoder(params, &AudioDecoderOptions::default())
            .ok();
        Self {
            decoder,
            len,
            next_at: 0,
            runs_started: 0,
            left: 0,
            current: Run::default(),
            runs: Vec::new(),
        }
    }

    /// Decodes `packet` if a run is under way or due: `read_to` is how far
    /// the demuxer has read.
    pub fn offer(&mut self, packet: &Packet, read_to: u64) {
        let Some(decoder) = self.decoder.as_mut() else { return };
        if self.left == 0 {
            if self.runs_started >= RUNS || read_to < self.next_at {
                return;
            }
            self.runs_started += 1;
            self.next_at = self.len / RUNS * self.runs_started;
            self.left = RUN;
            decoder.reset();
        }
        self.left -= 1;
        match decoder.decode(packet) {
            Ok(decoded) => {
                self.current.decoded = true;
                if !self.current.heard && decoded.frames() > 0 {
                    // At most RUNS × RUN buffers in all: no reuse needed.
                    let mut samples: Vec<f32> = Vec::new();
                    decoded.copy_to_vec_interleaved(&mut samples);
                    self.current.heard = samples.iter().any(|s| *s != 0.0);
                }
            }
            Err(Error::ResetRequired) => decoder.reset(),
            Err(_) => {}
        }
        if self.left == 0 {
            self.runs.push(std::mem::take(&mut self.current));
        }
    }

    /// Refuses a file none of whose runs decoded, or whose runs are nearly
    /// all silence or undecodable.
    pub fn verdict(mut self) -> Result<(), Rejected> {
        if self.left > 0 {
            self.runs.push(std::mem::take(&mut self.current));
        }
        if self.decoder.is_none() || self.runs.is_empty() {
            return Ok(());
        }
        let decoded = self.runs.iter().filter(|run| run.decoded).count();
        if decoded == 0 {
            return Err(Rejected("The audio data is corrupt.".into()));
        }
        let heard = self.runs.iter().filter(|run| run.heard).count();
        // A run that decodes nothing is no sound either. Nearly all: a
        // quiet intro or a hidden track after minutes of silence still
        // leaves more than one run in eight with sound.
        if heard * 8 < self.runs.len() {
            return Err(Rejected(
                "The file holds only silence: its frames carry no sound.".into(),
            ));
        }
        Ok(())
    }
}
