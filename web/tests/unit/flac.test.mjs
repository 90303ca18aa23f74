// FLAC's stream header, its frames found by their headers and closed by
// their CRC-16, and the file a piece is decoded from. (That pieces so read
// decode to exactly the samples of a whole decode is checked in Chromium:
// tests/pieces.mjs.)
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { firstFrame, flacFile, flacStart, frameEnd, frameHeader, metadataBlock } from '../../src/sync/flac.js';

const fixture = new Uint8Array(readFileSync(new URL('../fixtures/chirp-10s.flac', import.meta.url)));

/** Every frame of `bytes` from the first, in order. */
function frames(bytes) {
  const start = flacStart(bytes);
  assert.ok(start);
  let at = start.next;
  for (let last = start.last; !last; ) {
    const block = metadataBlock(bytes, at);
    assert.ok(block);
    last = block.last;
    at += 4 + block.length;
  }
  const found = [];
  while (at < bytes.length) {
    const header = frameHeader(bytes, at, start.format);
    const end = frameEnd(bytes, at, start.format, true);
    assert.ok(header && end, `a frame at ${at}`);
    found.push({ at, end, ...header });
    at = end;
  }
  return { start, found };
}

test('the stream header says what the encoder wrote', () => {
  const start = flacStart(fixture);
  assert.deepEqual(start?.format, { sampleRate: 16_000, channels: 2, bitsPerSample: 16, totalSamples: 168_000, minBlock: 4096, maxBlock: 4096, maxFrame: start?.format.maxFrame });
  assert.ok(start && start.format.maxFrame > 0 && !start.last);
  assert.equal(flacStart(fixture.subarray(0, 30)), null, 'cut inside STREAMINFO');
  assert.equal(flacStart(new TextEncoder().encode('RIFF....WAVEfmt ' + ' '.repeat(40))), null);
});

test('a tag before the stream is stepped over', () => {
  const tag = new Uint8Array(10 + 300);
  tag.set([0x49, 0x44, 0x33, 4, 0, 0, 0, 0, 2, 44]); // ID3v2.4, 300 bytes
  const tagged = new Uint8Array(tag.length + fixture.length);
  tagged.set(tag);
  tagged.set(fixture, tag.length);
  assert.equal(flacStart(tagged)?.next, (flacStart(fixture)?.next ?? 0) + tag.length);
});

test('the frames follow each other, numbered by their first sample, to the last sample', () => {
  const { start, found } = frames(fixture);
  assert.equal(found.length, Math.ceil(168_000 / 4096));
  found.forEach((frame, index) => assert.equal(frame.firstSample, index * 4096));
  const last = found[found.length - 1];
  assert.equal(last.firstSample + last.blockSize, start.format.totalSamples);
  assert.equal(last.end, fixture.length);
});

test('a frame is found from anywhere before it, and a chance sync inside one is not a frame', () => {
  const { start, found } = frames(fixture);
  const [, second, third] = found;
  // From just after the first frame's sync: the next real one is found.
  assert.equal(firstFrame(fixture, found[0].at + 1, start.format, true)?.at, second.at);
  // A sync pattern with a good header planted inside a frame's body breaks
  // that frame's CRC-16 only, and is skipped as a frame start.
  const planted = fixture.slice();
  const inside = second.at + 100;
  planted.set(fixture.subarray(third.at, third.at + 8), inside);
  assert.ok(frameHeader(planted, inside, start.format), 'the planted header parses');
  assert.notEqual(firstFrame(planted, second.at + 1, start.format, true)?.at, inside);
});

test('a frame whose end is not here yet is neither a frame nor broken', () => {
  const { start, found } = frames(fixture);
  const [first] = found;
  assert.equal(frameEnd(fixture.subarray(0, first.end - 1), first.at, start.format, false), undefined);
  assert.equal(frameEnd(fixture.subarray(0, first.end - 1), first.at, start.format, true), null);
  assert.equal(frameEnd(fixture.subarray(0, first.end + 1), first.at, start.format, false), undefined, 'a byte of the next header');
  assert.equal(frameEnd(fixture.subarray(0, first.end + 16), first.at, start.format, false), first.end, 'the next header whole');
});

test('frame numbers of several bytes are read', () => {
  const { format } = /** @type {NonNullable<ReturnType<typeof flacStart>>} */ (flacStart(fixture));
  // Frame 1000: 0xC0|(1000>>6), 0x80|(1000&63); block size 4096 (code 12), rate from STREAMINFO.
  const crc8 = (bytes) => bytes.reduce((c, byte) => {
    c ^= byte;
    for (let bit = 0; bit < 8; bit += 1) c = c & 0x80 ? ((c << 1) ^ 0x07) & 0xff : (c << 1) & 0xff;
    return c;
  }, 0);
  const header = [0xff, 0xf8, 0xc0, 0x18, 0xc0 | (1000 >> 6), 0x80 | (1000 & 63)];
  const frame = new Uint8Array([...header, crc8(header), 0, 0, 0]);
  assert.deepEqual(frameHeader(frame, 0, format), { firstSample: 1000 * 4096, blockSize: 4096, headerLength: 7 });
  frame[6] ^= 1;
  assert.equal(frameHeader(frame, 0, format), null, 'a bad CRC-8');
});

test('a piece’s file is the stream’s header over its frames, its length left unknown', () => {
  const { start, found } = frames(fixture);
  const body = fixture.subarray(found[3].at, found[6].at);
  const file = flacFile(start.streamInfo, body);
  const again = flacStart(file);
  assert.deepEqual(again?.format, { ...start.format, totalSamples: 0 });
  assert.equal(again?.last, true);
  assert.deepEqual(file.subarray(again?.next), body);
  assert.deepEqual(frames(file).found.map((frame) => frame.firstSample), [3, 4, 5].map((n) => n * 4096));
});
