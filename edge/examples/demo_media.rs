//! Writes a small demo media library: a few generated tones (WAV) and the
//! real encoded fixtures of the repository, laid out as the API lays out
//! uploads. `cargo run -p spotik-edge --example demo_media -- DIR`

use std::io::Write;
use std::path::{Path, PathBuf};

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
        write(&root, name, &spotik_shared::demo_audio::chord_wav(chord, seconds))?;
    }
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/audio");
    for ext in ["mp3", "m4a", "flac", "ogg", "opus"] {
        let name = format!("tone-1500ms.{ext}");
        write(&root, &format!("demo/{name}"), &std::fs::read(fixtures.join(&name))?)?;
    }
    Ok(())
}
