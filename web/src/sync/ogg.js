// Ogg Vorbis and Ogg Opus read in pieces. An Ogg file is a run of pages,
// each found by its capture pattern and proved by its CRC-32, and each
// saying (its granule position) how many samples the stream has given by
// the end of the last packet completed on it. So a page near any instant
// is found by interpolating between pages already located, and a run of
// pages handed to the browser's decoder behind the stream's headers
// decodes alone. Where its sound falls is read from its end: its last
// sample is the last page's granule position, whatever the decoder trims
// or withholds at the start. Vorbis overlaps each block with the one
// before and Opus carries state from frame to frame, so a run starts some
// way before the piece and that sound is thrown away (`PRE_ROLL`). Pure:
// node's test runner feeds it good and bad bytes.

import { concat } from './bytes.js';

/**
 * @typedef {{ at: number, length: number, continued: boolean, first: boolean,
 *   last: boolean, granule: number, serial: number, laces: Uint8Array }} OggPage
 *   `at`: where the page begins; `length`: header and body; `granule`: -1
 *   when no packet ends on the page.
 * @typedef {{ codec: 'vorbis' | 'opus', serial: number, channels: number,
 *   rate: number, preSkip: number, headers: Uint8Array, audioStart: number }} OggStart
 *   `rate`: the decoder's (Opus always decodes at 48 kHz); `preSkip`:
 *   samples of the stream before its sound (Opus); `headers`: the header
 *   pages a piece is decoded behind (tags dropped: cover art can be
 *   megabytes); `audioStart`: the byte where the first audio page begins.
 */

/** Samples decoded before a piece and thrown away, at the decoder's rate. */
export const PRE_ROLL = { vorbis: 4096, opus: 3840 };

/** The bytes the header packets may take before the reader gives up (cover art in tags). */
export const MAX_HEADERS = 16 * 1024 * 1024;

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let byte = 0; byte < 256; byte += 1) {
    let c = byte << 24;
    for (let bit = 0; bit < 8; bit += 1) c = c & 0x80000000 ? (c << 1) ^ 0x04c11db7 : c << 1;
    table[byte] = c >>> 0;
  }
  return table;
})();

/**
 * Ogg's CRC-32 (polynomial 0x04c11db7, unreflected, no final xor) of
 * `bytes`, reading the four bytes at `skip` as zero (where a page keeps it).
 * @param {Uint8Array} bytes
 * @param {number} [skip]
 */
export function oggCrc(bytes, skip = -8) {
  let crc = 0;
  for (let i = 0; i < bytes.length; i += 1) {
    const byte = i >= skip && i < skip + 4 ? 0 : bytes[i];
    crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ byte) & 0xff]) >>> 0;
  }
  return crc;
}

/**
 * The page at `at`: null when none begins there (no capture pattern, or a
 * checksum that does not match); undefined when it may, but runs past the
 * end of `bytes`.
 * @param {Uint8Array} bytes
 * @param {number} at
 * @returns {OggPage | null | undefined}
 */
export function oggPage(bytes, at) {
  if (at < 0 || at + 4 > bytes.length) return at >= 0 && isPrefix(bytes.subarray(at)) ? undefined : null;
  if (bytes[at] !== 0x4f || bytes[at + 1] !== 0x67 || bytes[at + 2] !== 0x67 || bytes[at + 3] !== 0x53) return null;
  if (at + 27 > bytes.length) return undefined;
  if (bytes[at + 4] !== 0) return null;
  const segments = bytes[at + 26];
  if (at + 27 + segments > bytes.length) return undefined;
  const laces = bytes.subarray(at + 27, at + 27 + segments);
  const length = 27 + segments + laces.reduce((sum, lace) => sum + lace, 0);
  if (at + length > bytes.length) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset + at, 27);
  if (oggCrc(bytes.subarray(at, at + length), 22) !== view.getUint32(22, true)) return null;
  const low = view.getUint32(6, true);
  const high = view.getUint32(10, true);
  // Negative granules other than -1 are not written by encoders; they are
  // read as "no position" too rather than as sample numbers.
  const granule = high >= 0x80000000 ? -1 : high * 2 ** 32 + low;
  const flags = bytes[at + 5];
  return { at, length, continued: (flags & 1) !== 0, first: (flags & 2) !== 0, last: (flags & 4) !== 0, granule, serial: view.getUint32(14, true), laces };
}

/** The bytes the page header at `at` claims (what checking it costs). @param {Uint8Array} bytes @param {number} at */
function claimed(bytes, at) {
  const segments = bytes[at + 26] ?? 0;
  return 27 + bytes.subarray(at + 27, at + 27 + segments).reduce((sum, lace) => sum + lace, 0);
}

/** Whether `tail` (under four bytes) could be the start of "OggS". @param {Uint8Array} tail */
function isPrefix(tail) {
  return [...tail].every((byte, i) => byte === 'OggS'.charCodeAt(i));
}

/**
 * The first page of `serial` at or after `from` whose granule is known,
 * entirely within `bytes`; pages of other streams and chance "OggS" bytes
 * (their checksums fail) are stepped over.
 * @param {Uint8Array} bytes
 * @param {number} from
 * @param {number} serial
 * @returns {OggPage | null}
 */
export function nextPage(bytes, from, serial) {
  // Each candidate costs a checksum over what its header claims; bytes
  // made of page headers that claim long bodies must not cost a checksum
  // of 64 KiB at every offset.
  let budget = 4 * bytes.length + 256 * 1024;
  for (let at = Math.max(0, from); at + 27 <= bytes.length && budget > 0; at += 1) {
    if (bytes[at] !== 0x4f || bytes[at + 1] !== 0x67 || bytes[at + 2] !== 0x67 || bytes[at + 3] !== 0x53) continue;
    const page = oggPage(bytes, at);
    budget -= page === null ? claimed(bytes, at) : 27;
    if (!page) continue;
    if (page.serial === serial && page.granule >= 0) return page;
    at += page.length - 1;
  }
  return null;
}

/** The packets ending on a page, and whether its last one runs on. */
function packetsOf(/** @type {Uint8Array} */ bytes, /** @type {OggPage} */ page) {
  /** @type {Uint8Array[]} */
  const parts = [];
  let at = page.at + 27 + page.laces.length;
  let start = at;
  for (const lace of page.laces) {
    at += lace;
    if (lace < 255) {
      parts.push(bytes.subarray(start, at));
      start = at;
    }
  }
  return { parts, rest: bytes.subarray(start, at) };
}

/**
 * The stream's format and headers, when `bytes` (the file from its first
 * byte) starts as Ogg Vorbis or Ogg Opus: null when it does not (or is a
 * multiplexed file, which this reader leaves to the browser whole);
 * undefined when its header packets run past `bytes`.
 * @param {Uint8Array} bytes
 * @returns {OggStart | null | undefined}
 */
export function oggStart(bytes) {
  const first = oggPage(bytes, 0);
  if (!first) return first;
  if (!first.first) return null;
  const { serial } = first;
  /** @type {Uint8Array[]} */
  const packets = [];
  let partial = new Uint8Array(0);
  let codec = /** @type {'vorbis' | 'opus' | null} */ (null);
  let at = 0;
  for (;;) {
    const page = oggPage(bytes, at);
    if (!page) return page;
    if (page.serial !== serial) return null;
    if (page.continued !== partial.length > 0) return null;
    const { parts, rest } = packetsOf(bytes, page);
    for (const [index, part] of parts.entries()) {
      packets.push(index === 0 && partial.length ? concat([partial, part]) : part);
    }
    partial = parts.length ? rest.slice() : concat([partial, rest]);
    at += page.length;
    codec ??= codecOf(packets[0]);
    if (!codec) return packets.length ? null : undefined;
    const wanted = codec === 'vorbis' ? 3 : 2;
    if (packets.length >= wanted) {
      // The first audio packet begins on a page of its own (both specs say so).
      if (packets.length > wanted || partial.length) return null;
      return describe(codec, serial, packets, at);
    }
    if (partial.length > MAX_HEADERS) return null;
  }
}

/** @param {Uint8Array | undefined} packet */
function codecOf(packet) {
  if (!packet) return null;
  const tag = String.fromCharCode(...packet.subarray(0, 8));
  if (tag.startsWith('\x01vorbis') && packet.length >= 30) return 'vorbis';
  if (tag === 'OpusHead' && packet.length >= 19) return 'opus';
  return null;
}

/**
 * @param {'vorbis' | 'opus'} codec
 * @param {number} serial
 * @param {Uint8Array[]} packets
 * @param {number} audioStart
 * @returns {OggStart | null}
 */
function describe(codec, serial, packets, audioStart) {
  const [id, , setup] = packets;
  const view = new DataView(id.buffer, id.byteOffset, id.length);
  if (codec === 'vorbis') {
    const channels = id[11];
    const rate = view.getUint32(12, true);
    if (view.getUint32(7, true) !== 0 || channels === 0 || rate === 0 || rate > 768_000 || !setup || setup[0] !== 5) return null;
    // The comment header with nothing in it: no vendor, no tags, the framing bit.
    const comments = Uint8Array.from('\x03vorbis\0\0\0\0\0\0\0\0\x01', (c) => c.charCodeAt(0));
    return { codec, serial, channels, rate, preSkip: 0, headers: oggPages(serial, [[id], [comments, setup]]), audioStart };
  }
  const channels = id[9];
  if ((id[8] & 0xf0) !== 0 || channels === 0) return null;
  const tags = Uint8Array.from('OpusTags\0\0\0\0\0\0\0\0', (c) => c.charCodeAt(0));
  return { codec, serial, channels, rate: 48_000, preSkip: view.getUint16(10, true), headers: oggPages(serial, [[id], [tags]]), audioStart };
}

/**
 * Pages of stream `serial` holding `groups` of packets, each group
 * beginning a page of its own (a packet longer than a page runs on), all
 * at granule 0: the headers a piece is decoded behind.
 * @param {number} serial
 * @param {Uint8Array[][]} groups
 */
export function oggPages(serial, groups) {
  /** @type {Uint8Array[]} */
  const pages = [];
  for (const packets of groups) {
    /** @type {number[]} */
    let laces = [];
    /** @type {Uint8Array[]} */
    let body = [];
    // Whether the page being filled begins with the rest of a packet.
    let carried = false;
    const flush = () => {
      const length = body.reduce((sum, part) => sum + part.length, 0);
      const page = new Uint8Array(27 + laces.length + length);
      page.set([0x4f, 0x67, 0x67, 0x53, 0, (carried ? 1 : 0) | (pages.length === 0 ? 2 : 0)]);
      const view = new DataView(page.buffer);
      view.setUint32(14, serial, true);
      view.setUint32(18, pages.length, true);
      page[26] = laces.length;
      page.set(laces, 27);
      let at = 27 + laces.length;
      for (const part of body) {
        page.set(part, at);
        at += part.length;
      }
      view.setUint32(22, oggCrc(page, 22), true);
      pages.push(page);
      laces = [];
      body = [];
    };
    for (const packet of packets) {
      // A packet is laced in 255s and ends on a shorter lace (0 if need be).
      let lace = 255;
      for (let at = 0; lace === 255; at += lace) {
        if (laces.length === 255) {
          flush();
          carried = at > 0;
        }
        lace = Math.min(255, packet.length - at);
        laces.push(lace);
        body.push(packet.subarray(at, at + lace));
      }
    }
    if (laces.length) flush();
    carried = false;
  }
  return concat(pages);
}
