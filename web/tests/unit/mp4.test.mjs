// M4A's boxes, its AAC track's frame table, the cut of a piece and the
// ADTS frames it is decoded from. (That pieces so read decode to the whole
// decode's samples is checked in Chromium: tests/pieces.mjs.)
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { PRE_ROLL_FRAMES, adtsFrames, boxAt, m4aCut, m4aTrack } from '../../src/sync/mp4.js';

const fixture = (name) => new Uint8Array(readFileSync(new URL(`../fixtures/${name}`, import.meta.url)));
const atEnd = fixture('sweep-8s.m4a');
const atStart = fixture('sweep-8s-faststart.m4a');

/** The top-level boxes of a file, stepped over by their headers. */
function topLevel(bytes) {
  const found = [];
  for (let at = 0; at < bytes.length; ) {
    const box = boxAt(bytes, at, bytes.length);
    assert.ok(box, `a box at ${at}`);
    found.push(box);
    at += box.size;
  }
  return found;
}

/** The `moov` box of a file, alone. */
function moovOf(bytes) {
  const moov = topLevel(bytes).find((box) => box.type === 'moov');
  assert.ok(moov);
  return bytes.subarray(moov.at, moov.at + moov.size);
}

/** The offset of the first `type` box header inside `bytes` (found by its name). */
function find(bytes, type) {
  const name = [...type].map((c) => c.charCodeAt(0));
  return bytes.findIndex((_, i) => name.every((byte, j) => bytes[i + j] === byte)) - 4;
}

test('the top-level boxes are stepped over by their headers', () => {
  assert.deepEqual(topLevel(atEnd).map((box) => box.type), ['ftyp', 'free', 'mdat', 'moov']);
  assert.deepEqual(topLevel(atStart).map((box) => box.type).slice(0, 2), ['ftyp', 'moov']);
  assert.equal(boxAt(atEnd, 0, atEnd.length - 4)?.size, 28, 'a box is its own size');
  assert.equal(boxAt(atEnd.subarray(0, 6), 0, 100), undefined, 'a header cut short');
  assert.equal(boxAt(new Uint8Array([0, 0, 0, 4, 0x66, 0x72, 0x65, 0x65]), 0, 8), null, 'shorter than its header');
  assert.equal(boxAt(new Uint8Array([0, 0, 0, 16, 0, 1, 2, 3]), 0, 16), null, 'not a name');
  // Size 1: a 64-bit size follows; size 0: to the end of the file.
  const large = new Uint8Array([0, 0, 0, 1, 0x6d, 0x64, 0x61, 0x74, 0, 0, 0, 1, 0, 0, 0, 0]);
  assert.deepEqual(boxAt(large, 0, 2 ** 33), { type: 'mdat', at: 0, header: 16, size: 2 ** 32 });
  assert.equal(boxAt(new Uint8Array([0, 0, 0, 0, 0x6d, 0x64, 0x61, 0x74]), 0, 5000)?.size, 5000);
});

test('the AAC track says what the encoder wrote, wherever its table is', () => {
  for (const bytes of [atEnd, atStart]) {
    const track = m4aTrack(moovOf(bytes), bytes.length);
    assert.ok(track);
    assert.deepEqual(
      { timescale: track.timescale, channels: track.channels, priming: track.priming, duration: track.duration },
      { timescale: 22_050, channels: 2, priming: 1024, duration: 8 * 22_050 },
    );
    const frames = track.sizes.length;
    // 1024 samples a frame; the last one's duration as the encoder trimmed it.
    assert.equal(track.times[frames - 1], (frames - 1) * 1024);
    assert.ok(track.times[frames] > track.times[frames - 1] && track.times[frames] >= track.priming + track.duration);
    // Every frame inside the audio box, one after another.
    const mdat = topLevel(bytes).find((box) => box.type === 'mdat');
    assert.ok(mdat);
    for (let k = 0; k < frames; k += 1) {
      assert.ok(track.offsets[k] >= mdat.at + mdat.header && track.offsets[k] + track.sizes[k] <= mdat.at + mdat.size);
      if (k) assert.equal(track.offsets[k], track.offsets[k - 1] + track.sizes[k - 1]);
    }
  }
});

test('a piece is cut from frames a little before it', () => {
  const track = m4aTrack(moovOf(atEnd), atEnd.length);
  assert.ok(track);
  // The first piece starts at the stream's start: nothing before it to decode.
  assert.deepEqual(m4aCut(track, 0, 66_150), { first: 0, end: Math.ceil((66_150 + 1024) / 1024), skip: 1024 });
  const cut = m4aCut(track, 66_150, 132_300);
  const holding = Math.floor((66_150 + 1024) / 1024);
  assert.equal(cut.first, holding - PRE_ROLL_FRAMES);
  assert.equal(cut.skip, 66_150 + 1024 - cut.first * 1024);
  assert.equal(cut.end, Math.floor((132_300 - 1 + 1024) / 1024) + 1);
  const last = m4aCut(track, 132_300, 8 * 22_050);
  assert.ok(last.end <= track.sizes.length);
});

test('each frame goes behind an ADTS header saying its length', () => {
  const track = m4aTrack(moovOf(atEnd), atEnd.length);
  assert.ok(track);
  const out = adtsFrames(track, 3, 6, atEnd, 0);
  let at = 0;
  for (let k = 3; k < 6; k += 1) {
    assert.equal(out[at], 0xff);
    assert.equal(out[at + 1] & 0xf6, 0xf0, 'sync, MPEG-4, layer 0');
    assert.equal(out[at + 1] & 1, 1, 'no CRC');
    assert.equal(out[at + 2] >> 6, 1, 'AAC-LC');
    assert.equal((out[at + 2] >> 2) & 0x0f, 7, '22 050 Hz');
    assert.equal(((out[at + 2] & 1) << 2) | (out[at + 3] >> 6), 2, 'stereo');
    const length = ((out[at + 3] & 3) << 11) | (out[at + 4] << 3) | (out[at + 5] >> 5);
    assert.equal(length, 7 + track.sizes[k]);
    assert.deepEqual([...out.subarray(at + 7, at + length)], [...atEnd.subarray(track.offsets[k], track.offsets[k] + track.sizes[k])]);
    at += length;
  }
  assert.equal(at, out.length);
});

test('tracks this reader cannot cut are left to the browser', () => {
  const moov = moovOf(atEnd);
  const edited = (type, offset, value) => {
    const copy = moov.slice();
    copy[find(copy, type) + offset] = value;
    return m4aTrack(copy, atEnd.length);
  };
  assert.ok(m4aTrack(moov, atEnd.length));
  // The esds: its DecoderConfigDescriptor's object type (0x40: AAC) made
  // MP3's (0x6b). (This encoder writes descriptor lengths in four bytes.)
  const esds = find(moov, 'esds');
  const descriptor = (tag, after) => moov.findIndex((byte, i) => i > after && byte === tag && moov[i + 1] === 0x80 && moov[i + 2] === 0x80) + 5;
  const oti = descriptor(0x04, esds);
  assert.equal(moov[oti], 0x40);
  const mp3 = moov.slice();
  mp3[oti] = 0x6b;
  assert.equal(m4aTrack(mp3, atEnd.length), null, 'MP3 in MP4');
  // The AudioSpecificConfig's object type 2 (LC) made 5 (HE-AAC).
  const asc = descriptor(0x05, oti);
  assert.equal(moov[asc] >> 3, 2);
  const he = moov.slice();
  he[asc] = (5 << 3) | (he[asc] & 7);
  assert.equal(m4aTrack(he, atEnd.length), null, 'HE-AAC');
  assert.equal(edited('hdlr', 16, 0x76), null, 'no sound track (a "voun" handler)');
  const mdat = topLevel(atEnd).find((box) => box.type === 'mdat');
  assert.ok(mdat);
  assert.equal(m4aTrack(moov, mdat.at + mdat.size - 100), null, 'frames past the end of the file');
  assert.equal(m4aTrack(moov.subarray(0, moov.length - 10), atEnd.length), null, 'a moov cut short');
  // stsz's count made enormous: more frames than its box holds.
  const count = find(moov, 'stsz') + 16;
  const many = moov.slice();
  new DataView(many.buffer).setUint32(count, 0x7fffffff);
  assert.equal(m4aTrack(many, atEnd.length), null);
});
