//! Any bytes as an upload: the probe answers audio or a refusal, never a
//! panic, a hang or a memory bomb. Seeded with `shared/fixtures/audio` by
//! `deploy/fuzz-smoke`. The API runs the probe in a child process anyway;
//! what this finds is what that child would die of.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(audio) = spotik_probe::probe_bytes(bytes) {
        assert!(audio.duration_ms > 0);
    }
});
