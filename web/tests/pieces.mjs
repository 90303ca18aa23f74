// In Chromium: a track played in pieces (web/src/sync/source.js, fetched by
// ranges from a server that answers them) gives the samples the browser's
// decoder gives for the whole file — exactly for an MP3 read in order and
// for FLAC and Ogg Vorbis read by seeking, pieces asked for out of order;
// within a bound for Opus, whose decoder state a piece rebuilds from its
// pre-roll. Run by ./deploy/test; prints PASS or FAIL lines and exits
// non-zero on a failure.
import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { flacStart, frameEnd, frameHeader } from '../src/sync/flac.js';
import { rangeServer } from './range-server.mjs';

const here = new URL('.', import.meta.url);
const mp3 = readFileSync(new URL('fixtures/noise-30s-vbr.mp3', here));
const flac = new Uint8Array(readFileSync(new URL('fixtures/chirp-10s.flac', here)));
const fixture = (/** @type {string} */ name) => new Uint8Array(readFileSync(new URL(`fixtures/${name}`, here)));

// Checksums written here from their definitions (not flac.js's tables), so
// a file this test builds does not depend on the code it tests.
const crc = (/** @type {Uint8Array} */ bytes, poly, width) => {
  const top = 1 << (width - 1);
  const mask = (1 << width) - 1;
  let c = 0;
  for (const byte of bytes) {
    c ^= byte << (width - 8);
    for (let bit = 0; bit < 8; bit += 1) c = c & top ? ((c << 1) ^ poly) & mask : (c << 1) & mask;
  }
  return c;
};

/** A frame number as FLAC codes it (UTF-8's scheme, to 36 bits). @param {number} n */
function coded(n) {
  if (n < 0x80) return [n];
  // k continuation bytes carry 6k bits, the lead byte 6 − k more.
  let k = 1;
  while (n >= 2 ** (5 * k + 6)) k += 1;
  const tail = [];
  for (let i = 0; i < k; i += 1) {
    tail.unshift(0x80 | (n & 0x3f));
    n = Math.floor(n / 64);
  }
  return [((0xff << (7 - k)) & 0xff) | n, ...tail];
}

/**
 * The fixture's whole frames repeated `copies` times, renumbered and
 * checksummed again: a long FLAC (a seek is needed to reach its middle
 * cheaply), its frames behind a PADDING block of `padding` bytes if asked.
 */
function longFlac(copies, padding = 0) {
  const start = flacStart(flac);
  if (!start) throw new Error('the fixture is not FLAC');
  const { format } = start;
  let at = start.next;
  for (let last = start.last; !last; ) {
    last = (flac[at] & 0x80) !== 0;
    at += 4 + ((flac[at + 1] << 16) | (flac[at + 2] << 8) | flac[at + 3]);
  }
  const frames = [];
  while (at < flac.length) {
    const header = frameHeader(flac, at, format);
    const end = frameEnd(flac, at, format, true);
    if (!header || !end) throw new Error(`no frame at ${at}`);
    if (header.blockSize === format.maxBlock) frames.push({ header, bytes: flac.subarray(at, end) });
    at = end;
  }
  const out = [];
  for (let copy = 0; copy < copies; copy += 1) {
    frames.forEach(({ header, bytes }, index) => {
      // Sync, sizes, channels; the number; the block size and rate fields; CRC-8.
      const fields = bytes.subarray(4 + coded(header.firstSample / format.maxBlock).length, header.headerLength - 1);
      const head = [...bytes.subarray(0, 4), ...coded(copy * frames.length + index), ...fields];
      const frame = [...head, crc(new Uint8Array(head), 0x07, 8), ...bytes.subarray(header.headerLength, bytes.length - 2)];
      const sum = crc(new Uint8Array(frame), 0x8005, 16);
      out.push(new Uint8Array([...frame, sum >> 8, sum & 0xff]));
    });
  }
  const totalSamples = copies * frames.length * format.maxBlock;
  const info = start.streamInfo.slice();
  info[13] = (info[13] & 0xf0) | Math.floor(totalSamples / 2 ** 32);
  new DataView(info.buffer).setUint32(14, totalSamples >>> 0);
  info.fill(0, 18, 34);
  info.fill(0, 4, 10); // frame sizes: unknown
  const blocks = padding ? [[0x00, 0, 0, 34], info, [0x81, padding >> 16, (padding >> 8) & 0xff, padding & 0xff], new Uint8Array(padding)] : [[0x80, 0, 0, 34], info];
  const parts = [[0x66, 0x4c, 0x61, 0x43], ...blocks, ...out];
  const file = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    file.set(part, offset);
    offset += part.length;
  }
  return file;
}

/** Ogg's CRC-32, bit by bit from its definition. @param {Uint8Array} bytes */
function crc32(bytes) {
  let c = 0;
  for (const byte of bytes) {
    c ^= byte << 24;
    for (let bit = 0; bit < 8; bit += 1) c = c & 0x80000000 ? (c << 1) ^ 0x04c11db7 : c << 1;
  }
  return c >>> 0;
}

/**
 * The Opus fixture with cover art in its tags: its OpusTags packet replaced
 * by one of `size` bytes, laid over as many pages as that takes, so that
 * the headers run far past the reader's first 64 KiB.
 */
function taggedOpus(size) {
  const opus = fixture('sweep-15s.opus');
  const pageLength = (at) => 27 + opus[at + 26] + opus.subarray(at + 27, at + 27 + opus[at + 26]).reduce((a, b) => a + b, 0);
  const idEnd = pageLength(0);
  const tagsEnd = idEnd + pageLength(idEnd); // the fixture's tags fit one page
  const serial = opus.subarray(14, 18);
  const picture = 'METADATA_BLOCK_PICTURE=' + 'A'.repeat(size);
  const tags = new Uint8Array([...new TextEncoder().encode('OpusTags'), 0, 0, 0, 0, 1, 0, 0, 0, ...new Uint8Array(new Uint32Array([picture.length]).buffer), ...new TextEncoder().encode(picture)]);
  const pages = [];
  for (let at = 0, sequence = 1; at <= tags.length; sequence += 1) {
    const body = tags.subarray(at, at + 255 * 255);
    const laces = [];
    for (let left = body.length; laces.length < 255; left -= 255) {
      laces.push(Math.min(255, left));
      if (left < 255) break;
    }
    const page = new Uint8Array([0x4f, 0x67, 0x67, 0x53, 0, at > 0 ? 1 : 0, 0, 0, 0, 0, 0, 0, 0, 0, ...serial, sequence, 0, 0, 0, 0, 0, 0, 0, laces.length, ...laces, ...body]);
    new DataView(page.buffer).setUint32(22, crc32(page), true);
    pages.push(page);
    at += body.length;
    if (laces[laces.length - 1] < 255) break;
  }
  return new Uint8Array([...opus.subarray(0, idEnd), ...pages.flatMap((page) => [...page]), ...opus.subarray(tagsEnd)]);
}

/** Samples in an Opus packet, from its TOC byte (RFC 6716 3.1). @param {Uint8Array} packet */
function opusSamples(packet) {
  const config = packet[0] >> 3;
  const ms = config < 12 ? [10, 20, 40, 60][config % 4] : config < 16 ? [10, 20][config % 2] : [2.5, 5, 10, 20][config % 4];
  const code = packet[0] & 3;
  const frames = code === 0 ? 1 : code < 3 ? 2 : packet[1] & 0x3f;
  return frames * ms * 48;
}

/**
 * The Opus fixture's audio `copies` times over, one stream: its packets
 * laid on pages again, `merge` of the fixture's pages to one (but the
 * last, which stays short, as an encoder's last page is), with granule
 * positions counted on from each packet's length, numbered on and
 * checksummed again. Long enough that a seek is needed to reach its end
 * cheaply; with `merge`, its pages longer than its last one.
 */
function longOpus(copies, merge = 1) {
  const opus = fixture('sweep-15s.opus');
  const pages = [];
  for (let at = 0; at < opus.length; ) {
    const count = opus[at + 26];
    const laces = opus.subarray(at + 27, at + 27 + count);
    const length = 27 + count + laces.reduce((a, b) => a + b, 0);
    pages.push({ bytes: opus.subarray(at, at + length), laces, granule: new DataView(opus.buffer, opus.byteOffset + at).getUint32(6, true) });
    at += length;
  }
  const [id, tags, ...audio] = pages;
  // The fixture's pages, copied: each one's laces, body and granule position.
  const copied = [];
  let granule = 0;
  let packet = [];
  for (let copy = 0; copy < copies; copy += 1) {
    for (const [index, page] of audio.entries()) {
      let at = 27 + page.laces.length;
      let ended = false;
      for (const lace of page.laces) {
        packet.push(...page.bytes.subarray(at, at + lace));
        at += lace;
        if (lace < 255) {
          granule += opusSamples(new Uint8Array(packet));
          packet = [];
          ended = true;
        }
      }
      const final = copy === copies - 1 && index === audio.length - 1;
      // The fixture's last page ends its stream early (end trimming): kept only at the very end.
      const position = final ? page.granule + (copies - 1) * (granule / copies) : granule;
      copied.push({ laces: [...page.laces], body: page.bytes.subarray(27 + page.laces.length), granule: ended ? position : -1, final });
    }
  }
  const out = [id.bytes, tags.bytes];
  for (let i = 0, sequence = 2; i < copied.length; sequence += 1) {
    const group = [copied[i]];
    i += 1;
    while (group.length < merge && i < copied.length && !copied[i].final && group.reduce((n, page) => n + page.laces.length, 0) + copied[i].laces.length <= 255) {
      group.push(copied[i]);
      i += 1;
    }
    const laces = group.flatMap((page) => page.laces);
    const body = group.flatMap((page) => [...page.body]);
    const last = group[group.length - 1];
    const written = last.granule >= 0 ? last.granule : group.reduce((g, page) => (page.granule >= 0 ? page.granule : g), -1);
    const bytes = new Uint8Array([0x4f, 0x67, 0x67, 0x53, 0, last.final ? 4 : 0, ...new Uint8Array(20), laces.length, ...laces, ...body]);
    const view = new DataView(bytes.buffer);
    view.setUint32(6, written >= 0 ? written % 2 ** 32 : 0xffffffff, true);
    view.setUint32(10, written >= 0 ? Math.floor(written / 2 ** 32) : 0xffffffff, true);
    bytes.set(opus.subarray(14, 18), 14);
    view.setUint32(18, sequence, true);
    view.setUint32(22, crc32(bytes), true);
    out.push(bytes);
  }
  return new Uint8Array(out.flatMap((bytes) => [...bytes]));
}

/**
 * The M4A fixture (its table after its audio) with `padding` bytes of a
 * `free` box before the audio, and its table's chunk offsets moved on to
 * match: a reader must step over the padding and the audio by their box
 * headers to reach the table, and a piece must not cost the file.
 */
function paddedM4a(padding) {
  const m4a = fixture('sweep-8s.m4a');
  const ftyp = new DataView(m4a.buffer, m4a.byteOffset).getUint32(0);
  const free = new Uint8Array(padding);
  new DataView(free.buffer).setUint32(0, padding);
  free.set([0x66, 0x72, 0x65, 0x65], 4);
  const out = new Uint8Array([...m4a.subarray(0, ftyp), ...free, ...m4a.subarray(ftyp)]);
  const view = new DataView(out.buffer);
  const stco = out.findIndex((_, i) => out[i] === 0x73 && out[i + 1] === 0x74 && out[i + 2] === 0x63 && out[i + 3] === 0x6f);
  const count = view.getUint32(stco + 8);
  for (let i = 0; i < count; i += 1) view.setUint32(stco + 12 + 4 * i, view.getUint32(stco + 12 + 4 * i) + padding);
  return out;
}

const files = {
  '/track.mp3': mp3,
  '/short.flac': flac,
  '/long.flac': longFlac(12),
  '/padded.flac': longFlac(2, 100_000),
  '/sweep.ogg': fixture('sweep-15s.ogg'),
  '/sweep.opus': fixture('sweep-15s.opus'),
  '/tagged.opus': taggedOpus(300_000),
  '/long.opus': longOpus(16),
  '/long-pages.opus': longOpus(16, 8),
  '/sweep.m4a': fixture('sweep-8s.m4a'),
  '/faststart.m4a': fixture('sweep-8s-faststart.m4a'),
  '/padded.m4a': paddedM4a(2_000_000),
};
const { base, ranged: served, close } = await rangeServer(files);
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
let failed = false;
const ok = (what, pass, detail = '') => {
  console.log(`${pass ? 'PASS' : 'FAIL'} ${what}${detail ? ` (${detail})` : ''}`);
  if (!pass) failed = true;
};

/**
 * Opens `path` in pieces and compares each (asked for in `order`, or in
 * turn) with the whole file decoded at once.
 */
async function compare(page, path, rate, hint, order) {
  return page.evaluate(
    async ({ path, rate, hint, order }) => {
      const { openSource } = await import('/source.js');
      const bytes = await (await fetch(path)).arrayBuffer();
      // At the file's own rate: the reference is not resampled.
      const whole = await new OfflineAudioContext(1, 1, rate).decodeAudioData(bytes);
      const opened = await openSource(new OfflineAudioContext(1, 1, 48_000), path, new AbortController().signal, hint);
      const indexes = order === 'shuffled' ? [...Array(opened.pieces).keys()].sort((a, b) => ((a * 7919) % 13) - ((b * 7919) % 13)) : [...Array(opened.pieces).keys()];
      const perPiece = Math.round(opened.pieceSeconds * whole.sampleRate);
      let worst = 0;
      let covered = 0;
      const lengths = [];
      for (const index of indexes) {
        const piece = await opened.piece(index);
        lengths[index] = piece.length;
        covered += piece.length;
        for (let channel = 0; channel < whole.numberOfChannels; channel += 1) {
          const samples = piece.getChannelData(channel);
          const reference = whole.getChannelData(channel).subarray(index * perPiece);
          for (let i = 0; i < samples.length; i += 1) worst = Math.max(worst, Math.abs(samples[i] - (reference[i] ?? Infinity)));
        }
      }
      return { worst, covered, whole: whole.length, lengths, perPiece, pieces: opened.pieces, duration: opened.duration, wholeDuration: whole.duration };
    },
    { path, rate, hint, order },
  );
}

try {
  const page = await browser.newPage();
  await page.goto(base);
  // An Opus decoder started cold differs from the whole decode by up to
  // 2e-3 (-54 dBFS) for about three seconds (measured: then they agree to
  // the bit), however long the pre-roll under that: a difference in level,
  // not in time. A piece one sample out of place is off by 0.1 or more.
  const OPUS_BOUND = 4e-3;
  for (const [path, rate, hint, order, bound] of [
    ['/track.mp3', 22_050, 30, 'in turn', 0],
    ['/short.flac', 16_000, undefined, 'in turn', 0],
    ['/long.flac', 16_000, undefined, 'shuffled', 0],
    ['/padded.flac', 16_000, undefined, 'shuffled', 0],
    ['/sweep.ogg', 22_050, undefined, 'shuffled', 0],
    ['/sweep.opus', 48_000, undefined, 'shuffled', OPUS_BOUND],
    ['/tagged.opus', 48_000, undefined, 'in turn', OPUS_BOUND],
    ['/long.opus', 48_000, undefined, 'shuffled', OPUS_BOUND],
    ['/long-pages.opus', 48_000, undefined, 'shuffled', OPUS_BOUND],
    // AAC-LC is exact too, where the encoder substituted no noise (PNS,
    // off in the fixtures: a decoder draws that noise afresh).
    ['/sweep.m4a', 22_050, undefined, 'shuffled', 0],
    ['/faststart.m4a', 22_050, undefined, 'in turn', 0],
    ['/padded.m4a', 22_050, undefined, 'shuffled', 0],
  ]) {
    served[path] = 0;
    const result = await compare(page, path, rate, hint, order);
    const fetched = served[path];
    const how = bound === 0 ? 'to the bit' : `within ${bound}`;
    ok(`${path}, pieces ${order}: every piece is the whole decode’s samples, ${how}`, result.worst <= bound, `worst difference ${result.worst}`);
    ok(`${path}: the pieces cover the whole track`, result.covered === result.whole, `${result.covered} samples in ${result.pieces} pieces, ${result.whole} decoded whole`);
    ok(`${path}: the pieces are ${result.perPiece} samples each but the last`, result.lengths.slice(0, -1).every((n) => n === result.perPiece), JSON.stringify(result.lengths));
    ok(`${path}: the file was fetched by ranges`, fetched > 0, `${fetched} bytes in ranges of ${files[path].length}`);
    if (path !== '/track.mp3') ok(`${path}: its length is known before any piece`, Math.abs(result.duration - result.wholeDuration) < 1e-6, `${result.duration} s`);
  }
  // Seeking reads near what it needs: asked for the last piece alone, a
  // long FLAC costs a small part of its bytes.
  served['/long.flac'] = 0;
  const last = await page.evaluate(async () => {
    const { openSource } = await import('/source.js');
    const opened = await openSource(new OfflineAudioContext(1, 1, 48_000), '/long.flac', new AbortController().signal);
    return (await opened.piece(opened.pieces - 2)).length;
  });
  ok('one piece from the end of a long FLAC fetches a small part of it', served['/long.flac'] < files['/long.flac'].length / 4, `${served['/long.flac']} of ${files['/long.flac'].length} bytes for ${last} samples`);
  // The same with pages eight times longer than its last one (which a
  // seek first learns the pages' length from).
  for (const path of ['/long.opus', '/long-pages.opus']) {
    served[path] = 0;
    const samples = await page.evaluate(async (path) => {
      const { openSource } = await import('/source.js');
      const opened = await openSource(new OfflineAudioContext(1, 1, 48_000), path, new AbortController().signal);
      return (await opened.piece(opened.pieces - 3)).length;
    }, path);
    ok(`one piece from the end of ${path} fetches a small part of it`, served[path] < files[path].length / 4, `${served[path]} of ${files[path].length} bytes for ${samples} samples`);
  }
} catch (error) {
  ok('the run finished', false, String(error));
} finally {
  await browser.close();
  close();
}
process.exit(failed ? 1 : 0);
