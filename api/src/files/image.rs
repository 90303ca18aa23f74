//! Is this upload a real cover image? JPEG, PNG or WebP, judged by its
//! structure and never by its name or declared type.
//!
//! The file is walked from its signature to its end marker — PNG chunks to
//! `IEND`, JPEG segments and entropy-coded scans to `EOI`, WebP's RIFF chunks
//! to the length the header declares — so a renamed text file, a truncated
//! image or trailing junk is refused. The dimensions come from the header and
//! are bounded before anything would decode the pixels, which is what stops
//! a decompression bomb (a few hundred KiB that inflate to gigabytes).
//! No I/O here: a byte slice in, a decision out.

/// The formats covers may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Jpeg,
    Png,
    Webp,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Png => "png",
            Self::Webp => "webp",
        }
    }

    pub fn mime_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Webp => "image/webp",
        }
    }

    /// The format a stored cover's extension names.
    pub fn from_extension(extension: &str) -> Option<Self> {
        match extension {
            "jpg" => Some(Self::Jpeg),
            "png" => Some(Self::Png),
            "webp" => Some(Self::Webp),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Image {
    pub format: Format,
    pub width: u32,
    pub height: u32,
}

/// How large a cover may be once decoded.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_side: u32,
    pub max_pixels: u64,
}

impl Default for Limits {
    /// Enough for any cover art (print-quality 3000×3000 is common).
    fn default() -> Self {
        Self {
            max_side: 8192,
            max_pixels: 40_000_000,
        }
    }
}

/// Why a file is not accepted, in words for the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejected(pub String);

fn rejected(message: impl Into<String>) -> Rejected {
    Rejected(message.into())
}

pub fn inspect(bytes: &[u8], limits: Limits) -> Result<Image, Rejected> {
    let image = if bytes.starts_with(PNG_SIGNATURE) {
        png(bytes)?
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        jpeg(bytes)?
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        webp(bytes)?
    } else {
        return Err(rejected("The cover must be a JPEG, PNG or WebP image."));
    };
    if image.width == 0 || image.height == 0 {
        return Err(rejected("The image has no pixels."));
    }
    let pixels = u64::from(image.width) * u64::from(image.height);
    if image.width > limits.max_side || image.height > limits.max_side || pixels > limits.max_pixels {
        return Err(rejected(format!(
            "The image is {}×{} pixels; covers may be at most {}×{} ({} megapixels).",
            image.width,
            image.height,
            limits.max_side,
            limits.max_side,
            limits.max_pixels / 1_000_000
        )));
    }
    Ok(image)
}

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn be16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn le16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn le24(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at + 3)?;
    Some(u32::from(b[0]) | u32::from(b[1]) << 8 | u32::from(b[2]) << 16)
}

fn le32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn truncated() -> Rejected {
    rejected("The image is truncated or corrupt.")
}

/// Chunks from the signature to `IEND`, `IHDR` first, image data present.
fn png(bytes: &[u8]) -> Result<Image, Rejected> {
    let mut at = PNG_SIGNATURE.len();
    let mut size = None;
    let mut has_data = false;
    loop {
        let length = be32(bytes, at).ok_or_else(truncated)? as usize;
        let kind = bytes.get(at + 4..at + 8).ok_or_else(truncated)?;
        let data_start = at + 8;
        let end = data_start
            .checked_add(length)
            .and_then(|e| e.checked_add(4))
            .filter(|e| *e <= bytes.len())
            .ok_or_else(truncated)?;
        match kind {
            b"IHDR" if size.is_none() && length == 13 => {
                size = Some((
                    be32(bytes, data_start).ok_or_else(truncated)?,
                    be32(bytes, data_start + 4).ok_or_else(truncated)?,
                ));
            }
            _ if size.is_none() => return Err(truncated()),
            b"IDAT" => has_data = true,
            b"IEND" => {
                let (width, height) = size.ok_or_else(truncated)?;
                if !has_data || end != bytes.len() {
                    return Err(truncated());
                }
                return Ok(Image {
                    format: Format::Png,
                    width,
                    height,
                });
            }
            _ => {}
        }
        at = end;
    }
}

/// Segments from `SOI` to `EOI`, skipping entropy-coded data after each
/// `SOS`; the size is in the first start-of-frame segment.
fn jpeg(bytes: &[u8]) -> Result<Image, Rejected> {
    let mut at = 2;
    let mut size = None;
    loop {
        // Fill bytes (0xFF repeated) may precede a marker.
        while bytes.get(at) == Some(&0xFF) && bytes.get(at + 1) == Some(&0xFF) {
            at += 1;
        }
        if bytes.get(at) != Some(&0xFF) {
            return Err(truncated());
        }
        let marker = *bytes.get(at + 1).ok_or_else(truncated)?;
        at += 2;
        match marker {
            0xD9 => {
                let (width, height) = size.ok_or_else(truncated)?;
                return Ok(Image {
                    format: Format::Jpeg,
                    width: u32::from(width),
                    height: u32::from(height),
                });
            }
            0xD0..=0xD7 | 0x01 => continue,
            _ => {}
        }
        let length = be16(bytes, at).ok_or_else(truncated)? as usize;
        if length < 2 || at + length > bytes.len() {
            return Err(truncated());
        }
        let is_frame = matches!(marker, 0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF);
        if is_frame && size.is_none() {
            let height = be16(bytes, at + 3).ok_or_else(truncated)?;
            let width = be16(bytes, at + 5).ok_or_else(truncated)?;
            size = Some((width, height));
        }
        at += length;
        if marker == 0xDA {
            if size.is_none() {
                return Err(truncated());
            }
            at = after_scan(bytes, at).ok_or_else(truncated)?;
        }
    }
}

/// The offset of the first marker after entropy-coded data (`FF 00` is a
/// stuffed byte and restart markers belong to the scan).
fn after_scan(bytes: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let found = bytes.get(at..)?.iter().position(|b| *b == 0xFF)?;
        at += found;
        match bytes.get(at + 1)? {
            0x00 | 0xD0..=0xD7 | 0xFF => at += 1,
            _ => return Some(at),
        }
    }
}

/// RIFF chunks to the declared length; the size from `VP8 `, `VP8L` or `VP8X`.
fn webp(bytes: &[u8]) -> Result<Image, Rejected> {
    let riff_end = (le32(bytes, 4).ok_or_else(truncated)? as usize)
        .checked_add(8)
        .ok_or_else(truncated)?;
    if riff_end != bytes.len() {
        return Err(truncated());
    }
    let mut at = 12;
    let mut size = None;
    let mut has_image = false;
    while at < riff_end {
        let kind = bytes.get(at..at + 4).ok_or_else(truncated)?;
        let length = le32(bytes, at + 4).ok_or_else(truncated)? as usize;
        let data = at + 8;
        // Chunks are padded to an even length.
        let end = data
            .checked_add(length + (length & 1))
            .filter(|e| *e <= riff_end)
            .ok_or_else(truncated)?;
        match kind {
            b"VP8X" if at == 12 => {
                size = Some((
                    le24(bytes, data + 4).ok_or_else(truncated)? + 1,
                    le24(bytes, data + 7).ok_or_else(truncated)? + 1,
                ));
            }
            b"VP8 " => {
                if bytes.get(data + 3..data + 6) != Some(&[0x9D, 0x01, 0x2A][..]) {
                    return Err(truncated());
                }
                let frame = (
                    u32::from(le16(bytes, data + 6).ok_or_else(truncated)? & 0x3FFF),
                    u32::from(le16(bytes, data + 8).ok_or_else(truncated)? & 0x3FFF),
                );
                size.get_or_insert(frame);
                has_image = true;
            }
            b"VP8L" => {
                if bytes.get(data) != Some(&0x2F) {
                    return Err(truncated());
                }
                let bits = le32(bytes, data + 1).ok_or_else(truncated)?;
                let frame = ((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1);
                size.get_or_insert(frame);
                has_image = true;
            }
            b"ANMF" => has_image = true,
            _ => {}
        }
        at = end;
    }
    match (size, has_image) {
        (Some((width, height)), true) => Ok(Image {
            format: Format::Webp,
            width,
            height,
        }),
        _ => Err(truncated()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!("{}/tests/fixtures/images/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    #[test]
    fn real_images_are_recognised_with_their_size() {
        for (name, format) in [
            ("cover.png", Format::Png),
            ("cover.jpg", Format::Jpeg),
            ("cover-progressive.jpg", Format::Jpeg),
            ("cover.webp", Format::Webp),
            ("cover-lossless.webp", Format::Webp),
        ] {
            let image = inspect(&fixture(name), Limits::default()).unwrap_or_else(|e| panic!("{name}: {e:?}"));
            assert_eq!((image.format, image.width, image.height), (format, 64, 48), "{name}");
        }
    }

    #[test]
    fn text_truncated_images_and_trailing_junk_are_refused() {
        for name in ["text.png", "truncated.png", "truncated.jpg"] {
            assert!(inspect(&fixture(name), Limits::default()).is_err(), "{name}");
        }
        for name in ["cover.png", "cover.jpg", "cover.webp"] {
            let whole = fixture(name);
            for cut in [whole.len() - 1, whole.len() / 2, 20, 3] {
                assert!(
                    inspect(&whole[..cut], Limits::default()).is_err(),
                    "{name} cut at {cut}"
                );
            }
        }
        let mut junk = fixture("cover.png");
        junk.extend_from_slice(b"<script>alert(1)</script>");
        assert!(inspect(&junk, Limits::default()).is_err());
    }

    #[test]
    fn a_decompression_bomb_is_refused_by_its_declared_size() {
        let error = inspect(&fixture("bomb-20000x20000.png"), Limits::default()).unwrap_err();
        assert!(error.0.contains("20000×20000"), "{error:?}");
    }

    proptest! {
        #[test]
        fn never_panics_and_never_accepts_beyond_the_limits(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Ok(image) = inspect(&bytes, Limits { max_side: 100, max_pixels: 5_000 }) {
                prop_assert!(image.width <= 100 && image.height <= 100);
            }
        }

        #[test]
        fn corrupting_a_byte_of_a_real_image_never_panics(at in 0usize..1153, value in any::<u8>()) {
            let mut bytes = fixture("cover.jpg");
            let at = at % bytes.len();
            bytes[at] = value;
            let _ = inspect(&bytes, Limits::default());
        }
    }
}
