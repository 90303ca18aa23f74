// The readers of audio bytes get what anyone in a room uploaded: mangled
// files must be refused or read, never throw, hang or index past the end.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { firstFrame, flacStart, frameEnd, frameHeader, metadataBlock } from '../../src/sync/flac.js';
import { adtsFrames, boxAt, m4aCut, m4aTrack } from '../../src/sync/mp4.js';
import { mp3Cut, mp3Frames } from '../../src/sync/mp3.js';
import { nextPage, oggPage, oggStart } from '../../src/sync/ogg.js';
import { wavLayout, wavSamples } from '../../src/sync/wav.js';
import { wav } from '../wav.mjs';

function random(seed) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

/** The fixture with a few bytes changed, cut short now and then. */
function mangled(bytes, next) {
  const copy = bytes.slice(0, next() < 0.3 ? Math.floor(next() * bytes.length) : bytes.length);
  const changes = 1 + Math.floor(next() * 8);
  for (let i = 0; i < changes && copy.length; i += 1) {
    // Mostly the headers, where a reader decides things.
    const at = Math.floor((next() < 0.7 ? next() * Math.min(copy.length, 2048) : next() * copy.length));
    copy[at] = Math.floor(next() * 256);
  }
  return copy;
}

test('mangled MP3s are refused or cut within their bytes', () => {
  const original = new Uint8Array(readFileSync(new URL('../fixtures/noise-30s-vbr.mp3', import.meta.url)));
  const next = random(42);
  for (let round = 0; round < 3000; round += 1) {
    const bytes = mangled(original, next);
    const found = mp3Frames(bytes);
    if (!found) continue;
    assert.ok(found.end <= bytes.length);
    for (const offset of found.offsets) assert.ok(offset >= 0 && offset < found.end);
    for (let index = 0; index < 12 && found.offsets.length; index += 1) {
      const cut = mp3Cut(found, index, 3, true);
      if (cut.start >= found.offsets.length * found.format.samplesPerFrame) break;
      assert.ok(cut.fromByte >= 0 && cut.fromByte < cut.toByte && cut.toByte <= bytes.length, JSON.stringify(cut));
    }
  }
});

test('mangled FLACs are refused or read within their bytes', () => {
  const original = new Uint8Array(readFileSync(new URL('../fixtures/chirp-10s.flac', import.meta.url)));
  const next = random(11);
  for (let round = 0; round < 1500; round += 1) {
    const bytes = mangled(original, next);
    const start = flacStart(bytes);
    if (!start) continue;
    assert.ok(start.next <= bytes.length && start.streamInfo.length === 34);
    let at = start.next;
    for (let blocks = 0, last = start.last; !last && blocks < 256; blocks += 1) {
      const block = metadataBlock(bytes, at);
      if (!block) break;
      last = block.last;
      at += 4 + block.length;
    }
    // Frames read in order as the page reads them, each within the bytes.
    for (let frames = 0; at < bytes.length && frames < 60; frames += 1) {
      const found = firstFrame(bytes, at, start.format, true);
      if (!found) break;
      assert.ok(found.at >= at && found.at < found.end && found.end <= bytes.length, JSON.stringify(found));
      assert.ok(Number.isSafeInteger(found.firstSample) && found.blockSize >= 1 && found.blockSize <= start.format.maxBlock);
      at = found.end;
    }
  }
});

test('a FLAC made of frame headers costs a bounded search', () => {
  const original = new Uint8Array(readFileSync(new URL('../fixtures/chirp-10s.flac', import.meta.url)));
  const start = flacStart(original);
  assert.ok(start);
  // One real frame header, repeated back to back: each parses, none closes.
  let at = start.next;
  while (!frameHeader(original, at, start.format)) at += 1;
  const header = original.subarray(at, at + 16);
  const hostile = new Uint8Array(1 << 20);
  for (let i = 0; i + 16 <= hostile.length; i += 16) hostile.set(header, i);
  assert.equal(firstFrame(hostile, 0, start.format, true), null);
  assert.equal(frameEnd(hostile, 0, { ...start.format, maxFrame: 0 }, false), null, 'no frame is a megabyte long');
});

test('mangled Ogg Vorbis and Opus files are refused or read within their bytes', () => {
  for (const [name, seed] of [['sweep-15s.ogg', 5], ['sweep-15s.opus', 6]]) {
    const original = new Uint8Array(readFileSync(new URL(`../fixtures/${name}`, import.meta.url)));
    const next = random(seed);
    for (let round = 0; round < 1500; round += 1) {
      const bytes = mangled(original, next);
      const start = oggStart(bytes);
      if (!start) continue;
      assert.ok(start.audioStart <= bytes.length && start.channels > 0 && start.rate > 0);
      assert.ok(oggStart(start.headers), 'its rebuilt headers read back');
      // Pages as a seek and a piece's read find them, each within the bytes.
      for (let at = start.audioStart, pages = 0; at < bytes.length && pages < 60; pages += 1) {
        const page = oggPage(bytes, at) ?? nextPage(bytes, at + 1, start.serial);
        if (!page) break;
        assert.ok(page.at >= at && page.at + page.length <= bytes.length && page.length >= 27);
        assert.ok(page.granule === -1 || Number.isSafeInteger(page.granule));
        at = page.at + page.length;
      }
    }
  }
});

test('mangled M4A tables are refused or read within their bytes', () => {
  const original = new Uint8Array(readFileSync(new URL('../fixtures/sweep-8s-faststart.m4a', import.meta.url)));
  const moovAt = 28; // after ftyp
  assert.equal(boxAt(original, moovAt, original.length)?.type, 'moov');
  const next = random(9);
  for (let round = 0; round < 3000; round += 1) {
    // The table is what the reader believes; the audio is only copied.
    const bytes = original.slice();
    const moov = boxAt(bytes, moovAt, bytes.length);
    assert.ok(moov);
    const changes = 1 + Math.floor(next() * 8);
    for (let i = 0; i < changes; i += 1) bytes[moovAt + Math.floor(next() * moov.size)] = Math.floor(next() * 256);
    const track = m4aTrack(bytes.subarray(moovAt, moovAt + moov.size), bytes.length);
    if (!track) continue;
    assert.ok(track.duration > 0 && track.timescale > 0 && track.channels > 0);
    const frames = track.sizes.length;
    for (let k = 0; k < frames; k += 1) assert.ok(track.offsets[k] + track.sizes[k] <= bytes.length);
    for (let from = 0; from < track.duration; from += Math.ceil(track.duration / 5)) {
      const cut = m4aCut(track, from, Math.min(track.duration, from + 66_150));
      assert.ok(cut.first >= 0 && cut.first < cut.end && cut.end <= frames && cut.skip >= 0, JSON.stringify(cut));
      assert.ok(adtsFrames(track, cut.first, cut.end, bytes, 0).length > 0);
    }
  }
});

test('mangled WAVs are refused or read within their bytes', () => {
  // 100 frames of 16-bit stereo PCM.
  const { bytes: header } = wav({ frames: 100 });
  const next = random(7);
  for (let round = 0; round < 3000; round += 1) {
    const bytes = mangled(header, next);
    const layout = wavLayout(bytes, bytes.length);
    if (!layout) continue;
    assert.ok(layout.dataStart + layout.dataBytes <= bytes.length);
    const channels = wavSamples(bytes.subarray(layout.dataStart, layout.dataStart + layout.dataBytes), layout);
    assert.equal(channels.length, layout.channels);
    assert.ok(channels.every((samples) => samples.every((v) => v >= -1 && v <= 1)));
  }
});
