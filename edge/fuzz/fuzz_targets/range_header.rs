//! Any Range header, any size: never a panic, never a range outside the file,
//! never more bytes than the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spotik_edge::range::{evaluate, RangeOutcome};

fuzz_target!(|input: (&[u8], u64, u8)| {
    let (header, size, max_ranges) = input;
    match evaluate(header, size, usize::from(max_ranges)) {
        RangeOutcome::Full | RangeOutcome::Unsatisfiable => {}
        RangeOutcome::Single(r) => assert!(r.start < r.end && r.end <= size),
        RangeOutcome::Multiple(ranges) => {
            assert!(ranges.len() >= 2 && ranges.len() <= usize::from(max_ranges));
            assert!(ranges.iter().all(|r| r.start < r.end && r.end <= size));
            assert!(ranges.iter().map(|r| r.end - r.start).sum::<u64>() <= size);
        }
    }
});
