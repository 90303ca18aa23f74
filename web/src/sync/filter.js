// The server's clock as a model of this page's: offset and drift, fitted to
// clock exchanges. Pure (no browser API), so node's test runner drives it
// with simulated networks (web/tests/unit/filter.test.mjs).
//
// One exchange gives four instants: the page sent (t0), the server received
// (t1) and answered (t2), the page received (t3). Its offset
// ((t1 − t0) + (t2 − t3)) / 2 is exact when the two directions take equally
// long, and wrong by at most half its round trip otherwise; so of a burst of
// exchanges a burst is reduced to one sample. Each exchange bounds the
// offset: the server's clock cannot be behind its receive stamp minus the
// send (t1 − t0: the way up took no less than nothing), nor ahead of its
// answer minus the arrival (t2 − t3). A burst's tightest bounds come from
// its fastest way up and its fastest way down, which are rarely the same
// exchange: their middle is its sample, and the gap between them its
// "round trip" (what the sample may be off by, twice) — never wider than
// the best single exchange's, and on a jittery link half as wide (queueing
// only ever adds delay, so the fastest of each way is the truest).
// The kept samples of recent bursts are fitted by a
// straight line, weighted by 1 / round trip², which gives the offset and how
// fast it moves (the two crystals' drift, some tens of ppm). A burst whose
// offset the model cannot explain is held back as an outlier; when the next
// ones agree with it instead of with the model, the clock jumped (a machine
// waking from sleep, a server's clock stepped) and the model starts again
// from them.
//
// Why not @ircam/sync, which fits the same line (Lambert et al., WAC 2016):
// it ships as CommonJS needing `debug`, and this app loads plain ES modules
// with no bundler; it also paces its own pings and has no outlier or jump
// handling beyond bounding how fast its estimate may move. This is the part
// of it Spotik needs, about a hundred lines, with both.

/**
 * @typedef {{ local: number, offset: number, roundTrip: number }} Sample
 *   `local`: the page's clock at the exchange's middle (ms); `offset`:
 *   server minus page (ms); `roundTrip`: the network's share of it (ms).
 * @typedef {'accepted' | 'outlier' | 'jump' | 'empty'} Verdict
 */

/**
 * One exchange as a sample.
 * @param {number} t0 page sent
 * @param {number} t1 server received
 * @param {number} t2 server sent
 * @param {number} t3 page received
 * @returns {Sample}
 */
export function sampleOf(t0, t1, t2, t3) {
  return {
    local: (t0 + t3) / 2,
    offset: (t1 - t0 + (t2 - t3)) / 2,
    roundTrip: Math.max(0, t3 - t0 - (t2 - t1)),
  };
}

/**
 * One burst's exchanges as one sample: the middle of the tightest bounds
 * they put on the offset, each moved to the burst's middle instant by the
 * drift known so far. Bounds that contradict each other (a clock stepped
 * mid-burst) leave the fastest exchange alone.
 * @param {Sample[]} burst
 * @param {number} [drift] fraction
 * @returns {Sample}
 */
export function burstSample(burst, drift = 0) {
  const local = burst.reduce((sum, sample) => sum + sample.local, 0) / burst.length;
  let behind = -Infinity;
  let ahead = Infinity;
  for (const sample of burst) {
    const offset = sample.offset + drift * (local - sample.local);
    behind = Math.max(behind, offset - sample.roundTrip / 2);
    ahead = Math.min(ahead, offset + sample.roundTrip / 2);
  }
  if (!(ahead >= behind)) return burst.reduce((a, b) => (b.roundTrip < a.roundTrip ? b : a));
  return { local, offset: (behind + ahead) / 2, roundTrip: ahead - behind };
}

/** Drift beyond this is noise, not a crystal (ppm as a fraction). */
const MAX_DRIFT = 500e-6;
/** Below this span of samples (ms), drift cannot be told from noise. */
const DRIFT_SPAN = 20_000;

export class ClockFilter {
  /**
   * @param {{ keep?: number, confirmations?: number }} [options]
   *   `keep`: bursts fitted; `confirmations`: agreeing bursts that make a jump.
   */
  constructor({ keep = 16, confirmations = 2 } = {}) {
    this.keep = keep;
    this.confirmations = confirmations;
    /** @type {Sample[]} */
    this.points = [];
    /** @type {Sample[]} bursts at odds with the model, oldest first */
    this.pending = [];
    this.jumps = 0;
    this.outliers = 0;
    // offset(local) = base + drift · (local − anchor)
    this.anchor = 0;
    this.base = 0;
    this.drift = 0;
    /** Weighted spread of the samples about the line (ms). */
    this.scatter = 0;
  }

  /** Whether any exchange has been fitted. */
  get ready() {
    return this.points.length > 0;
  }

  /** @param {number} local */
  offsetAt(local) {
    return this.base + this.drift * (local - this.anchor);
  }

  /** The server's clock at the page's `local` (ms). */
  serverAt(/** @type {number} */ local) {
    return local + this.offsetAt(local);
  }

  /** The page's clock when the server's reads `server` (ms). */
  localAt(/** @type {number} */ server) {
    // offset changes by ppm: one correction step is exact to far below a µs.
    const guess = server - this.offsetAt(server - this.base);
    return server - this.offsetAt(guess);
  }

  /** The shortest round trip among the fitted samples (ms). */
  bestRoundTrip() {
    return this.points.reduce((best, p) => Math.min(best, p.roundTrip), Infinity);
  }

  /**
   * Takes one burst's exchanges (lost ones left out).
   * @param {Sample[]} burst
   * @returns {Verdict}
   */
  addBurst(burst) {
    if (burst.length === 0) return 'empty';
    const best = burstSample(burst, this.drift);
    if (!this.ready) return this.restart([best]);
    const residual = best.offset - this.offsetAt(best.local);
    // What either side may be wrong by: half the sample's round trip, half
    // the model's best, and the model's own spread.
    const tolerance = best.roundTrip / 2 + this.bestRoundTrip() / 2 + Math.max(0.5, 3 * this.scatter);
    if (Math.abs(residual) <= tolerance) {
      this.pending = [];
      this.points.push(best);
      if (this.points.length > this.keep) this.points.shift();
      this.fit();
      return 'accepted';
    }
    // At odds with the model: an outlier, unless the next bursts agree
    // with it rather than with the model.
    const first = this.pending[0];
    const agrees =
      first !== undefined &&
      Math.abs(best.offset - first.offset) <= best.roundTrip / 2 + first.roundTrip / 2 + 0.5 + MAX_DRIFT * (best.local - first.local);
    this.pending = agrees ? [...this.pending, best] : [best];
    if (this.pending.length >= this.confirmations) {
      this.jumps += 1;
      return this.restart(this.pending);
    }
    this.outliers += 1;
    return 'outlier';
  }

  /**
   * @param {Sample[]} points
   * @returns {Verdict}
   */
  restart(points) {
    const jumped = this.ready;
    this.points = [...points];
    this.pending = [];
    this.fit();
    return jumped ? 'jump' : 'accepted';
  }

  /** Weighted least squares of offset against local time. */
  fit() {
    // Queueing only adds delay, and what it adds one way is what errs: a
    // sample counts by how little its round trip exceeds the best one
    // (give or take a sixteenth of it: a long path jitters more).
    const floor = this.bestRoundTrip();
    const weighted = this.points.map((p) => ({ ...p, weight: 1 / (p.roundTrip - floor + 0.5 + floor / 16) ** 2 }));
    const total = weighted.reduce((sum, p) => sum + p.weight, 0);
    const meanLocal = weighted.reduce((sum, p) => sum + p.weight * p.local, 0) / total;
    const meanOffset = weighted.reduce((sum, p) => sum + p.weight * p.offset, 0) / total;
    const span = this.points[this.points.length - 1].local - this.points[0].local;
    let drift = 0;
    if (this.points.length >= 4 && span >= DRIFT_SPAN) {
      const spread = weighted.reduce((sum, p) => sum + p.weight * (p.local - meanLocal) ** 2, 0);
      const moves = weighted.reduce((sum, p) => sum + p.weight * (p.local - meanLocal) * (p.offset - meanOffset), 0);
      const slope = moves / spread;
      // Noisy samples over a short span make a slope of noise: it is
      // shrunk towards 0 by how uncertain it is, and kept whole only when
      // it stands far out of its own error.
      const residuals = weighted.reduce((sum, p) => sum + p.weight * (p.offset - meanOffset - slope * (p.local - meanLocal)) ** 2, 0);
      const variance = residuals / spread / (this.points.length - 2);
      const kept = slope === 0 ? 0 : Math.max(0, 1 - (4 * variance) / slope ** 2);
      drift = Math.max(-MAX_DRIFT, Math.min(MAX_DRIFT, slope * kept));
    }
    this.anchor = meanLocal;
    this.base = meanOffset;
    this.drift = drift;
    const squares = weighted.reduce((sum, p) => sum + p.weight * (p.offset - this.offsetAt(p.local)) ** 2, 0);
    this.scatter = Math.sqrt(squares / total);
  }

  /**
   * What the model is worth at `local`: its offset, drift (ppm), spread
   * about the line, and the best round trip (half of which bounds the
   * offset's error whatever the network's asymmetry).
   * @param {number} local
   */
  quality(local) {
    return {
      offsetMs: this.ready ? this.offsetAt(local) : 0,
      driftPpm: this.drift * 1e6,
      uncertaintyMs: this.scatter,
      roundTripMs: this.ready ? this.bestRoundTrip() : Infinity,
      samples: this.points.length,
      jumps: this.jumps,
      outliers: this.outliers,
    };
  }
}
