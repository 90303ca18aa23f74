//! Arbitrary conditional headers (If-Match, If-None-Match, If-Modified-Since,
//! If-Unmodified-Since, If-Range) never panic the evaluator.
#![no_main]

use http::header::{HeaderMap, HeaderValue, IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_UNMODIFIED_SINCE};
use libfuzzer_sys::fuzz_target;
use spotik_edge::conditional::{evaluate, if_range_allows, Validators};

fuzz_target!(|input: (Vec<(u8, &[u8])>, u64)| {
    let (fields, modified) = input;
    let names = [IF_MATCH, IF_NONE_MATCH, IF_MODIFIED_SINCE, IF_UNMODIFIED_SINCE];
    let mut headers = HeaderMap::new();
    for (which, value) in &fields {
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.append(names[usize::from(*which) % names.len()].clone(), value);
        }
    }
    let validators = Validators {
        etag: b"\"65a50059-480000\"",
        modified,
    };
    let _ = evaluate(&headers, validators);
    for (_, value) in &fields {
        let _ = if_range_allows(Some(value), validators);
    }
});
