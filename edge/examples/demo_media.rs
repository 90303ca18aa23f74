//! Writes a small demo media library: a few generated tones (WAV) and the
//! real encoded fixtures of the repository, laid out as the API lays out
//! uploads. `cargo run -p spotik-edge --example demo_media -- DIR`

use std::f64::consts::TAU;
use std::io::Write;
use std::path::{Path, PathBuf};

const RATE: u32 = 44_100;

/// A stereo 16-bit PCM WAV of a chord, with short fades so it loops cleanly.
fn chord_wav(frequencies: &[f64], seconds: f64) -> Vec<u8> {
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

fn write(root: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let path = root.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::File::create(&path)?.write_all(bytes)?;
    println!("{:>10} bytes  {}", bytes.len(), path.display());
    Ok(())
}

fn main() -> std::io::Result<()> {
    let root = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "media".into()));
    std::fs::create_dir_all(&root)?;
    let tracks: [(&str, &[f64], f64); 4] = [
        ("demo/c-major.wav", &[261.63, 329.63, 392.00], 6.0),
        ("demo/a-minor.wav", &[220.00, 261.63, 329.63], 6.0),
        ("demo/g-major.wav", &[196.00, 246.94, 293.66], 6.0),
        // Long enough to be served from disk rather than the small-file cache.
        ("demo/long-drone.wav", &[110.0, 165.0], 75.0),
    ];
    for (name, chord, seconds) in tracks {
        write(&root, name, &chord_wav(chord, seconds))?;
    }
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/audio");
    for ext in ["mp3", "m4a", "flac", "ogg", "opus"] {
        let name = format!("tone-1500ms.{ext}");
        write(&root, &format!("demo/{name}"), &std::fs::read(fixtures.join(&name))?)?;
    }
    Ok(())
}
