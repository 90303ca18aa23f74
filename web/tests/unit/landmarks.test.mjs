// The places a seek has located, shared by the FLAC and Ogg readers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Landmarks } from '../../src/sync/landmarks.js';

test('places are kept in order of sample, each once, and bracket a target', () => {
  const places = new Landmarks({ sample: 0, offset: 100 });
  places.learn(5000, 900);
  places.learn(2000, 400);
  places.learn(2000, 401); // found again: the first offset stays
  assert.deepEqual(places.known, [
    { sample: 0, offset: 100 },
    { sample: 2000, offset: 400 },
    { sample: 5000, offset: 900 },
  ]);
  const end = { sample: 9000, offset: 2000 };
  assert.deepEqual(places.around(1999, end), { lo: { sample: 0, offset: 100 }, hi: { sample: 2000, offset: 400 } });
  assert.deepEqual(places.around(2000, end), { lo: { sample: 2000, offset: 400 }, hi: { sample: 5000, offset: 900 } });
  assert.deepEqual(places.around(8000, end), { lo: { sample: 5000, offset: 900 }, hi: end });
});
