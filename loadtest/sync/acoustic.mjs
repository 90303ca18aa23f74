// What two pages sound like side by side: a recording of the null sink's
// monitor (page A alone on the left channel, page B alone on the right),
// cut into one-second windows; in each, the lag of the right channel
// behind the left found by cross-correlation — coarse on a decimated copy,
// then to the sample and between samples (a parabola through the peak).

const DECIMATE = 8;

/**
 * @param {Int16Array} interleaved s16 stereo
 * @param {number} rate samples per second
 * @param {number} maxLagMs the largest offset looked for
 * @returns {{ second: number, lagMs: number | null, correlation: number }[]}
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
  const results = [];
  for (let start = maxLag; start + rate + maxLag <= frames; start += rate) {
    const second = start / rate;
    const energy = (x) => {
      let sum = 0;
      for (let i = start; i < start + rate; i += 1) sum += x[i] * x[i];
      return sum / rate;
    };
    if (energy(left) < 1e-5 || energy(right) < 1e-5) {
      results.push({ second, lagMs: null, correlation: 0 });
      continue;
    }
    // Coarse: box-averaged and decimated.
    const n = Math.floor(rate / DECIMATE);
    const coarse = (x, from, count) => {
      const out = new Float32Array(count);
      for (let j = 0; j < count; j += 1) {
        let sum = 0;
        for (let k = 0; k < DECIMATE; k += 1) sum += x[from + j * DECIMATE + k];
        out[j] = sum;
      }
      return out;
    };
    const lagsCoarse = Math.ceil(maxLag / DECIMATE);
    const a = coarse(left, start, n);
    const b = coarse(right, start - lagsCoarse * DECIMATE, n + 2 * lagsCoarse);
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
      for (let i = start; i < start + rate; i += 1) sum += left[i] * right[i + lag];
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
    const norm = Math.sqrt(energy(left) * energy(right)) * rate;
    results.push({ second, lagMs: ((fine + shift) / rate) * 1000, correlation: fineValue / norm });
  }
  return results;
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
