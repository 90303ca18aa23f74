// MP3 read in pieces: its frames are found by their headers, so any run of
// them can be handed to the browser's decoder alone. A frame may borrow
// bits from the frames before it (the bit reservoir), so each piece is
// decoded with a few frames ahead of it, whose sound is thrown away. Pure:
// node's test runner feeds it headers good and bad.

/**
 * @typedef {{ sampleRate: number, samplesPerFrame: number, channels: number }} Mp3Format
 * @typedef {{ format: Mp3Format, offsets: number[], end: number, skip: number }} Mp3Frames
 *   `offsets`: byte offset of every audio frame found, in order; `end`: the
 *   byte after the last whole one; `skip`: samples at the start that are
 *   not the track's (the encoder's delay and the decoder's 529).
 */

const BITRATES = {
  1: [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  2: [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
};
const RATES = { 3: [44_100, 48_000, 32_000], 2: [22_050, 24_000, 16_000], 0: [11_025, 12_000, 8_000] };
const DECODER_DELAY = 529;

/**
 * The frame whose header starts at `at`, if one does.
 * @param {Uint8Array} bytes
 * @param {number} at
 */
export function frameAt(bytes, at) {
  if (at + 4 > bytes.length || bytes[at] !== 0xff || (bytes[at + 1] & 0xe0) !== 0xe0) return null;
  const version = (bytes[at + 1] >> 3) & 3; // 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5
  const layer = (bytes[at + 1] >> 1) & 3; // 1: layer III
  const bitrateIndex = bytes[at + 2] >> 4;
  const rateIndex = (bytes[at + 2] >> 2) & 3;
  if (version === 1 || layer !== 1 || bitrateIndex === 0 || bitrateIndex === 15 || rateIndex === 3) return null;
  const mpeg1 = version === 3;
  const bitrate = BITRATES[mpeg1 ? 1 : 2][bitrateIndex] * 1000;
  const sampleRate = RATES[version][rateIndex];
  const padding = (bytes[at + 2] >> 1) & 1;
  const samplesPerFrame = mpeg1 ? 1152 : 576;
  const length = Math.floor(((samplesPerFrame / 8) * bitrate) / sampleRate) + padding;
  const channels = bytes[at + 3] >> 6 === 3 ? 1 : 2;
  return { length, sampleRate, samplesPerFrame, channels, mpeg1 };
}

/** Bytes taken by a leading ID3v2 tag. @param {Uint8Array} bytes */
function id3Length(bytes) {
  if (bytes.length < 10 || bytes[0] !== 0x49 || bytes[1] !== 0x44 || bytes[2] !== 0x33) return 0;
  const size = ((bytes[6] & 0x7f) << 21) | ((bytes[7] & 0x7f) << 14) | ((bytes[8] & 0x7f) << 7) | (bytes[9] & 0x7f);
  return 10 + size + (bytes[5] & 0x10 ? 10 : 0);
}

/**
 * Every whole frame in `bytes` (the file from its first byte, as much of it
 * as is here), or null when it does not start as an MP3 this reader plays.
 * @param {Uint8Array} bytes
 * @returns {Mp3Frames | null}
 */
export function mp3Frames(bytes) {
  let at = id3Length(bytes);
  const first = frameAt(bytes, at);
  // Two frames in a row with the same format: not a chance pattern.
  if (!first) return null;
  const second = frameAt(bytes, at + first.length);
  if (!second || second.sampleRate !== first.sampleRate || second.samplesPerFrame !== first.samplesPerFrame) return null;
  const format = { sampleRate: first.sampleRate, samplesPerFrame: first.samplesPerFrame, channels: first.channels };
  // A Xing or Info frame describes the file and holds no sound; its LAME
  // extension says how many samples the encoder put before the sound.
  let skip = DECODER_DELAY;
  const side = first.mpeg1 ? (first.channels === 1 ? 17 : 32) : first.channels === 1 ? 9 : 17;
  const tag = String.fromCharCode(...bytes.subarray(at + 4 + side, at + 8 + side));
  if (tag === 'Xing' || tag === 'Info') {
    const flags = bytes[at + 11 + side];
    const fields = 8 + (flags & 1 ? 4 : 0) + (flags & 2 ? 4 : 0) + (flags & 4 ? 100 : 0) + (flags & 8 ? 4 : 0);
    const lame = at + 4 + side + fields;
    if (String.fromCharCode(...bytes.subarray(lame, lame + 4)) === 'LAME' && lame + 24 <= bytes.length) {
      skip += (bytes[lame + 21] << 4) | (bytes[lame + 22] >> 4);
    }
    at += first.length;
  }
  return moreFrames({ format, offsets: [], end: at, skip }, bytes);
}

/**
 * Extends `frames` with the whole frames that `bytes` (the file from its
 * first byte, longer now) holds past its end.
 * @param {Mp3Frames} frames
 * @param {Uint8Array} bytes
 */
export function moreFrames(frames, bytes) {
  let at = frames.end;
  for (;;) {
    const frame = frameAt(bytes, at);
    if (!frame || frame.sampleRate !== frames.format.sampleRate || at + frame.length > bytes.length) break;
    frames.offsets.push(at);
    at += frame.length;
  }
  frames.end = at;
  return frames;
}

/**
 * Bytes decoded before a piece and thrown away: the bit reservoir reaches
 * back 511 bytes (five frames of a quiet VBR passage), and the synthesis
 * filter needs a frame of history on top.
 */
export const PRIMING_BYTES = 1536;

/**
 * What to decode for the piece of track time [index·seconds, (index+1)·seconds):
 * the frames' bytes [fromByte, toByte) (from PRIMING frames before it to
 * one after), and which of the decoded samples, counted from `firstSample`
 * on the frame grid (at the file's rate), are the piece: [start, stop).
 * Decoded on its own, a run of frames gives exactly 1152 (or 576) samples
 * each, trimmed of nothing (Chromium trims only a whole file's delay and
 * padding, from its LAME tag).
 * `complete`: whether `frames` holds the whole file.
 * @param {Mp3Frames} frames
 * @param {number} index
 * @param {number} seconds
 * @param {boolean} complete
 */
export function mp3Cut(frames, index, seconds, complete) {
  const { sampleRate, samplesPerFrame } = frames.format;
  const count = frames.offsets.length;
  const start = Math.round(index * seconds * sampleRate) + frames.skip;
  let stop = Math.round((index + 1) * seconds * sampleRate) + frames.skip;
  if (complete) stop = Math.min(stop, count * samplesPerFrame);
  const first = Math.floor(start / samplesPerFrame);
  let from = Math.max(0, first - 2);
  while (from > 0 && frames.offsets[first] - frames.offsets[from] < PRIMING_BYTES) from -= 1;
  const to = Math.ceil(stop / samplesPerFrame) + 1;
  return {
    fromByte: frames.offsets[from],
    toByte: to < count ? frames.offsets[to] : frames.end,
    /** Frames the index must hold before this piece can be cut. */
    needed: Math.min(to, count),
    ready: complete || to < count,
    firstSample: from * samplesPerFrame,
    start,
    stop,
  };
}
