// FLAC read in pieces. Its frames are independent of each other (no
// reservoir, no overlap) and each says which sample it starts at, so any
// run of them, behind the stream's own header, decodes alone to exactly
// the samples a whole decode gives there. A frame's end is not written
// anywhere: it is where its CRC-16 closes and the next frame's header
// begins, which is also how a frame is told from a chance sync pattern in
// the middle of another. Pure: node's test runner feeds it good and bad
// bytes.

/**
 * @typedef {{ sampleRate: number, channels: number, bitsPerSample: number,
 *   totalSamples: number, minBlock: number, maxBlock: number, maxFrame: number }} FlacFormat
 *   `totalSamples` is 0 when the encoder did not know it; `maxFrame` 0 when unknown.
 * @typedef {{ format: FlacFormat, streamInfo: Uint8Array, next: number, last: boolean }} FlacStart
 *   `streamInfo`: the 34 bytes of the STREAMINFO block; `next`: the byte
 *   after it, where the next metadata block's header or (`last`) the first
 *   frame begins.
 * @typedef {{ firstSample: number, blockSize: number }} FlacFrame
 */

/** Bytes taken by a leading ID3v2 tag (some taggers put one before "fLaC"). @param {Uint8Array} bytes */
function id3Length(bytes) {
  if (bytes.length < 10 || bytes[0] !== 0x49 || bytes[1] !== 0x44 || bytes[2] !== 0x33) return 0;
  const size = ((bytes[6] & 0x7f) << 21) | ((bytes[7] & 0x7f) << 14) | ((bytes[8] & 0x7f) << 7) | (bytes[9] & 0x7f);
  return 10 + size + (bytes[5] & 0x10 ? 10 : 0);
}

/**
 * The stream's format, when `bytes` (the file from its first byte) starts as
 * a FLAC stream with its STREAMINFO block; null otherwise.
 * @param {Uint8Array} bytes
 * @returns {FlacStart | null}
 */
export function flacStart(bytes) {
  const at = id3Length(bytes);
  if (at + 42 > bytes.length || String.fromCharCode(...bytes.subarray(at, at + 4)) !== 'fLaC') return null;
  const block = metadataBlock(bytes, at + 4);
  if (!block || block.type !== 0 || block.length !== 34) return null;
  const info = bytes.subarray(at + 8, at + 42);
  const minBlock = (info[0] << 8) | info[1];
  const maxBlock = (info[2] << 8) | info[3];
  const maxFrame = (info[7] << 16) | (info[8] << 8) | info[9];
  const sampleRate = (info[10] << 12) | (info[11] << 4) | (info[12] >> 4);
  const channels = ((info[12] >> 1) & 7) + 1;
  const bitsPerSample = (((info[12] & 1) << 4) | (info[13] >> 4)) + 1;
  const totalSamples = (info[13] & 0x0f) * 2 ** 32 + ((info[14] << 24) >>> 0) + ((info[15] << 16) | (info[16] << 8) | info[17]);
  if (minBlock < 16 || maxBlock < minBlock || sampleRate === 0 || bitsPerSample < 4) return null;
  const format = { sampleRate, channels, bitsPerSample, totalSamples, minBlock, maxBlock, maxFrame };
  return { format, streamInfo: info.slice(), next: at + 42, last: block.last };
}

/**
 * The metadata block header at `at`: its type, length and whether it is the
 * last before the audio; null when it is not all in `bytes`.
 * @param {Uint8Array} bytes
 * @param {number} at
 */
export function metadataBlock(bytes, at) {
  if (at < 0 || at + 4 > bytes.length) return null;
  return { last: (bytes[at] & 0x80) !== 0, type: bytes[at] & 0x7f, length: (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3] };
}

const CRC8 = new Uint8Array(256);
const CRC16 = new Uint16Array(256);
for (let n = 0; n < 256; n += 1) {
  let c8 = n;
  let c16 = n << 8;
  for (let bit = 0; bit < 8; bit += 1) {
    c8 = c8 & 0x80 ? ((c8 << 1) ^ 0x07) & 0xff : (c8 << 1) & 0xff;
    c16 = c16 & 0x8000 ? ((c16 << 1) ^ 0x8005) & 0xffff : (c16 << 1) & 0xffff;
  }
  CRC8[n] = c8;
  CRC16[n] = c16;
}

const RATES = [0, 88_200, 176_400, 192_000, 8_000, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000, 96_000];

/**
 * The frame whose header starts at `at`, if one of this stream does: its
 * header parses, its CRC-8 holds and its channels, rate and block size are
 * the stream's.
 * @param {Uint8Array} bytes
 * @param {number} at
 * @param {FlacFormat} format
 * @returns {FlacFrame & { headerLength: number } | null}
 */
export function frameHeader(bytes, at, format) {
  if (at + 6 > bytes.length || bytes[at] !== 0xff || (bytes[at + 1] & 0xfe) !== 0xf8) return null;
  const variable = bytes[at + 1] & 1;
  const sizeCode = bytes[at + 2] >> 4;
  const rateCode = bytes[at + 2] & 0x0f;
  const channelCode = bytes[at + 3] >> 4;
  if (sizeCode === 0 || rateCode === 15 || channelCode > 10 || bytes[at + 3] & 1 || ((bytes[at + 3] >> 1) & 7) === 3) return null;
  if ((channelCode < 8 ? channelCode + 1 : 2) !== format.channels) return null;
  // The frame (or sample) number, coded as UTF-8 extended to 36 bits.
  let p = at + 4;
  const lead = bytes[p];
  let extra = 0;
  while (extra < 7 && lead & (0x80 >> extra)) extra += 1;
  if (extra === 1 || extra === 7 || p + extra > bytes.length) return null;
  let number = extra === 0 ? lead : lead & (0xff >> (extra + 1));
  for (let i = 1; i < extra; i += 1) {
    const next = bytes[p + i];
    if ((next & 0xc0) !== 0x80) return null;
    number = number * 64 + (next & 0x3f);
  }
  p += Math.max(1, extra);
  let blockSize;
  if (sizeCode === 1) blockSize = 192;
  else if (sizeCode <= 5) blockSize = 576 << (sizeCode - 2);
  else if (sizeCode === 6) blockSize = (bytes[p++] ?? 0) + 1;
  else if (sizeCode === 7) blockSize = (((bytes[p++] ?? 0) << 8) | (bytes[p++] ?? 0)) + 1;
  else blockSize = 256 << (sizeCode - 8);
  let rate = RATES[rateCode];
  if (rateCode === 12) rate = (bytes[p++] ?? 0) * 1000;
  else if (rateCode === 13) rate = ((bytes[p++] ?? 0) << 8) | (bytes[p++] ?? 0);
  else if (rateCode === 14) rate = (((bytes[p++] ?? 0) << 8) | (bytes[p++] ?? 0)) * 10;
  if (p >= bytes.length || blockSize > format.maxBlock || (rateCode !== 0 && rate !== format.sampleRate)) return null;
  let crc = 0;
  for (let i = at; i < p; i += 1) crc = CRC8[crc ^ bytes[i]];
  if (crc !== bytes[p]) return null;
  // A fixed-size stream numbers its frames; every frame but the last holds
  // the stream's block size.
  const firstSample = variable ? number : number * format.maxBlock;
  return { firstSample, blockSize, headerLength: p + 1 - at };
}

/**
 * Where the frame starting at `at` ends: the first place after it where its
 * CRC-16 closes and either another frame's header or the file's end
 * (`final`: `bytes` reaches it) follows. `undefined` when `bytes` stops
 * before that; null when no frame could be this long (not a frame).
 * @param {Uint8Array} bytes
 * @param {number} at
 * @param {FlacFormat} format
 * @param {boolean} final
 */
export function frameEnd(bytes, at, format, final) {
  // A verbatim subframe holds each sample whole; a side channel has one bit more.
  const longest = format.maxFrame || Math.ceil((format.maxBlock * format.channels * (format.bitsPerSample + 1)) / 8) + 64;
  const limit = Math.min(bytes.length, at + longest + 16);
  let crc = 0;
  for (let p = at; p < limit; p += 1) {
    crc = ((crc << 8) & 0xffff) ^ CRC16[(crc >> 8) ^ bytes[p]];
    const end = p + 1;
    if (crc !== 0 || end - at < 8) continue;
    if (end === bytes.length && final) return end;
    if (bytes[end] === 0xff && frameHeader(bytes, end, format)) return end;
  }
  return limit < at + longest + 16 && !final ? undefined : null;
}

/**
 * The first frame found at or after `from` whose end is in `bytes` too.
 * @param {Uint8Array} bytes
 * @param {number} from
 * @param {FlacFormat} format
 * @param {boolean} final
 * @returns {FlacFrame & { at: number, end: number } | null}
 */
export function firstFrame(bytes, from, format, final) {
  // Each candidate costs a frame's length of CRC: a file made of headers
  // must not cost the page more than a few dozen frames' worth.
  let candidates = 0;
  for (let at = Math.max(0, from); at + 6 <= bytes.length && candidates < 64; at += 1) {
    if (bytes[at] !== 0xff) continue;
    const header = frameHeader(bytes, at, format);
    if (!header) continue;
    candidates += 1;
    const end = frameEnd(bytes, at, format, final);
    if (end) return { firstSample: header.firstSample, blockSize: header.blockSize, at, end };
  }
  return null;
}

/**
 * A FLAC file the browser's decoder takes: the stream's header (its
 * STREAMINFO, with the length and checksum of the whole left unknown) and
 * `frames`.
 * @param {Uint8Array} streamInfo
 * @param {Uint8Array} frames
 */
export function flacFile(streamInfo, frames) {
  const file = new Uint8Array(42 + frames.length);
  file.set([0x66, 0x4c, 0x61, 0x43, 0x80, 0, 0, 34]);
  file.set(streamInfo, 8);
  // Total samples (the low 36 bits of bytes 13–17) and the MD5 signature.
  file[8 + 13] &= 0xf0;
  file.fill(0, 8 + 14, 8 + 34);
  file.set(frames, 42);
  return file;
}
