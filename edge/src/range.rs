//! `Range` header evaluation (RFC 9110 §14), with nginx's parsing rules.
//!
//! The parser walks the header once, without allocating unless a second
//! range appears. Where the RFC lets a server choose, nginx's choice is made:
//! malformed sets are unsatisfiable (416), ranges that overlap so much that
//! their sum exceeds the file, or that outnumber `max_ranges`, are answered
//! with the whole file (200) — the body can never be larger than the file plus
//! part headers, so a Range header cannot amplify traffic.

/// Half-open byte interval `[start, end)` of a representation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    pub end: u64,
}

impl ByteRange {
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

/// What to send for a request with a `Range` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RangeOutcome {
    /// Ignore the header and send the whole representation (200).
    Full,
    /// One range (206 with `Content-Range`).
    Single(ByteRange),
    /// Several ranges, in request order (206 `multipart/byteranges`).
    Multiple(Vec<ByteRange>),
    /// 416 with `Content-Range: bytes */size`.
    Unsatisfiable,
}

/// nginx's limit for offsets: the largest `off_t`.
const MAX_OFFSET: u64 = i64::MAX as u64;

/// Evaluates a `Range` header value against a representation of `size` bytes.
pub fn evaluate(header: &[u8], size: u64, max_ranges: usize) -> RangeOutcome {
    let Some(spec) = strip_bytes_unit(header) else {
        return RangeOutcome::Full;
    };
    if size == 0 {
        return RangeOutcome::Unsatisfiable;
    }
    let mut first: Option<ByteRange> = None;
    let mut more: Vec<ByteRange> = Vec::new();
    let mut total: u64 = 0;
    let mut cursor = Cursor { bytes: spec, pos: 0 };
    loop {
        let Some(range) = parse_one(&mut cursor, size) else {
            return RangeOutcome::Unsatisfiable;
        };
        // Empty ranges (starting past the end, or first > last) are skipped.
        if !range.is_empty() {
            let count = usize::from(first.is_some()) + more.len() + 1;
            if count > max_ranges {
                return RangeOutcome::Full;
            }
            // nginx refuses a set whose sum passes the largest offset (416)
            // before comparing it with the file (200 when larger).
            total = match total.checked_add(range.len()) {
                Some(total) if total <= MAX_OFFSET => total,
                _ => return RangeOutcome::Unsatisfiable,
            };
            match first {
                None => first = Some(range),
                Some(_) => more.push(range),
            }
        }
        if !cursor.eat(b',') {
            break;
        }
    }
    let Some(first) = first else {
        return RangeOutcome::Unsatisfiable;
    };
    if total > size {
        return RangeOutcome::Full;
    }
    if more.is_empty() {
        return RangeOutcome::Single(first);
    }
    more.insert(0, first);
    RangeOutcome::Multiple(more)
}

fn strip_bytes_unit(header: &[u8]) -> Option<&[u8]> {
    let (unit, rest) = header.split_at_checked(6)?;
    unit.eq_ignore_ascii_case(b"bytes=").then_some(rest)
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_spaces(&mut self) {
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> bool {
        let hit = self.peek() == Some(byte);
        self.pos += usize::from(hit);
        hit
    }

    /// One or more digits, refusing values past `off_t`.
    fn number(&mut self) -> Option<u64> {
        let start = self.pos;
        let mut value: u64 = 0;
        while let Some(digit @ b'0'..=b'9') = self.peek() {
            value = value.checked_mul(10)?.checked_add(u64::from(digit - b'0'))?;
            if value > MAX_OFFSET {
                return None;
            }
            self.pos += 1;
        }
        (self.pos > start).then_some(value)
    }

    fn at_separator(&self) -> bool {
        matches!(self.peek(), None | Some(b','))
    }
}

/// One `first-last`, `first-` or `-suffix` spec, clamped to `size` (possibly
/// empty); `None` when malformed.
fn parse_one(cursor: &mut Cursor<'_>, size: u64) -> Option<ByteRange> {
    cursor.skip_spaces();
    if cursor.eat(b'-') {
        let suffix = cursor.number()?;
        cursor.skip_spaces();
        if !cursor.at_separator() {
            return None;
        }
        let start = size.saturating_sub(suffix);
        return Some(ByteRange {
            start,
            end: if suffix == 0 { start } else { size },
        });
    }
    let start = cursor.number()?;
    cursor.skip_spaces();
    if !cursor.eat(b'-') {
        return None;
    }
    cursor.skip_spaces();
    if cursor.at_separator() {
        return Some(clamp(start, size, size));
    }
    let last = cursor.number()?;
    cursor.skip_spaces();
    if !cursor.at_separator() {
        return None;
    }
    let end = if last >= size { size } else { last + 1 };
    Some(clamp(start, end, size))
}

/// An empty range for starts at or past the end (or past `end`): it is skipped.
fn clamp(start: u64, end: u64, size: u64) -> ByteRange {
    if start >= end || start >= size {
        ByteRange { start, end: start }
    } else {
        ByteRange { start, end }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use RangeOutcome::*;

    fn r(start: u64, end: u64) -> ByteRange {
        ByteRange { start, end }
    }

    fn eval(header: &str, size: u64) -> RangeOutcome {
        evaluate(header.as_bytes(), size, 16)
    }

    #[test]
    fn the_three_single_forms() {
        assert_eq!(eval("bytes=0-1", 100), Single(r(0, 2)));
        assert_eq!(eval("bytes=10-", 100), Single(r(10, 100)));
        assert_eq!(eval("bytes=-10", 100), Single(r(90, 100)));
        assert_eq!(eval("bytes=0-", 100), Single(r(0, 100)));
    }

    #[test]
    fn ends_past_the_file_are_clamped() {
        assert_eq!(eval("bytes=90-1000", 100), Single(r(90, 100)));
        assert_eq!(eval("bytes=-1000", 100), Single(r(0, 100)));
        assert_eq!(eval("bytes=99-99", 100), Single(r(99, 100)));
    }

    #[test]
    fn unsatisfiable_and_malformed_sets_are_416() {
        for header in [
            "bytes=100-",
            "bytes=100-200",
            "bytes=500-100",
            "bytes=abc",
            "bytes=",
            "bytes=-",
            "bytes=1-2-3",
            "bytes=--1",
            "bytes=-0",
            "bytes=1-2,",
            "bytes=0x1-2",
        ] {
            assert_eq!(eval(header, 100), Unsatisfiable, "{header}");
        }
        assert_eq!(eval("bytes=0-0", 0), Unsatisfiable, "any range of an empty file");
        assert_eq!(eval("bytes=99999999999999999999-", 100), Unsatisfiable);
    }

    #[test]
    fn sums_past_the_largest_offset_are_unsatisfiable_not_wrapped() {
        // Found by the range_header fuzz target: two suffix ranges of an
        // impossible file size used to saturate instead of being refused.
        assert_eq!(
            evaluate(b"bytes=-9223372036854775807,-9223372036854775807", u64::MAX, 16),
            Unsatisfiable
        );
        assert_eq!(evaluate(b"bytes=0-,0-", u64::MAX, 16), Unsatisfiable);
    }

    #[test]
    fn other_units_are_ignored() {
        assert_eq!(eval("items=0-1", 100), Full);
        assert_eq!(eval("bytes 0-1", 100), Full);
        assert_eq!(eval("", 100), Full);
        assert_eq!(eval("BYTES=0-1", 100), Single(r(0, 2)), "the unit is case-insensitive");
    }

    #[test]
    fn spaces_are_allowed_around_numbers_and_commas() {
        assert_eq!(eval("bytes= 0 - 1 , 5 - 6", 100), Multiple(vec![r(0, 2), r(5, 7)]));
    }

    #[test]
    fn several_ranges_keep_request_order_and_skip_unsatisfiable_ones() {
        assert_eq!(
            eval("bytes=50-59,0-9,200-300", 100),
            Multiple(vec![r(50, 60), r(0, 10)])
        );
        assert_eq!(eval("bytes=200-300,0-9", 100), Single(r(0, 10)));
    }

    #[test]
    fn amplification_is_refused_with_the_whole_file() {
        assert_eq!(eval("bytes=0-,0-", 100), Full, "sum exceeds the file");
        assert_eq!(eval("bytes=0-59,10-69", 100), Full);
        let many = (0..17).map(|i| format!("{i}-{i}")).collect::<Vec<_>>().join(",");
        assert_eq!(eval(&format!("bytes={many}"), 100), Full, "more than max_ranges");
        let ten_thousand = (0..10_000)
            .map(|i| format!("{}-{}", i % 100, i % 100))
            .collect::<Vec<_>>()
            .join(",");
        assert_eq!(eval(&format!("bytes={ten_thousand}"), 100), Full);
        assert_eq!(evaluate(b"bytes=0-1", 100, 0), Full, "max_ranges 0 disables ranges");
    }

    fn arbitrary_spec() -> impl Strategy<Value = String> {
        let one = prop_oneof![
            (0u64..300, 0u64..300).prop_map(|(a, b)| format!("{a}-{b}")),
            (0u64..300).prop_map(|a| format!("{a}-")),
            (0u64..300).prop_map(|n| format!("-{n}")),
        ];
        proptest::collection::vec(one, 1..6).prop_map(|v| format!("bytes={}", v.join(",")))
    }

    proptest! {
        #[test]
        fn ranges_lie_inside_the_file_and_never_exceed_it(header in arbitrary_spec(), size in 0u64..250) {
            match evaluate(header.as_bytes(), size, 4) {
                Full | Unsatisfiable => {}
                Single(range) => prop_assert!(range.start < range.end && range.end <= size),
                Multiple(ranges) => {
                    prop_assert!(ranges.len() >= 2 && ranges.len() <= 4);
                    prop_assert!(ranges.iter().all(|r| r.start < r.end && r.end <= size));
                    prop_assert!(ranges.iter().map(ByteRange::len).sum::<u64>() <= size);
                }
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(header in proptest::collection::vec(any::<u8>(), 0..64), size in any::<u64>()) {
            let _ = evaluate(&header, size, 16);
        }

        #[test]
        fn single_first_last_matches_the_arithmetic(a in 0u64..1000, b in 0u64..1000, size in 1u64..1000) {
            let got = evaluate(format!("bytes={a}-{b}").as_bytes(), size, 16);
            let want = if a > b || a >= size { Unsatisfiable } else { Single(r(a, b.min(size - 1) + 1)) };
            prop_assert_eq!(got, want);
        }
    }
}
