// The scheduling arithmetic: where the sound is on the audio clock, and
// what each size of error gets.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { correction, OutputLink, roomPositionAt, Timeline } from '../../src/sync/plan.js';

const near = (actual, expected, within = 1e-9) =>
  assert.ok(Math.abs(actual - expected) <= within, `${actual} is not ${expected} (±${within})`);

test('a timeline at rate 1 maps position and audio clock both ways', () => {
  const line = new Timeline(10, 42.5);
  near(line.positionAt(12), 44.5);
  near(line.timeOf(50), 17.5);
  assert.equal(line.rateAt(100), 1);
});

test('a bend closes exactly the error it was made for, then runs at 1 again', () => {
  const line = new Timeline(0, 0);
  // 20 ms ahead: 0.5 % slower for 4 s gives back 20 ms.
  const fix = correction(20);
  assert.equal(fix.kind, 'bend');
  near(fix.rate, 0.995);
  near(fix.seconds, 4);
  const bent = line.bend(1, fix.rate, fix.seconds);
  near(bent.positionAt(5), 5 - 0.02);
  near(bent.positionAt(9), 9 - 0.02);
  assert.equal(bent.rateAt(3), 0.995);
  assert.equal(bent.rateAt(5), 1);
  for (const position of [1.5, 3, 4.98, 7, 100]) near(bent.positionAt(bent.timeOf(position)), position);
});

test('corrections come in tiers: nothing, the rate, a new start', () => {
  assert.deepEqual(correction(0.4), { kind: 'none' });
  assert.deepEqual(correction(-0.99), { kind: 'none' });
  assert.deepEqual(correction(Number.NaN), { kind: 'none' });
  const behind = correction(-150);
  assert.equal(behind.kind, 'bend');
  near(behind.rate, 1.005);
  near(behind.seconds, 30);
  assert.deepEqual(correction(200.5), { kind: 'reschedule' });
  assert.deepEqual(correction(-5000), { kind: 'reschedule' });
});

test('the room moves with the server clock while playing and stands while paused', () => {
  const playing = { playing: true, startedAtMs: 1_000_000, positionMs: 0 };
  assert.equal(roomPositionAt(playing, 1_012_345), 12_345);
  // A start in the future: before it, the position is negative.
  assert.equal(roomPositionAt(playing, 999_900), -100);
  const paused = { playing: false, startedAtMs: 1_000_000, positionMs: 7_000 };
  assert.equal(roomPositionAt(paused, 9_999_999), 7_000);
});

test('the output link keeps the median lag of the browser’s timestamps', () => {
  const link = new OutputLink(5);
  assert.equal(link.ready, false);
  // Heard 40 ms after the audio clock's 0 (ms 1000 of the page), with one
  // reading late by a callback.
  for (const [context, page] of [[0.1, 1140], [0.2, 1240], [0.3, 1351.6], [0.4, 1440], [0.5, 1540]]) link.add(context, page);
  near(link.lagMs, 1040, 1e-6);
  near(link.heardAt(1), 2040, 1e-6);
  near(link.contextAt(2040), 1, 1e-9);
});

test('the output link follows a step of its lag within three readings', () => {
  const link = new OutputLink();
  for (let i = 0; i < 15; i += 1) link.add(i / 10, 1000 + i * 100 + 90 + (i % 2) * 0.5);
  near(link.lagMs, 1090, 0.5);
  // An underrun: from now on everything is heard 48 ms later.
  for (let i = 15; i < 17; i += 1) link.add(i / 10, 1000 + i * 100 + 138);
  near(link.lagMs, 1090, 0.5);
  link.add(1.7, 1000 + 1700 + 138);
  near(link.lagMs, 1138, 1e-6);
});

test('the output link is trusted only once its lag holds still', () => {
  const link = new OutputLink();
  // A starting output: its reported lag grows as its buffers fill.
  [0, 20, 45, 70, 90].forEach((grown, i) => link.add(i / 10, 1000 + i * 100 + grown));
  assert.equal(link.ready, false);
  [92, 92.5, 91.8, 92.2, 92, 92.1].forEach((grown, i) => link.add((i + 5) / 10, 1000 + (i + 5) * 100 + grown));
  assert.equal(link.ready, true);
});

test('a slow creep of the lag, or an audio clock that does not move, is not an output to trust', () => {
  const creeping = new OutputLink();
  // As PulseAudio's null sink did in the benchmark: about 30 ms a second
  // for seconds on end, in stairs — still for 300 ms, then 9 ms more —
  // read every 50 ms. Still for a moment at every stair.
  for (let i = 0; i < 60; i += 1) {
    creeping.add(i / 20, 1000 + i * 50 + Math.floor(i / 6) * 9);
    assert.equal(creeping.ready, false, `trusted at reading ${i}`);
  }
  // It settles: half a second later it is trusted.
  for (let i = 60; i < 72; i += 1) creeping.add(i / 20, 1000 + i * 50 + 90);
  assert.equal(creeping.ready, true);
  // "Running" with its clock stalled: the same reading again and again.
  const stalled = new OutputLink();
  for (let i = 0; i < 20; i += 1) stalled.add(0.5, 1500);
  assert.equal(stalled.ready, false);
});
