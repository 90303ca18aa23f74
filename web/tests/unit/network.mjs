// A simulated page and server exchanging clock samples over a network with
// the given delays, for the filter's tests.
import { ClockFilter, sampleOf } from '../../src/sync/filter.js';
import { burstEvery, burstSize, overlapAfter } from '../../src/sync/pacing.js';

/** A seeded generator, so that a failure can be run again. */
export function random(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Runs a page against a server for `seconds`, a burst of 8 exchanges every
 * `every` ms; returns the model's error (ms) at each burst after the first
 * 20 s, and the verdicts.
 */
export function simulate({
  seconds = 600,
  every = 10_000,
  up = 5,
  down = 5,
  jitter = 1,
  loss = 0,
  driftPpm = 0,
  jump = null,
  spoilt = () => 0,
  stamp = () => 0,
  seed = 1,
}) {
  const next = random(seed);
  const exponential = (mean) => -mean * Math.log(1 - next());
  const start = 1_733_500_000_000 + next() * 1e6;
  const server = (local) => start + local * (1 + driftPpm * 1e-6) + (jump && local >= jump.at ? jump.by : 0);
  const filter = new ClockFilter();
  const errors = [];
  const verdicts = [];
  for (let at = 0; at <= seconds * 1000; at += every) {
    const burst = [];
    for (let i = 0; i < 8; i += 1) {
      if (next() < loss) continue;
      const t0 = at + i * 30;
      const there = up + exponential(jitter) + spoilt(at, 'up');
      const t1 = server(t0 + there) + stamp(at);
      const t2 = t1 + 0.05;
      const t3 = t0 + there + 0.05 + down + exponential(jitter) + spoilt(at, 'down');
      burst.push(sampleOf(t0, t1, t2, t3));
    }
    verdicts.push([at, filter.addBurst(burst)]);
    const now = at + 1_000;
    if (at >= 20_000) errors.push({ at, error: filter.serverAt(now) - server(now) });
  }
  return { filter, errors, verdicts, worst: Math.max(...errors.map((e) => Math.abs(e.error))) };
}

/**
 * A page opening over a link like loadtest/sync/link.mjs's: each way
 * `base` ms plus uniform jitter up to twice `jitter`, `loss` of messages
 * held 200 ms (a TCP retransmission); exchanges overlapping and bursts paced
 * as clock.js does them. Returns the model's error (ms) at each of
 * `checkpoints` (ms after opening), once a burst has been fitted.
 */
export function opening({ base = 80, jitter = 30, loss = 0.01, seed = 1, checkpoints = [1_000, 3_000, 10_000, 30_000] }) {
  const next = random(seed);
  const start = 1_733_500_000_000 + next() * 1e6;
  const server = (local) => start + local * (1 + 30e-6);
  const way = () => base + next() * 2 * jitter + (next() < loss ? 200 : 0);
  const filter = new ClockFilter();
  /** @type {Record<number, number>} */
  const errors = {};
  const last = checkpoints[checkpoints.length - 1];
  for (let began = 0; began <= last; ) {
    const burst = [];
    let sent = began;
    let now = began;
    const wait = overlapAfter(filter.ready);
    for (let i = 0; i < burstSize(filter.ready); i += 1) {
      const t0 = sent;
      const t1 = server(t0 + way());
      const t2 = t1 + 0.05;
      const t3 = t0 + (t1 - server(t0)) + 0.05 + way();
      burst.push(sampleOf(t0, t1, t2, t3));
      sent = Math.min(t3, t0 + wait);
      now = Math.max(now, t3);
    }
    // Each checkpoint is read off the model as it was then.
    for (const at of checkpoints) if (at >= began && at < now && filter.ready) errors[at] = filter.serverAt(at) - server(at);
    filter.addBurst(burst);
    began = Math.max(now, began + burstEvery(began));
    for (const at of checkpoints) if (at >= now && at < began) errors[at] = filter.serverAt(at) - server(at);
  }
  return errors;
}
