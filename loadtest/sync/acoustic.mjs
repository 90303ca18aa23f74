// What two pages sound like side by side: a recording of the null sink's
// monitor (page A alone on the left channel, page B alone on the right),
// cut into one-second windows. In each, the lag of the right channel
// behind the left is found by cross-correlation in slices of 100 ms —
// coarse on a decimated copy, then to the sample and between samples (a
// parabola through the peak) — and the second's lag is the median of its
// slices that match. Why slices: the tracks are noise, whose correlation
// is a spike a sample wide; while one page bends its rate by 0.5 % to
// correct itself, the channels slide 5 ms (240 samples) apart over a
// second, and a whole second's correlation smears to nothing and peaks
// anywhere, while a slice slides only 0.5 ms.

const DECIMATE = 8;
const SLICE_MS = 100;
/** A slice matches when its normalised correlation is above this. */
const MATCH = 0.3;

/**
 * @param {Int16Array} interleaved s16 stereo
 * @param {number} rate samples per second
 * @param {number} maxLagMs the largest offset looked for
 * @returns {{ second: number, lagMs: number | null, correlation: number, matched: boolean }[]}
 *   `lagMs` null where a channel is silent; `matched` false where both
 *   sound but no slice lines up within `maxLagMs` (they play different
 *   sound: worse than any lag measured)
 */
export function offsets(interleaved, rate, maxLagMs = 100) {
  const frames = Math.floor(interleaved.length / 2);
  const left = new Float32Array(frames);
  const right = new Float32Array(frames);
  for (let i = 0; i < frames; i += 1) {
    left[i] = interleaved[2 * i] / 32768;
    right[i] = interleaved[2 * i + 1] / 32768;
  }
  const maxLag = Math.round((maxLagMs / 1000) * rate);
  const slice = Math.round((SLICE_MS / 1000) * rate);
  const results = [];
  for (let start = maxLag; start + rate + maxLag <= frames; start += rate) {
    const second = start / rate;
    if (energy(left, start, rate) < 1e-5 || energy(right, start, rate) < 1e-5) {
      results.push({ second, lagMs: null, correlation: 0, matched: true });
      continue;
    }
    const found = [];
    for (let from = start; from + slice <= start + rate; from += slice) {
      if (energy(left, from, slice) < 1e-5 || energy(right, from, slice) < 1e-5) continue;
      const match = lagOf(left, right, from, slice, maxLag);
      if (match.correlation > MATCH) found.push(match);
    }
    if (!found.length) {
      results.push({ second, lagMs: null, correlation: 0, matched: false });
      continue;
    }
    const middle = (values) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];
    results.push({
      second,
      lagMs: (middle(found.map((m) => m.lag)) / rate) * 1000,
      correlation: middle(found.map((m) => m.correlation)),
      matched: true,
    });
  }
  return results;
}

/** Mean square of `x` over `count` samples from `from`. */
function energy(x, from, count) {
  let sum = 0;
  for (let i = from; i < from + count; i += 1) sum += x[i] * x[i];
  return sum / count;
}

/**
 * The lag (samples, fractional) of `right` behind `left` over the slice
 * [from, from + count), within ±maxLag, and its normalised correlation.
 */
function lagOf(left, right, from, count, maxLag) {
  // Coarse: box-averaged and decimated.
  const n = Math.floor(count / DECIMATE);
  const lagsCoarse = Math.ceil(maxLag / DECIMATE);
  const coarse = (x, at, length) => {
    const out = new Float32Array(length);
    for (let j = 0; j < length; j += 1) {
      let sum = 0;
      for (let k = 0; k < DECIMATE; k += 1) sum += x[at + j * DECIMATE + k] ?? 0;
      out[j] = sum;
    }
    return out;
  };
  const a = coarse(left, from, n);
  const b = coarse(right, from - lagsCoarse * DECIMATE, n + 2 * lagsCoarse);
  let best = 0;
  let bestValue = -Infinity;
  for (let lag = -lagsCoarse; lag <= lagsCoarse; lag += 1) {
    let sum = 0;
    for (let j = 0; j < n; j += 1) sum += a[j] * b[j + lag + lagsCoarse];
    if (sum > bestValue) {
      bestValue = sum;
      best = lag;
    }
  }
  // Fine: every sample near the coarse peak.
  const at = (lag) => {
    let sum = 0;
    for (let i = from; i < from + count; i += 1) sum += left[i] * (right[i + lag] ?? 0);
    return sum;
  };
  let fine = best * DECIMATE;
  let fineValue = -Infinity;
  for (let lag = best * DECIMATE - DECIMATE * 2; lag <= best * DECIMATE + DECIMATE * 2; lag += 1) {
    if (Math.abs(lag) > maxLag) continue;
    const value = at(lag);
    if (value > fineValue) {
      fineValue = value;
      fine = lag;
    }
  }
  const [before, after] = [at(fine - 1), at(fine + 1)];
  const curve = before - 2 * fineValue + after;
  const shift = curve < 0 ? (0.5 * (before - after)) / curve : 0;
  const norm = Math.sqrt(energy(left, from, count) * energy(right, from + fine, count)) * count;
  return { lag: fine + shift, correlation: norm > 0 ? fineValue / norm : 0 };
}

/**
 * Where each channel's sound stops for a while (a pause, a stop): the end
 * of its last loud millisecond before at least `quietMs` of quiet, in
 * seconds from the recording's start, per channel.
 * @param {Int16Array} interleaved s16 stereo
 * @param {number} rate samples per second
 * @returns {{ left: number[], right: number[] }}
 */
export function stops(interleaved, rate, quietMs = 300) {
  const block = Math.round(rate / 1000);
  const blocks = Math.floor(interleaved.length / 2 / block);
  const channel = (/** @type {number} */ c) => {
    const found = [];
    let lastLoud = -1;
    let reported = true;
    for (let b = 0; b < blocks; b += 1) {
      let sum = 0;
      for (let i = b * block; i < (b + 1) * block; i += 1) sum += (interleaved[2 * i + c] / 32768) ** 2;
      // -50 dBFS over a millisecond: the tracks' quietest sound is far above it.
      if (sum / block > 1e-5) {
        lastLoud = b;
        reported = false;
      } else if (!reported && b - lastLoud >= quietMs) {
        found.push((lastLoud + 1) / 1000);
        reported = true;
      }
    }
    return found;
  };
  return { left: channel(0), right: channel(1) };
}
