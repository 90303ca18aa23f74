//! Generated audio for demo data: the edge's demo library and the API's
//! seeded tracks are made the same way.

use std::f64::consts::TAU;

const RATE: u32 = 44_100;

/// A stereo 16-bit PCM WAV of a chord, `seconds` long, with 50 ms fades so
/// that it starts and ends without a click.
pub fn chord_wav(frequencies: &[f64], seconds: f64) -> Vec<u8> {
    let frames = (seconds * f64::from(RATE)) as u32;
    let data_len = frames * 4;
    let mut out = Vec::with_capacity(44 + data_len as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&2u16.to_le_bytes()); // channels
    out.extend_from_slice(&RATE.to_le_bytes());
    out.extend_from_slice(&(RATE * 4).to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    let fade = f64::from(RATE) * 0.05;
    for frame in 0..frames {
        let t = f64::from(frame) / f64::from(RATE);
        let envelope = (f64::from(frame) / fade).min(f64::from(frames - frame) / fade).min(1.0);
        let sum: f64 = frequencies.iter().map(|f| (TAU * f * t).sin()).sum();
        let sample = (sum / frequencies.len() as f64 * envelope * 0.3 * f64::from(i16::MAX)) as i16;
        out.extend_from_slice(&sample.to_le_bytes());
        out.extend_from_slice(&sample.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_of_stereo_16_bit_audio_is_176_400_bytes_plus_the_header() {
        let wav = chord_wav(&[440.0], 1.0);
        assert_eq!(wav.len(), 44 + 176_400);
        assert_eq!(&wav[..4], b"RIFF");
        assert_eq!(&wav[8..16], b"WAVEfmt ");
    }
}
