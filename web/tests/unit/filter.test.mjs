// The clock filter against simulated networks: delay, asymmetry, jitter,
// loss, drift and clock jumps. Each case says what a listener would get
// wrong if the filter did not do its part.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ClockFilter, burstSample, sampleOf } from '../../src/sync/filter.js';
import { opening, simulate } from './network.mjs';

test('a quiet network: under half a millisecond', () => {
  const { worst } = simulate({ up: 2, down: 2, jitter: 0.5 });
  assert.ok(worst < 0.5, `worst error ${worst} ms`);
});

test('a drifting clock (80 ppm) is followed over ten minutes', () => {
  const { worst, filter } = simulate({ driftPpm: 80 });
  // Without the drift term the fit lags the 16 bursts' middle: ~6 ms.
  assert.ok(worst < 1, `worst error ${worst} ms`);
  assert.ok(Math.abs(filter.drift * 1e6 - 80) < 10, `drift ${filter.drift * 1e6} ppm`);
});

test('asymmetric delay biases by half the difference, and no more than the bound says', () => {
  const { errors, filter } = simulate({ up: 10, down: 40, jitter: 1 });
  const bound = filter.quality(0).roundTripMs / 2;
  for (const { error } of errors) {
    assert.ok(Math.abs(error - -15) < 1, `error ${error} ms, expected about −15 (half of 10 − 40)`);
    assert.ok(Math.abs(error) <= bound + 0.5, `error ${error} beyond the bound ${bound}`);
  }
});

test('a bad link (80 ± 30 ms, 1 % loss) stays within a few milliseconds', () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    const { worst } = simulate({ up: 40, down: 40, jitter: 30, loss: 0.01, seed });
    assert.ok(worst < 4, `seed ${seed}: worst error ${worst} ms`);
  }
});

test('a burst lost whole changes nothing', () => {
  const filter = new ClockFilter();
  assert.equal(filter.addBurst([]), 'empty');
  assert.equal(filter.ready, false);
});

test('one burst delayed one way (a stalled queue) barely moves the model', () => {
  const stall = (at, way) => (at === 300_000 && way === 'up' ? 120 : 0);
  const { verdicts, worst } = simulate({ up: 5, down: 5, spoilt: stall });
  // Its round trip says how wrong it may be: it is taken, and weighs little.
  assert.deepEqual(verdicts.find(([at]) => at === 300_000), [300_000, 'accepted']);
  assert.ok(worst < 0.5, `worst error ${worst} ms: the late burst moved the model`);
});

test('one burst the server stamped wrong is refused as an outlier', () => {
  const { verdicts, worst } = simulate({ up: 5, down: 5, stamp: (at) => (at === 300_000 ? 200 : 0) });
  assert.deepEqual(verdicts.find(([at]) => at === 300_000), [300_000, 'outlier']);
  assert.ok(worst < 0.5, `worst error ${worst} ms: the outlier moved the model`);
});

test('a clock that jumps half a second is followed after two bursts', () => {
  const { verdicts, errors } = simulate({ jump: { at: 300_000, by: 500 } });
  assert.deepEqual(verdicts.find(([at]) => at === 300_000), [300_000, 'outlier']);
  assert.deepEqual(verdicts.find(([at]) => at === 310_000), [310_000, 'jump']);
  const after = errors.filter(({ at }) => at >= 310_000);
  assert.ok(after.every(({ error }) => Math.abs(error) < 0.5), JSON.stringify(after.slice(0, 3)));
});

test('the page and server clocks convert both ways', () => {
  const { filter } = simulate({ driftPpm: 40, seconds: 120 });
  for (const local of [0, 12_345.678, 9e6]) {
    assert.ok(Math.abs(filter.localAt(filter.serverAt(local)) - local) < 1e-3, `${local}`);
  }
});

test('a page opening on a bad link (80–140 ms each way, 1 % loss) is in step within seconds', () => {
  // Without a burst's fastest way up and fastest way down combined, the
  // model is ~19 ms off at p95 three seconds in, and ~5 ms ten seconds in.
  const at3 = [];
  const at10 = [];
  for (let seed = 1; seed <= 60; seed += 1) {
    const errors = opening({ seed, checkpoints: [3_000, 10_000] });
    at3.push(Math.abs(errors[3_000]));
    at10.push(Math.abs(errors[10_000]));
  }
  const p95 = (values) => [...values].sort((a, b) => a - b)[Math.floor(0.95 * (values.length - 1))];
  assert.ok(p95(at3) < 10, `3 s after opening: p95 ${p95(at3).toFixed(1)} ms`);
  assert.ok(p95(at10) < 4, `10 s after opening: p95 ${p95(at10).toFixed(1)} ms`);
});

test('on a slow link the first model comes after about one round trip, not one per exchange', () => {
  // 80–140 ms each way: four exchanges in a row take 640 ms at least.
  for (let seed = 1; seed <= 60; seed += 1) {
    const errors = opening({ seed, loss: 0, checkpoints: [450] });
    assert.ok(Number.isFinite(errors[450]), `seed ${seed}: no model 450 ms after opening`);
    assert.ok(Math.abs(errors[450]) < 30, `seed ${seed}: ${errors[450].toFixed(1)} ms off`);
  }
});

test('a burst is as good as its fastest way up and fastest way down', () => {
  // Up 10 ms and down 30 ms on one exchange, up 30 and down 10 on another:
  // each alone is 10 ms off; together they bound the offset exactly.
  const offset = 1000;
  const one = sampleOf(0, 10 + offset, 10 + offset, 40);
  const two = sampleOf(100, 130 + offset, 130 + offset, 140);
  assert.equal(Math.abs(one.offset - offset), 10);
  assert.equal(Math.abs(two.offset - offset), 10);
  const both = burstSample([one, two]);
  assert.equal(both.offset, offset);
  assert.equal(both.roundTrip, 20, 'the fastest up (10) and down (10)');
  // Bounds that contradict each other (a clock stepped mid-burst): the
  // fastest exchange alone.
  const stepped = sampleOf(200, 210 + offset + 500, 210 + offset + 500, 220);
  assert.deepEqual(burstSample([one, stepped]), stepped);
});
