// The arithmetic of playing in step, apart from any browser API so that
// node's test runner checks it (web/tests/unit/plan.test.mjs): where in its
// track the room is at an instant, where this page's sound is, and what to
// do about the difference.
//
// The page's sound is a `Timeline`: the track's position as a function of
// the audio clock (AudioContext time, in seconds), a straight line at the
// playback rate, and — while a correction runs — a slope of 1 ± 0.5 % until
// a known instant, then 1 again. Every source node is started from it and
// given the same rate changes, so the line is what is heard, to the
// sample, and no node has to be asked where it is.

/** Errors below this are left alone (ms): below what anyone hears. */
export const DEAD_BAND_MS = 1;
/** Errors above this are fixed by starting again at the right place (ms). */
export const RESCHEDULE_BEYOND_MS = 200;
/** The largest change of playback rate, as a fraction: 0.5 % (8.6 cents). */
export const MAX_RATE_CHANGE = 0.005;

export class Timeline {
  /**
   * @param {number} at audio clock (s) of the anchor
   * @param {number} position track position there (s)
   * @param {number} [rate] slope from the anchor on
   * @param {number} [until] audio clock (s) where the slope returns to 1
   */
  constructor(at, position, rate = 1, until = Infinity) {
    this.at = at;
    this.position = position;
    this.rate = rate;
    this.until = rate === 1 ? Infinity : until;
  }

  /** The track's position (s) at audio clock `time` (s). */
  positionAt(/** @type {number} */ time) {
    const first = Math.min(time, this.until) - this.at;
    const after = Math.max(0, time - this.until);
    return this.position + first * this.rate + after;
  }

  /** The audio clock (s) at which the track reaches `position` (s). */
  timeOf(/** @type {number} */ position) {
    const turn = this.positionAt(this.until);
    if (position <= turn || this.until === Infinity) return this.at + (position - this.position) / this.rate;
    return this.until + (position - turn);
  }

  /**
   * The same sound from audio clock `time` on, but at `rate` for `seconds`.
   * @param {number} time
   * @param {number} rate
   * @param {number} seconds
   */
  bend(time, rate, seconds) {
    return new Timeline(time, this.positionAt(time), rate, time + seconds);
  }

  /** The rate at audio clock `time`. */
  rateAt(/** @type {number} */ time) {
    return time < this.until && time >= this.at ? this.rate : 1;
  }
}

/**
 * @typedef {{ kind: 'none' } | { kind: 'reschedule' } | { kind: 'bend', rate: number, seconds: number }} Correction
 */

/**
 * What to do about an error of `errorMs` (positive: the page is ahead).
 * Below a millisecond nothing; up to 200 ms a rate 0.5 % slower or faster
 * for exactly as long as it takes to close the gap (4 s for 20 ms); beyond,
 * start again at the right place, which is heard as a jump.
 * @param {number} errorMs
 * @returns {Correction}
 */
export function correction(errorMs) {
  const size = Math.abs(errorMs);
  if (!(size >= DEAD_BAND_MS)) return { kind: 'none' };
  if (size > RESCHEDULE_BEYOND_MS) return { kind: 'reschedule' };
  return {
    kind: 'bend',
    rate: errorMs > 0 ? 1 - MAX_RATE_CHANGE : 1 + MAX_RATE_CHANGE,
    seconds: size / 1000 / MAX_RATE_CHANGE,
  };
}

/**
 * Where the room is in its track (ms) at the server's instant `serverMs`.
 * @param {{ playing: boolean, startedAtMs: number | null, positionMs: number }} playback
 * @param {number} serverMs
 */
export function roomPositionAt(playback, serverMs) {
  if (playback.playing && playback.startedAtMs !== null) return serverMs - playback.startedAtMs;
  return playback.positionMs;
}

/** How long an output's lag must hold still before a start trusts it (ms). */
const SETTLED_MS = 500;

/**
 * The audio clock ↔ page clock link: what the output plays at audio clock
 * `contextTime` (s) is heard at page time `contextTime · 1000 + lagMs`. The
 * browser's `getOutputTimestamp()` gives pairs that jitter by its callback
 * period; the median of the recent ones is kept.
 */
export class OutputLink {
  constructor(size = 15) {
    this.size = size;
    /** @type {number[]} */
    this.recent = [];
    this.lagMs = NaN;
    /** The readings of the last SETTLED_MS and the one before, for `ready`. @type {{ page: number, lag: number }[]} */
    this.readings = [];
    /** Ready once: its median is the link from then on, jitter or steps aside. */
    this.known = false;
    /** Page time (ms) of the first reading: how long the output has been read. */
    this.since = NaN;
  }

  /**
   * @param {number} contextTime s
   * @param {number} performanceTime ms
   */
  add(contextTime, performanceTime) {
    const lag = performanceTime - contextTime * 1000;
    if (Number.isNaN(this.since)) this.since = performanceTime;
    this.readings.push({ page: performanceTime, lag });
    while (this.readings.length > 2 && performanceTime - this.readings[1].page > SETTLED_MS) this.readings.shift();
    this.recent.push(lag);
    if (this.recent.length > this.size) this.recent.shift();
    // A step (an underrun, the sound server changing its buffering): three
    // readings that agree with each other and not with the median are the
    // new lag at once, not after half the window.
    const last = this.recent.slice(-3);
    const spread = Math.max(...last) - Math.min(...last);
    if (last.length === 3 && this.recent.length > 3 && spread <= 2 && Math.abs(last[1] - this.lagMs) > 5) this.recent = last;
    const sorted = [...this.recent].sort((a, b) => a - b);
    this.lagMs = sorted[Math.floor(sorted.length / 2)];
    if (!this.known) this.known = this.ready;
  }

  /**
   * The lag held within 2 ms for SETTLED_MS of page time: an output that
   * has just started reports a lag that grows as its buffers fill (by its whole latency, ~90 ms through PulseAudio, over its
   * first second or more, and at times in a slow creep of tens of ms a
   * second that a few readings 50 ms apart cannot tell from stillness),
   * and one that says "running" before its clock moves repeats one
   * reading, which spans no time.
   */
  get ready() {
    const readings = this.readings;
    if (readings.length < 3) return false;
    const first = readings[0];
    const last = readings[readings.length - 1];
    const lags = readings.map((reading) => reading.lag);
    return last.page - first.page >= SETTLED_MS && Math.max(...lags) - Math.min(...lags) <= 2;
  }

  /** Page time (ms) at which audio clock `contextTime` (s) is heard. */
  heardAt(/** @type {number} */ contextTime) {
    return contextTime * 1000 + this.lagMs;
  }

  /** Audio clock (s) heard at page time `pageMs`. */
  contextAt(/** @type {number} */ pageMs) {
    return (pageMs - this.lagMs) / 1000;
  }
}
