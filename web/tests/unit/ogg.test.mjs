// Ogg pages found by their capture pattern and proved by their CRC-32, the
// header packets of Vorbis and Opus, and the header pages a piece is
// decoded behind. (That pieces so read decode to the whole decode's
// samples is checked in Chromium: tests/pieces.mjs.)
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { nextPage, oggCrc, oggPage, oggPages, oggStart } from '../../src/sync/ogg.js';

const fixture = (name) => new Uint8Array(readFileSync(new URL(`../fixtures/${name}`, import.meta.url)));
const vorbis = fixture('sweep-15s.ogg');
const opus = fixture('sweep-15s.opus');

/** Every page from `at` on, in order. */
function pages(bytes, at = 0) {
  const found = [];
  while (at < bytes.length) {
    const page = oggPage(bytes, at);
    assert.ok(page, `a page at ${at}`);
    found.push(page);
    at += page.length;
  }
  return found;
}

test('the CRC is Ogg’s: the known check value, and every page of a file agrees', () => {
  // CRC-32/MPEG-2 without its initial all-ones and final xor: "123456789" gives 0x89a1897f.
  assert.equal(oggCrc(new TextEncoder().encode('123456789')), 0x89a1897f);
  assert.equal(pages(vorbis).length > 10, true);
});

test('Vorbis and Opus headers say what the encoders wrote', () => {
  const v = oggStart(vorbis);
  assert.ok(v);
  assert.deepEqual({ codec: v.codec, channels: v.channels, rate: v.rate, preSkip: v.preSkip }, { codec: 'vorbis', channels: 1, rate: 22_050, preSkip: 0 });
  const o = oggStart(opus);
  assert.ok(o);
  assert.deepEqual({ codec: o.codec, channels: o.channels, rate: o.rate, preSkip: o.preSkip }, { codec: 'opus', channels: 2, rate: 48_000, preSkip: 312 });
  // The last page's granule position is the stream's length (and its pre-skip).
  const last = pages(opus, o.audioStart).at(-1);
  assert.equal(last?.granule, 15 * 48_000 + 312);
  assert.ok(last?.last);
});

test('a piece’s headers are the stream’s, tags dropped, and read back as such', () => {
  for (const bytes of [vorbis, opus]) {
    const start = oggStart(bytes);
    assert.ok(start);
    assert.ok(start.headers.length < start.audioStart + 64, 'no bigger than the original');
    const rebuilt = new Uint8Array([...start.headers, ...bytes.subarray(start.audioStart)]);
    const again = oggStart(rebuilt);
    assert.ok(again);
    assert.equal(again.audioStart, start.headers.length);
    assert.deepEqual({ ...again, headers: null, audioStart: 0 }, { ...start, headers: null, audioStart: 0 });
    assert.equal(pages(rebuilt).length, pages(bytes).length - (bytes === vorbis ? pages(bytes.subarray(0, start.audioStart)).length - 2 : 0));
  }
});

test('a packet longer than a page runs on over pages that say so', () => {
  const big = new Uint8Array(200_000).map((_, i) => i % 251);
  const written = oggPages(7, [[Uint8Array.of(1, 2, 3)], [big, Uint8Array.of(9)]]);
  const found = pages(written);
  assert.equal(found.length, 1 + Math.ceil((200_000 / 255 + 2) / 255));
  assert.ok(found[0].first && !found[1].continued && found.slice(2).every((page) => page.continued));
  assert.ok(found.every((page) => page.serial === 7 && page.granule === 0));
  // The bodies, joined, are the packets.
  const body = found.slice(1).flatMap((page) => [...written.subarray(page.at + 27 + page.laces.length, page.at + page.length)]);
  assert.deepEqual(body, [...big, 9]);
  // A packet of exactly 255 bytes ends on a zero lace.
  const exact = pages(oggPages(1, [[new Uint8Array(255)]]));
  assert.deepEqual([...exact[0].laces], [255, 0]);
});

test('a page is refused when its checksum fails, and waited for when cut short', () => {
  const start = oggStart(vorbis);
  assert.ok(start);
  const at = start.audioStart;
  const page = oggPage(vorbis, at);
  assert.ok(page);
  const flipped = vorbis.slice();
  flipped[at + page.length - 1] ^= 1;
  assert.equal(oggPage(flipped, at), null);
  assert.equal(oggPage(vorbis.subarray(0, at + page.length - 1), at), undefined);
  assert.equal(oggPage(vorbis.subarray(0, at + 2), at), undefined, 'two bytes of a capture pattern');
  assert.equal(oggPage(vorbis, at + 1), null);
  assert.equal(oggStart(vorbis.subarray(0, start.audioStart - 1)), undefined, 'the headers run past the bytes');
  assert.equal(oggStart(fixture('chirp-10s.flac')), null);
});

test('a seek finds the next page of its stream past chance patterns and other streams', () => {
  const start = oggStart(opus);
  assert.ok(start);
  const all = pages(opus, start.audioStart);
  const target = all[3];
  // "OggS" inside a page's body, and a page of another stream, before the target.
  const chance = new Uint8Array([...new TextEncoder().encode('OggS'), 0, 0, ...new Uint8Array(40)]);
  const other = oggPages(start.serial + 1, [[Uint8Array.of(1, 2, 3)]]);
  const bytes = new Uint8Array([...chance, ...other, ...opus.subarray(target.at)]);
  const found = nextPage(bytes, 0, start.serial);
  assert.equal(found?.granule, target.granule);
  assert.equal(found?.at, chance.length + other.length);
});

test('bytes made of page headers claiming long bodies cost a bounded search', () => {
  const header = new Uint8Array(27 + 255);
  header.set(new TextEncoder().encode('OggS'));
  header[26] = 255;
  header.fill(255, 27);
  const real = oggPages(0, [[Uint8Array.of(1)]]);
  const hostile = new Uint8Array((1 << 20) + real.length);
  for (let i = 0; i + 4 <= 1 << 20; i += 4) hostile.set(header.subarray(0, 4), i);
  for (let i = 0; i + header.length <= 1 << 20; i += 4096) hostile.set(header, i);
  hostile.set(real, 1 << 20);
  // Checking every candidate would cost gigabytes of checksums (minutes):
  // the search gives up first, and never reaches the real page at the end.
  assert.equal(nextPage(hostile, 0, 0), null);
  assert.ok(nextPage(hostile, 1 << 20, 0), 'found when the search starts near it');
});
