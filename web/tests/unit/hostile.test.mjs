// The readers of audio bytes get what anyone in a room uploaded: mangled
// files must be refused or read, never throw, hang or index past the end.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { mp3Cut, mp3Frames } from '../../src/sync/mp3.js';
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
