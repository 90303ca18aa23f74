// In Chromium: a track played in pieces (web/src/sync/source.js, fetched by
// ranges from a server that answers them) gives exactly the samples the
// browser's decoder gives for the whole file — an MP3 read in order, and
// FLAC files read by seeking, pieces asked for out of order. Run by
// ./deploy/test; prints PASS or FAIL lines and exits non-zero on a failure.
import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { flacStart, frameEnd, frameHeader } from '../src/sync/flac.js';
import { rangeServer } from './range-server.mjs';

const here = new URL('.', import.meta.url);
const mp3 = readFileSync(new URL('fixtures/noise-30s-vbr.mp3', here));
const flac = new Uint8Array(readFileSync(new URL('fixtures/chirp-10s.flac', here)));

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

const files = {
  '/track.mp3': mp3,
  '/short.flac': flac,
  '/long.flac': longFlac(12),
  '/padded.flac': longFlac(2, 100_000),
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
  for (const [path, rate, hint, order] of [
    ['/track.mp3', 22_050, 30, 'in turn'],
    ['/short.flac', 16_000, undefined, 'in turn'],
    ['/long.flac', 16_000, undefined, 'shuffled'],
    ['/padded.flac', 16_000, undefined, 'shuffled'],
  ]) {
    served[path] = 0;
    const result = await compare(page, path, rate, hint, order);
    const fetched = served[path];
    ok(`${path}, pieces ${order}: every piece is the whole decode’s samples, to the bit`, result.worst === 0, `worst difference ${result.worst}`);
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
} catch (error) {
  ok('the run finished', false, String(error));
} finally {
  await browser.close();
  close();
}
process.exit(failed ? 1 : 0);
