// WAV read in pieces: every layout the reader takes, read exactly, and the
// ones it leaves to the browser's decoder refused.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { wavLayout, wavSamples } from '../../src/sync/wav.js';
import { wav } from '../wav.mjs';

test('16-bit stereo PCM: the layout and exact samples', () => {
  const { bytes, dataStart, view } = wav({ frames: 4, extraChunk: true });
  const values = [0, 16384, -32768, 32767, 1, -1, 8192, -8192];
  values.forEach((v, i) => view.setInt16(dataStart + i * 2, v, true));
  const layout = wavLayout(bytes, bytes.length);
  assert.deepEqual(
    { ...layout },
    { channels: 2, sampleRate: 44_100, bits: 16, float: false, blockAlign: 4, dataStart, dataBytes: 16, frames: 4 },
  );
  const [left, right] = wavSamples(bytes.subarray(dataStart), layout);
  assert.deepEqual([...left], [0, -1, 1 / 32768, 0.25]);
  assert.deepEqual([...right], [0.5, 32767 / 32768, -1 / 32768, -0.25]);
});

test('a piece cut anywhere on a frame reads the same samples as the whole', () => {
  const { bytes, dataStart, view } = wav({ channels: 1, bits: 24, frames: 100 });
  for (let i = 0; i < 100; i += 1) {
    const v = (i * 7919 - 400_000) | 0;
    view.setUint8(dataStart + i * 3, v & 255);
    view.setUint8(dataStart + i * 3 + 1, (v >> 8) & 255);
    view.setInt8(dataStart + i * 3 + 2, v >> 16);
  }
  const layout = wavLayout(bytes, bytes.length);
  const [whole] = wavSamples(bytes.subarray(dataStart), layout);
  const [piece] = wavSamples(bytes.subarray(dataStart + 30 * 3, dataStart + 60 * 3), layout);
  assert.deepEqual([...piece], [...whole.subarray(30, 60)]);
  assert.equal(whole[0], -400_000 / 8388608);
});

test('float, 8-bit and extensible layouts are read', () => {
  const float = wav({ tag: 3, bits: 32, channels: 1, frames: 2 });
  float.view.setFloat32(float.dataStart, 0.75, true);
  assert.equal(wavSamples(float.bytes.subarray(float.dataStart), wavLayout(float.bytes, float.bytes.length))[0][0], 0.75);
  const eight = wav({ bits: 8, channels: 1, frames: 2 });
  eight.view.setUint8(eight.dataStart, 192);
  assert.equal(wavSamples(eight.bytes.subarray(eight.dataStart), wavLayout(eight.bytes, eight.bytes.length))[0][0], 0.5);
  const wide = wav({ extensible: true, channels: 6, bits: 24 });
  assert.equal(wavLayout(wide.bytes, wide.bytes.length)?.channels, 6);
});

test('a data size past the end of the file is cut to what the file holds', () => {
  const { bytes } = wav({ frames: 10 });
  assert.equal(wavLayout(bytes, bytes.length - 6)?.frames, 8);
});

test('what is not a WAV this reader plays is left to the browser', () => {
  assert.equal(wavLayout(new TextEncoder().encode('ID3\u0004 not a wav at all'), 30), null);
  assert.equal(wavLayout(wav({ tag: 2 }).bytes, 100), null, 'ADPCM');
  assert.equal(wavLayout(wav({ bits: 12 }).bytes, 100), null);
  assert.equal(wavLayout(wav({ channels: 0 }).bytes, 100), null);
  assert.equal(wavLayout(wav({ rate: 10 }).bytes, 100), null);
  const { bytes } = wav();
  assert.equal(wavLayout(bytes.subarray(0, 30), bytes.length), null, 'the header cut short');
  // A chunk claiming 4 GiB ends the walk instead of looping.
  const liar = wav({ extraChunk: true });
  new DataView(liar.bytes.buffer).setUint32(36 + 4, 0xfffffff0, true);
  assert.equal(wavLayout(liar.bytes, liar.bytes.length), null);
});
