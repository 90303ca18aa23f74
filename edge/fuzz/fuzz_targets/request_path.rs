//! Any request path: normalisation never yields `..`, NUL or a backslash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spotik_edge::path::CleanPath;

fuzz_target!(|raw: &str| {
    if let Ok(path) = CleanPath::parse(raw) {
        let bytes = path.as_bytes();
        assert!(bytes.starts_with(b"/"));
        for segment in bytes[1..].split(|&b| b == b'/') {
            assert!(segment != b".." && segment != b"." && !segment.contains(&0) && !segment.contains(&b'\\'));
        }
    }
});
