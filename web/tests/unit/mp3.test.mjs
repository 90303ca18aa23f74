// MP3 frames found by their headers, and the cut of a piece: which bytes
// to decode and which of their samples are the piece. (That a piece so cut
// decodes to exactly the samples of a whole decode is checked in Chromium:
// tests/pieces.mjs.)
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { frameAt, moreFrames, mp3Cut, mp3Frames, PRIMING_BYTES } from '../../src/sync/mp3.js';

/** `count` MPEG-1 layer III frames, 128 kbit/s, 44.1 kHz (417 or 418 bytes each). */
function frames(count, { info = false, delay = 576 } = {}) {
  const out = [];
  for (let i = 0; i < count + (info ? 1 : 0); i += 1) {
    const padding = i % 3 === 2 ? 1 : 0;
    const frame = new Uint8Array(417 + padding).fill(0x55);
    frame.set([0xff, 0xfb, 0x90 | (padding << 1), 0x00]);
    if (info && i === 0) {
      frame.set([...'Info'].map((c) => c.charCodeAt(0)), 36);
      frame.set([0, 0, 0, 0x0f], 40);
      frame.set([...'LAME'].map((c) => c.charCodeAt(0)), 156);
      frame[156 + 21] = delay >> 4;
      frame[156 + 22] = (delay & 15) << 4;
    }
    out.push(frame);
  }
  const bytes = new Uint8Array(out.reduce((n, f) => n + f.length, 0));
  let at = 0;
  for (const f of out) {
    bytes.set(f, at);
    at += f.length;
  }
  return bytes;
}

test('a frame header gives its length, rate and samples', () => {
  const bytes = frames(2);
  assert.deepEqual(frameAt(bytes, 0), { length: 417, sampleRate: 44_100, samplesPerFrame: 1152, channels: 2, mpeg1: true });
  assert.equal(frameAt(bytes, 1), null);
  assert.equal(frameAt(new Uint8Array([0xff, 0xfb, 0xf0, 0]), 0), null, 'bitrate index 15');
  assert.equal(frameAt(new Uint8Array([0xff, 0xfd, 0x90, 0]), 0), null, 'layer II');
});

test('every frame is found, after an ID3 tag and past an Info frame', () => {
  const body = frames(10, { info: true, delay: 576 });
  const id3 = new Uint8Array(10 + 300);
  id3.set([0x49, 0x44, 0x33, 4, 0, 0, 0, 0, 2, 44]); // 300 as a synchsafe size
  const bytes = new Uint8Array(id3.length + body.length);
  bytes.set(id3);
  bytes.set(body, id3.length);
  const found = mp3Frames(bytes);
  assert.equal(found?.offsets.length, 10, 'the Info frame holds no sound');
  assert.equal(found?.offsets[0], 310 + 417);
  assert.equal(found?.skip, 576 + 529);
  assert.equal(found?.end, bytes.length);
});

test('frames arriving later extend the index; a cut-off frame waits for its bytes', () => {
  const bytes = frames(20);
  const found = mp3Frames(bytes.subarray(0, 4000));
  assert.equal(found?.offsets.length, 9);
  moreFrames(found, bytes);
  assert.equal(found?.offsets.length, 20);
  assert.equal(found?.skip, 529, 'no LAME tag: the decoder’s delay only');
});

test('what is not an MP3 this reader plays is left to the browser', () => {
  assert.equal(mp3Frames(new TextEncoder().encode('RIFF....WAVEfmt ')), null);
  assert.equal(mp3Frames(frames(1)), null, 'one frame alone could be chance');
  assert.equal(mp3Frames(new Uint8Array(0)), null);
});

test('a piece is cut on the frame grid, with the reservoir’s bytes before it', () => {
  const found = mp3Frames(frames(400));
  const second = mp3Cut(found, 1, 3, true);
  // Track time 3 s is sample 132 300 after the decoder's 529.
  assert.equal(second.start, 132_300 + 529);
  assert.equal(second.stop, 264_600 + 529);
  assert.ok(second.firstSample <= second.start - 2 * 1152, 'at least two frames before');
  const firstFrame = Math.floor(second.start / 1152);
  assert.ok(found.offsets[firstFrame] - second.fromByte >= PRIMING_BYTES);
  assert.equal(second.firstSample % 1152, 0);
  assert.equal(second.fromByte, found.offsets[second.firstSample / 1152]);
  assert.ok(second.toByte > found.offsets[Math.floor((second.stop - 1) / 1152)], 'the last frame is in');
  assert.equal(second.ready, true);
  // Not all frames here yet: a piece past them is not ready.
  const partial = mp3Frames(frames(400).subarray(0, 50_000));
  assert.equal(mp3Cut(partial, 1, 3, false).ready, false);
  assert.equal(mp3Cut(partial, 0, 3, false).ready, true);
});

test('a real VBR file (MPEG-2, 22.05 kHz, 576 samples a frame): its pieces cover it', () => {
  const bytes = new Uint8Array(readFileSync(new URL('../fixtures/noise-30s-vbr.mp3', import.meta.url)));
  const found = mp3Frames(bytes);
  assert.ok(found && found.skip > 529, 'a LAME tag');
  assert.deepEqual(found.format, { sampleRate: 22_050, samplesPerFrame: 576, channels: 1 });
  const total = found.offsets.length * 576 - found.skip;
  assert.ok(Math.abs(total / 22_050 - 30) < 0.05, `${total / 22_050} s`);
  const last = mp3Cut(found, 9, 3, true);
  assert.ok(last.stop <= found.offsets.length * 576, 'the last piece ends within the frames');
  assert.equal(last.toByte, found.end, 'and is decoded to the last frame');
  assert.equal(last.firstSample % 576, 0);
});
