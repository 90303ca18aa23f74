// M4A (AAC in an MP4 file) read in pieces. Unlike Ogg or FLAC, the audio
// frames carry nothing that finds them: the file's `moov` box holds a table
// of every frame's size, place and duration. So the table is read once
// (it may sit after the audio: top-level boxes are stepped over by their
// headers), and a piece is its frames, fetched by one range and given the
// 7-byte ADTS header each that lets the browser's decoder read raw AAC
// frames alone. Each AAC frame overlaps the one before, so a piece starts
// a few frames early (`PRE_ROLL_FRAMES`) and that sound is thrown away.
// The file's edit list says how many samples at the start are the
// encoder's priming, not the track (the browser drops them from a whole
// decode too). Only AAC-LC with a standard rate and channel layout is read
// so; anything else is left to the browser whole. Pure: node's test
// runner feeds it good and bad bytes.

/**
 * @typedef {{ type: string, at: number, header: number, size: number }} Box
 *   `size` includes the header; a box "to the end of the file" has its size
 *   worked out from the file's length.
 * @typedef {{ timescale: number, channels: number, priming: number, duration: number,
 *   adts: Uint8Array, times: Float64Array, offsets: Float64Array, sizes: Uint32Array }} M4aTrack
 *   `timescale`: samples per second of track time (the rate to decode at);
 *   `priming`: samples of the first frames that precede the track;
 *   `duration`: the track's samples; `adts`: the fixed part of each
 *   frame's ADTS header; `times[k]`: where frame k begins (`times[n]` is
 *   the end); `offsets`/`sizes`: where each frame's bytes are.
 */

/** Frames decoded before a piece and thrown away: one to rebuild the overlap, and a margin. */
export const PRE_ROLL_FRAMES = 2;

/** The most bytes of `moov` this reader fetches (a table of a few hours of audio is a few MB). */
export const MAX_MOOV = 16 * 1024 * 1024;

/** Frames a table may list: over 48 hours of 48 kHz AAC. */
const MAX_FRAMES = 10_000_000;

const RATES = [96_000, 88_200, 64_000, 48_000, 44_100, 32_000, 24_000, 22_050, 16_000, 12_000, 11_025, 8_000, 7_350];

/**
 * The box whose header begins at `at`, within a file of `total` bytes:
 * null when its header is not a box's; undefined when the header runs
 * past `bytes`.
 * @param {Uint8Array} bytes
 * @param {number} at
 * @param {number} total
 * @returns {Box | null | undefined}
 */
export function boxAt(bytes, at, total) {
  if (at + 8 > bytes.length) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset + at);
  let size = view.getUint32(0);
  const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
  if (!/^[\x20-\x7e]{4}$/.test(type)) return null;
  let header = 8;
  if (size === 1) {
    if (at + 16 > bytes.length) return undefined;
    size = view.getUint32(8) * 2 ** 32 + view.getUint32(12);
    header = 16;
  } else if (size === 0) size = total - at;
  if (size < header) return null;
  return { type, at, header, size };
}

/**
 * The children of the box `parent` (all within `bytes`), by type, first of each.
 * @param {Uint8Array} bytes
 * @param {Box} parent
 * @param {number} [skip] bytes of the parent's own fields before its children
 */
function children(bytes, parent, skip = 0) {
  /** @type {Map<string, Box>} */
  const found = new Map();
  const end = Math.min(bytes.length, parent.at + parent.size);
  for (let at = parent.at + parent.header + skip; at + 8 <= end; ) {
    const child = boxAt(bytes.subarray(0, end), at, end);
    if (!child || at + child.size > end) break;
    if (!found.has(child.type)) found.set(child.type, child);
    at += child.size;
  }
  return found;
}

/** Every `trak` of `moov`. @param {Uint8Array} bytes @param {Box} moov */
function tracks(bytes, moov) {
  const found = [];
  const end = moov.at + moov.size;
  for (let at = moov.at + moov.header; at + 8 <= end; ) {
    const child = boxAt(bytes, at, end);
    if (!child || at + child.size > end) break;
    if (child.type === 'trak') found.push(child);
    at += child.size;
  }
  return found;
}

/**
 * Follows `path` of box types down from `box`.
 * @param {Uint8Array} bytes
 * @param {Box | undefined} box
 * @param {string[]} path
 */
function down(bytes, box, path) {
  for (const type of path) box = box && children(bytes, box).get(type);
  return box;
}

/**
 * The first AAC-LC sound track of the `moov` box at the start of `bytes`
 * (the whole box), or null when there is none this reader can cut.
 * @param {Uint8Array} bytes
 * @param {number} fileSize the file's length: every frame must lie within it
 * @returns {M4aTrack | null}
 */
export function m4aTrack(bytes, fileSize) {
  const moov = boxAt(bytes, 0, bytes.length);
  if (!moov || moov.type !== 'moov' || moov.size > bytes.length) return null;
  const mvhd = down(bytes, moov, ['mvhd']);
  const movieScale = mvhd ? fullBoxTimescale(bytes, mvhd) : 0;
  for (const trak of tracks(bytes, moov)) {
    const mdia = down(bytes, trak, ['mdia']);
    const hdlr = down(bytes, mdia, ['hdlr']);
    if (!hdlr || type4(bytes, hdlr.at + hdlr.header + 8) !== 'soun') continue;
    const mdhd = down(bytes, mdia, ['mdhd']);
    const stbl = down(bytes, mdia, ['minf', 'stbl']);
    const timescale = mdhd ? fullBoxTimescale(bytes, mdhd) : 0;
    if (!stbl || !timescale) return null;
    const table = children(bytes, stbl);
    const config = audioConfig(bytes, table.get('stsd'));
    if (!config) return null;
    // Track time is counted at the decoder's rate, frame by frame.
    if (timescale !== config.rate) return null;
    const frames = sampleTable(bytes, table, fileSize);
    if (!frames) return null;
    const edit = editList(bytes, down(bytes, trak, ['edts', 'elst']));
    const end = frames.times[frames.times.length - 1];
    const priming = Math.min(edit ? edit.mediaTime : 0, end);
    const listed = edit && movieScale && edit.duration ? Math.round((edit.duration * timescale) / movieScale) : Infinity;
    const duration = Math.min(listed, end - priming);
    if (duration <= 0) return null;
    return { timescale, channels: config.channels, priming, duration, adts: config.adts, ...frames };
  }
  return null;
}

/** @param {Uint8Array} bytes @param {number} at */
function type4(bytes, at) {
  return String.fromCharCode(...bytes.subarray(at, at + 4));
}

/** The timescale of an `mvhd` or `mdhd` box. @param {Uint8Array} bytes @param {Box} box */
function fullBoxTimescale(bytes, box) {
  const at = box.at + box.header;
  const wide = bytes[at] === 1;
  if (at + (wide ? 24 : 16) > Math.min(bytes.length, box.at + box.size)) return 0;
  const view = new DataView(bytes.buffer, bytes.byteOffset + at);
  return wide ? view.getUint32(20) : view.getUint32(12);
}

/**
 * The first non-empty edit: where the track starts in the media (the
 * encoder's priming) and for how long it plays (in the movie's timescale).
 * @param {Uint8Array} bytes
 * @param {Box | undefined} elst
 */
function editList(bytes, elst) {
  if (!elst) return null;
  const at = elst.at + elst.header;
  const view = new DataView(bytes.buffer, bytes.byteOffset + at, elst.size - elst.header);
  if (view.byteLength < 8) return null;
  const wide = view.getUint8(0) === 1;
  const entry = wide ? 20 : 12;
  const count = Math.min(view.getUint32(4), Math.floor((view.byteLength - 8) / entry));
  for (let i = 0; i < count; i += 1) {
    const e = 8 + i * entry;
    const duration = wide ? view.getUint32(e) * 2 ** 32 + view.getUint32(e + 4) : view.getUint32(e);
    const mediaTime = wide ? view.getInt32(e + 8) * 2 ** 32 + view.getUint32(e + 12) : view.getInt32(e + 4);
    if (mediaTime >= 0) return { duration, mediaTime };
  }
  return null;
}

/**
 * The `mp4a` entry's AAC configuration, as the fixed bits of an ADTS
 * header (profile, rate, channels); null for anything but AAC-LC at a
 * standard rate with a standard channel layout.
 * @param {Uint8Array} bytes
 * @param {Box | undefined} stsd
 */
function audioConfig(bytes, stsd) {
  if (!stsd) return null;
  const entry = boxAt(bytes, stsd.at + stsd.header + 8, stsd.at + stsd.size);
  if (!entry || entry.type !== 'mp4a' || entry.at + entry.size > stsd.at + stsd.size) return null;
  // SampleEntry (8), then AudioSampleEntry: 20 bytes in version 0, 16 and
  // 36 more in QuickTime's versions 1 and 2.
  const version = (bytes[entry.at + entry.header + 8] << 8) | bytes[entry.at + entry.header + 9];
  const fields = 28 + (version === 1 ? 16 : version === 2 ? 36 : 0);
  const esds = children(bytes, entry, fields).get('esds');
  if (!esds) return null;
  const specific = decoderSpecificInfo(bytes.subarray(esds.at + esds.header + 4, esds.at + esds.size));
  if (!specific || specific.length < 2) return null;
  const objectType = specific[0] >> 3;
  const rateIndex = ((specific[0] & 7) << 1) | (specific[1] >> 7);
  const channels = (specific[1] >> 3) & 0x0f;
  // LC only: Main and LTP carry state across frames, HE-AAC's output rate
  // is not its header's. Layouts 1–7 are 1–6 and 8 channels.
  if (objectType !== 2 || rateIndex >= RATES.length || channels < 1 || channels > 7) return null;
  return { rate: RATES[rateIndex], channels: channels === 7 ? 8 : channels, adts: Uint8Array.of(0xff, 0xf1, (1 << 6) | (rateIndex << 2) | (channels >> 2), (channels & 3) << 6) };
}

/**
 * The DecoderSpecificInfo (the AudioSpecificConfig) inside an ES
 * descriptor of MPEG-4 AAC; null if the stream is not AAC.
 * @param {Uint8Array} bytes the esds box's payload after its version and flags
 */
function decoderSpecificInfo(bytes) {
  let at = 0;
  /** A descriptor's tag and length; its payload follows. */
  const descriptor = () => {
    if (at >= bytes.length) return null;
    const tag = bytes[at];
    at += 1;
    let length = 0;
    for (let i = 0; i < 4 && at < bytes.length; i += 1) {
      const byte = bytes[at];
      at += 1;
      length = (length << 7) | (byte & 0x7f);
      if (!(byte & 0x80)) break;
    }
    return { tag, length, end: Math.min(bytes.length, at + length) };
  };
  const es = descriptor();
  if (!es || es.tag !== 3) return null;
  const flags = bytes[at + 2];
  at += 3 + (flags & 0x80 ? 2 : 0) + (flags & 0x40 ? 1 + (bytes[at + 3] ?? 0) : 0) + (flags & 0x20 ? 2 : 0);
  const config = descriptor();
  // 0x40: MPEG-4 audio (AAC); MP3 in MP4 (0x6b) and the rest are not.
  if (!config || config.tag !== 4 || bytes[at] !== 0x40) return null;
  at += 13;
  const specific = descriptor();
  if (!specific || specific.tag !== 5) return null;
  return bytes.subarray(at, specific.end);
}

/**
 * Every frame's time, place and size, from the sample table boxes; null
 * when they disagree, list more than `MAX_FRAMES`, or point outside the file.
 * @param {Uint8Array} bytes
 * @param {Map<string, Box>} table
 * @param {number} fileSize
 */
function sampleTable(bytes, table, fileSize) {
  const payload = (/** @type {string} */ type) => {
    const box = table.get(type);
    return box ? new DataView(bytes.buffer, bytes.byteOffset + box.at + box.header, box.size - box.header) : null;
  };
  const stsz = payload('stsz');
  const stts = payload('stts');
  const stsc = payload('stsc');
  const stco = payload('stco') ?? payload('co64');
  const wideOffsets = !table.has('stco');
  if (!stsz || !stts || !stsc || !stco || stsz.byteLength < 12 || stts.byteLength < 8 || stsc.byteLength < 8 || stco.byteLength < 8) return null;
  const fixed = stsz.getUint32(4);
  const count = stsz.getUint32(8);
  if (count === 0 || count > MAX_FRAMES || (!fixed && stsz.byteLength < 12 + 4 * count)) return null;
  const sizes = new Uint32Array(count);
  for (let k = 0; k < count; k += 1) sizes[k] = fixed || stsz.getUint32(12 + 4 * k);
  // Durations, run-length coded.
  const times = new Float64Array(count + 1);
  const runs = Math.min(stts.getUint32(4), Math.floor((stts.byteLength - 8) / 8));
  for (let run = 0, k = 0; run < runs && k < count; run += 1) {
    const frames = stts.getUint32(8 + 8 * run);
    const delta = stts.getUint32(12 + 8 * run);
    for (let i = 0; i < frames && k < count; i += 1, k += 1) times[k + 1] = times[k] + delta;
  }
  // Frames per chunk (run-length coded by first chunk), and the chunks' places.
  const chunks = Math.min(stco.getUint32(4), Math.floor((stco.byteLength - 8) / (wideOffsets ? 8 : 4)));
  const entries = Math.min(stsc.getUint32(4), Math.floor((stsc.byteLength - 8) / 12));
  const offsets = new Float64Array(count);
  let k = 0;
  for (let entry = 0; entry < entries && k < count; entry += 1) {
    const firstChunk = stsc.getUint32(8 + 12 * entry) - 1;
    const lastChunk = entry + 1 < entries ? stsc.getUint32(8 + 12 * (entry + 1)) - 1 : chunks;
    const perChunk = stsc.getUint32(12 + 12 * entry);
    if (firstChunk < 0 || lastChunk < firstChunk || perChunk === 0) return null;
    for (let chunk = firstChunk; chunk < Math.min(lastChunk, chunks) && k < count; chunk += 1) {
      let at = wideOffsets ? stco.getUint32(8 + 8 * chunk) * 2 ** 32 + stco.getUint32(12 + 8 * chunk) : stco.getUint32(8 + 4 * chunk);
      for (let i = 0; i < perChunk && k < count; i += 1, k += 1) {
        offsets[k] = at;
        at += sizes[k];
      }
    }
  }
  if (k < count || times[count] <= times[count - 1]) return null;
  for (let i = 0; i < count; i += 1) {
    if (offsets[i] + sizes[i] > fileSize || sizes[i] + 7 > 0x1fff || times[i + 1] <= times[i]) return null;
  }
  return { times, offsets, sizes };
}

/**
 * What to decode for track samples [from, stop): frames [first, end), and
 * how many decoded samples to throw away before `from` (`skip`).
 * @param {M4aTrack} track
 * @param {number} from
 * @param {number} stop
 */
export function m4aCut(track, from, stop) {
  const { times, priming } = track;
  const count = times.length - 1;
  /** The frame holding media sample `t`. @param {number} t */
  const frameOf = (t) => {
    let lo = 0;
    let hi = count - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (times[mid] <= t) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  const first = Math.max(0, frameOf(from + priming) - PRE_ROLL_FRAMES);
  const end = Math.min(count, frameOf(Math.max(from, stop - 1) + priming) + 1);
  return { first, end, skip: from + priming - times[first] };
}

/**
 * Frames [first, end) of `track`, each behind its ADTS header, from
 * `bytes`, which hold the file from byte `base` on.
 * @param {M4aTrack} track
 * @param {number} first
 * @param {number} end
 * @param {Uint8Array} bytes
 * @param {number} base
 */
export function adtsFrames(track, first, end, bytes, base) {
  let length = 0;
  for (let k = first; k < end; k += 1) length += 7 + track.sizes[k];
  const out = new Uint8Array(length);
  let at = 0;
  for (let k = first; k < end; k += 1) {
    const size = track.sizes[k];
    const frame = size + 7;
    out.set(track.adts, at);
    out[at + 3] |= frame >> 11;
    out[at + 4] = (frame >> 3) & 0xff;
    out[at + 5] = ((frame & 7) << 5) | 0x1f;
    out[at + 6] = 0xfc;
    const from = track.offsets[k] - base;
    out.set(bytes.subarray(from, from + size), at + 7);
    at += frame;
  }
  return out;
}
