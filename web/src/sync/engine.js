// The room's sound on this page, on the audio clock. Nothing is "played
// now": each piece of the track is started with
// `AudioBufferSourceNode.start(when, offset)` at the audio clock's instant
// that is heard when the server's clock (clock.js) says the room is at that
// place — through the output's own latency (`getOutputTimestamp()`) and a
// per-device delay the listener may set (Bluetooth, browsers that report
// nothing). Every 250 ms the sound's planned position is compared with the
// room's and corrected in tiers (plan.js): nothing under 1 ms, the rate
// ±0.5 % up to 200 ms, a new start beyond. docs/sync.md explains it whole.

import { clockReady, localAt, quality, serverAt } from './clock.js';
import { OutputLink, Timeline, correction, roomPositionAt } from './plan.js';
import { openSource } from './source.js';

/**
 * @typedef {{ id: string, file_url: string | null, duration_ms: number, original_name: string,
 *   cover_url?: string | null, uploader?: { id: string, username: string }, genre?: any, autofill?: boolean }} Track
 * @typedef {{ track: Track | null, playing: boolean, startedAtMs: number | null, positionMs: number,
 *   nextTrack?: Track | null, pausedAtMs?: number | null, stopsAtMs?: number | null }} Playback
 *   `pausedAtMs`, `stopsAtMs`: a pause's or a stop's server instant, ahead
 *   of its event when the administrator asked so: the sound runs until it.
 * @typedef {{ id: string, abort: AbortController, source: Promise<import('./source.js').Source> }} Opened
 * @typedef {{ node: AudioBufferSourceNode, index: number, start: number, end: number }} Sounding
 *   `start`, `end`: audio clock (s) of its first and last sound
 */

/** Between deciding a start and its sound (s): a render quantum and the main thread's jitter. */
const LEAD = 0.12;
/** Schedule a piece this long before it is due (s): hidden tabs run timers once a second. */
const AHEAD = 2.5;
const TICK_MS = 250;
const FADE = 0.004;
/** The first seconds after a start (s), when an error beyond SETTLE_BEYOND_MS starts again. */
const SETTLE = 3;
const SETTLE_BEYOND_MS = 3;

/** The piece of `source` that holds track position `seconds`. @param {import('./source.js').Source} source @param {number} seconds */
const pieceAt = (source, seconds) => Math.max(0, Math.floor(seconds / source.pieceSeconds));

/** Where the listener's device delay is kept (docs/sync.md). */
const DELAY_KEY = 'spotik.outputDelayMs';

export class Engine {
  /** @param {{ pan?: number }} [options] `pan`: −1 left only, 1 right only (a test setting) */
  constructor({ pan = 0 } = {}) {
    this.pan = pan;
    /** @type {AudioContext | null} */
    this.context = null;
    /** @type {GainNode | null} */
    this.gain = null;
    /** @type {Playback} */
    this.playback = { track: null, playing: false, startedAtMs: null, positionMs: 0 };
    this.blocked = false;
    /** Signed error of the last check (ms, positive: ahead of the room). */
    this.errorMs = 0;
    /** The last checks' raw errors (ms). @type {number[]} */
    this.errors = [];
    this.corrections = { bends: 0, restarts: 0 };
    /** The last corrections, newest last, for window.spotikSync (docs/sync.md). @type {{ kind: string, errorMs: number, lagMs: number, at: number }[]} */
    this.history = [];
    this.deviceDelayMs = Number(localStorage.getItem(DELAY_KEY)) || 0;
    this.link = new OutputLink();
    /** @type {Opened | null} */
    this.current = null;
    /** @type {Opened | null} */
    this.upcoming = null;
    /** @type {Timeline | null} */
    this.timeline = null;
    /** @type {Sounding[]} */
    this.sounding = [];
    /** Audio clock (s) at which the planned sound ends (a pause ahead), Infinity if none. */
    this.endsAt = Infinity;
    /** Nodes started and not yet ended, in `sounding` or not, and the most at once (window.spotikSync). */
    this.live = 0;
    this.mostLive = 0;
    this.scheduling = false;
    /** Audio clock (s) of the last start, and the restarts it has had to settle. */
    this.startedAt = -Infinity;
    this.settles = 0;
    this.resettling = false;
    /** How long the last starts waited for each of their steps (ms), for window.spotikSync. */
    /** @type {{ began: number, clock: number, output: number, source: number, piece: number, end: string }[]} */
    this.traces = [];
    /** Page time (ms) this engine was made: the room page opening, for startTraces. */
    this.openedAt = performance.now();
    /** Bumped by every change: older async work sees it and stops. */
    this.generation = 0;
    /** @type {Set<() => void>} */
    this.listeners = new Set();
    this.timer = window.setInterval(() => this.tick(), TICK_MS);
  }

  /** @param {() => void} listener */
  onChange(listener) {
    this.listeners.add(listener);
  }

  changed() {
    for (const listener of this.listeners) listener();
  }

  /** Where the room is in its track now (ms), for the page's progress bar. */
  roomPosition() {
    return Math.max(0, roomPositionAt(this.playback, serverAt(performance.now())));
  }

  /** The listener's extra output delay (ms), kept for this browser. */
  setDeviceDelay(/** @type {number} */ ms) {
    this.deviceDelayMs = Math.max(-1000, Math.min(1000, Math.round(ms)));
    localStorage.setItem(DELAY_KEY, String(this.deviceDelayMs));
  }

  /** @param {Playback} playback */
  follow(playback) {
    const before = this.playback;
    this.playback = playback;
    const track = playback.track;
    const same =
      this.timeline !== null &&
      playback.playing &&
      before.playing &&
      before.track?.id === track?.id &&
      before.startedAtMs === playback.startedAtMs;
    if (track?.file_url) this.open(track);
    if (playback.nextTrack?.file_url && playback.nextTrack.id !== track?.id) this.prepare(playback.nextTrack);
    if (!same) {
      this.generation += 1;
      const until = this.endOf(before, playback);
      this.silence(until === null ? undefined : until);
      if (track?.file_url && playback.playing) this.start(this.generation);
    }
    this.changed();
  }

  /**
   * The audio clock instant (s) at which the sound playing for `before`
   * must end because `after` pauses or stops it at a server instant still
   * ahead: where this page's timeline reaches the room's position at that
   * instant. Null when the change takes effect at once.
   * @param {Playback} before
   * @param {Playback} after
   */
  endOf(before, after) {
    if (!this.timeline || !this.context || !before.playing || before.startedAtMs === null) return null;
    const paused = !after.playing && after.track?.id === before.track?.id && after.startedAtMs === before.startedAtMs;
    const at = paused ? after.pausedAtMs : !after.track ? after.stopsAtMs : null;
    if (typeof at !== 'number' || at <= serverAt(performance.now())) return null;
    return this.timeline.timeOf((at - before.startedAtMs + this.deviceDelayMs) / 1000);
  }

  /** The audio context, made once; `blocked` while the browser refuses sound. */
  audio() {
    if (!this.context) {
      const context = new AudioContext({ latencyHint: 'playback' });
      const gain = context.createGain();
      let output = /** @type {AudioNode} */ (gain);
      if (this.pan !== 0) {
        const panner = context.createStereoPanner();
        panner.pan.value = this.pan;
        gain.connect(panner);
        output = panner;
      }
      output.connect(context.destination);
      context.addEventListener('statechange', () => {
        if (context.state === 'running' && this.blocked) {
          this.blocked = false;
          this.follow({ ...this.playback });
        }
      });
      this.context = context;
      this.gain = gain;
    }
    return this.context;
  }

  /**
   * Opens the output before anything is to be heard, where the browser
   * allows sound without a click: a sound server takes up to a second to
   * settle a new output's latency (OutputLink.ready), and a start would
   * otherwise wait for that after the room's reads — most of a late
   * joiner's silence.
   */
  warm() {
    const context = this.audio();
    if (context.state !== 'running') context.resume().catch(() => {});
    this.settleOutput();
  }

  /**
   * Reads the output every 50 ms until its link is ready, at most until it
   * has been read for 3 s: one that creeps on for longer would hold every
   * start (a restart too) for 3 s of silence and settle no sooner; its
   * creep is followed once it plays.
   */
  async settleOutput() {
    const context = this.context;
    const deadline = (Number.isNaN(this.link.since) ? performance.now() : this.link.since) + 3000;
    while (this.context === context && !this.link.ready && performance.now() < deadline) {
      this.readOutput();
      if (!this.link.ready) await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** @param {Track} track */
  open(track) {
    if (this.current?.id === track.id) return;
    this.current?.abort.abort();
    if (this.upcoming?.id === track.id) {
      this.current = this.upcoming;
      this.upcoming = null;
      return;
    }
    const abort = new AbortController();
    const source = openSource(this.audio(), String(track.file_url), abort.signal, track.duration_ms / 1000);
    source.catch(() => {});
    this.current = { id: track.id, abort, source };
  }

  /** The next track's first piece, fetched and decoded before it is due. @param {Track} track */
  prepare(track) {
    if (this.upcoming?.id === track.id) return;
    this.upcoming?.abort.abort();
    const abort = new AbortController();
    const source = openSource(this.audio(), String(track.file_url), abort.signal, track.duration_ms / 1000);
    source.then((opened) => opened.piece(0)).catch(() => {});
    this.upcoming = { id: track.id, abort, source };
  }

  /** Page time (ms) at which audio clock `time` (s) is heard. */
  heardAt(/** @type {number} */ time) {
    if (this.link.known) return this.link.heardAt(time);
    const context = /** @type {AudioContext} */ (this.context);
    const latency = (context.outputLatency || 0) + (context.baseLatency || 0);
    return performance.now() + (time - context.currentTime + latency) * 1000;
  }

  /** Where the sound must be (s of track) at audio clock `time` (s). */
  targetAt(/** @type {number} */ time) {
    return (roomPositionAt(this.playback, serverAt(this.heardAt(time))) + this.deviceDelayMs) / 1000;
  }

  /** @param {number} generation */
  async start(generation) {
    const trace = { began: performance.now(), clock: 0, output: 0, source: 0, piece: 0, end: '' };
    this.traces.push(trace);
    if (this.traces.length > 5) this.traces.shift();
    const context = this.audio();
    if (context.state !== 'running') {
      const resumed = context.resume().catch(() => {});
      await Promise.race([resumed, new Promise((resolve) => setTimeout(resolve, 300))]);
      if (generation !== this.generation) return;
      if (/** @type {AudioContextState} */ (context.state) !== 'running') {
        trace.end = 'blocked';
        this.blocked = true;
        this.changed();
        return;
      }
    }
    // The piece the start most likely needs, fetched while the clocks are
    // read: on a slow link its round trip is much of a late joiner's wait.
    this.current?.source
      .then((source) => {
        const wanted = this.targetAt(context.currentTime + LEAD + 0.25);
        if (generation === this.generation && wanted < source.duration) return source.piece(pieceAt(source, wanted));
      })
      .catch(() => {});
    // A start is worth only the clocks it is computed from: the server's
    // measured, and the output's link settled.
    // An output may say "running" a second or more before its clock moves
    // (PulseAudio does): a start computed then would be late by the stall.
    await clockReady();
    trace.clock = performance.now() - trace.began;
    await this.settleOutput();
    trace.output = performance.now() - trace.began;
    if (generation !== this.generation) {
      trace.end = 'superseded';
      return;
    }
    const opened = this.current;
    if (!opened) return;
    let source;
    try {
      source = await opened.source;
      trace.source = performance.now() - trace.began;
    } catch (error) {
      if (generation === this.generation) console.warn('Spotik: the track could not be loaded', error);
      return;
    }
    // The piece the start will need, guessed with time to fetch it; if the
    // guess was wrong by the time it came, the right one.
    let wanted = this.targetAt(context.currentTime + LEAD + 0.25);
    for (let attempt = 0; attempt < 4; attempt += 1) {
      if (wanted >= source.duration) {
        trace.end = 'over';
        return;
      }
      const index = pieceAt(source, wanted);
      let buffer;
      try {
        buffer = await source.piece(index);
      } catch (error) {
        // Abandoned for another track, or the edge failed after retries.
        if (generation === this.generation) console.warn('Spotik: a piece of the track could not be loaded', error);
        return;
      }
      if (generation !== this.generation) return;
      trace.piece = performance.now() - trace.began;
      const at = context.currentTime + LEAD;
      const position = this.targetAt(at);
      if (position >= source.duration) {
        trace.end = 'over';
        return;
      }
      const begins = index * source.pieceSeconds;
      if (Math.floor(Math.max(0, position) / source.pieceSeconds) === index) {
        this.timeline = new Timeline(at, position);
        this.endsAt = Infinity;
        this.errors = [];
        if (!this.resettling) {
          this.startedAt = at;
          this.settles = 0;
        }
        this.resettling = false;
        this.play(index, buffer, source.pieceSeconds, at);
        source.piece(index + 1).catch(() => {});
        // A start near a piece's end needs the next one now: the next
        // tick may come after that end (a busy main thread), leaving a gap.
        this.scheduleNext(generation).catch(() => {});
        trace.end = 'started';
        this.changed();
        return;
      }
      // Overshot (a start within the guess's margin before a piece's end,
      // the piece at hand so no time passed): the piece the start is in.
      // Guessing again with the margin would overshoot the same way.
      wanted = position < begins ? position : this.targetAt(context.currentTime + LEAD + 0.25);
    }
    trace.end = `missed ${wanted.toFixed(3)}`;
  }

  /**
   * Starts piece `index` (`pieceSeconds` long, but the last) where the
   * timeline has it, or at audio clock `from` (s) part way through it.
   * @param {number} index
   * @param {AudioBuffer} buffer
   * @param {number} pieceSeconds
   * @param {number} [from]
   */
  play(index, buffer, pieceSeconds, from) {
    const context = /** @type {AudioContext} */ (this.context);
    const timeline = /** @type {Timeline} */ (this.timeline);
    const begins = index * pieceSeconds;
    let when = from ?? timeline.timeOf(begins);
    // A start in the past (a late tick) would be started at once by the
    // browser and shift the sound: start it a moment later, further in.
    if (when < context.currentTime + 0.01) when = context.currentTime + 0.02;
    const offset = Math.max(0, timeline.positionAt(when) - begins);
    if (offset >= buffer.duration) return;
    const node = context.createBufferSource();
    node.buffer = buffer;
    node.connect(/** @type {GainNode} */ (this.gain));
    node.playbackRate.value = timeline.rateAt(when);
    if (timeline.until !== Infinity && timeline.until > when) {
      node.playbackRate.setValueAtTime(timeline.rate, Math.max(when, timeline.at));
      node.playbackRate.setValueAtTime(1, timeline.until);
    }
    node.start(when, offset);
    this.live += 1;
    this.mostLive = Math.max(this.mostLive, this.live);
    /** @type {Sounding} */
    const sounding = { node, index, start: when, end: timeline.timeOf(begins + buffer.duration) };
    node.addEventListener('ended', () => {
      this.live -= 1;
      this.sounding = this.sounding.filter((s) => s !== sounding);
    });
    this.sounding.push(sounding);
  }

  /**
   * Stops every node, now or at audio clock `until` (s), with a fade too
   * short to hear as anything but a stop. Until then the timeline stays
   * what is heard.
   * @param {number} [until]
   */
  silence(until) {
    const context = this.context;
    if (!context || !this.gain) {
      this.timeline = null;
      this.sounding = [];
      return;
    }
    const now = context.currentTime;
    const end = Math.max(now, until ?? now);
    if (end === now) this.timeline = null;
    this.endsAt = end === now ? Infinity : end;
    this.gain.gain.cancelScheduledValues(now);
    this.gain.gain.setValueAtTime(this.gain.gain.value, now);
    if (end > now) this.gain.gain.setValueAtTime(this.gain.gain.value, end);
    this.gain.gain.linearRampToValueAtTime(0, end + FADE);
    this.gain.gain.setValueAtTime(1, end + FADE * 2);
    for (const { node } of this.sounding) {
      try {
        node.stop(end + FADE);
      } catch {
        // Never started: nothing to stop.
      }
    }
    this.sounding = [];
  }

  /** The output's audio clock ↔ page clock link, read once more. */
  readOutput() {
    const context = this.context;
    if (!context || context.state !== 'running' || typeof context.getOutputTimestamp !== 'function') return;
    const { contextTime, performanceTime } = context.getOutputTimestamp();
    if (contextTime && performanceTime) this.link.add(contextTime, performanceTime);
  }

  async tick() {
    this.readOutput();
    const context = this.context;
    const timeline = this.timeline;
    if (!context || !timeline || !this.playback.playing || !this.current) return;
    const generation = this.generation;
    const now = context.currentTime;
    // Decided on the median of the last five checks (1.25 s): an output's
    // reported latency jitters by several ms in its first seconds, and a
    // correction that chases that noise is itself an error.
    this.errors.push((timeline.positionAt(now) - this.targetAt(now)) * 1000);
    if (this.errors.length > 5) this.errors.shift();
    this.errorMs = [...this.errors].sort((a, b) => a - b)[Math.floor(this.errors.length / 2)];
    /** @type {import('./plan.js').Correction} */
    let fix = { kind: 'none' };
    if (now < timeline.at) {
      // The start itself is still ahead.
    } else if (now - this.startedAt < SETTLE && Math.abs(this.errorMs) > SETTLE_BEYOND_MS && this.settles < 2) {
      // An output that has just started may still move its latency (by
      // tens of ms through PulseAudio): in the first seconds a new start
      // is less noticeable than seconds of bending.
      this.settles += 1;
      fix = { kind: 'reschedule' };
    } else if (timeline.rateAt(now) === 1) {
      fix = correction(this.errorMs);
    } else {
      // Bending already: planned again only if the bend will not close
      // the gap (the output's latency moved under it, say).
      const left = this.errorMs + (timeline.positionAt(timeline.until) - timeline.positionAt(now) - (timeline.until - now)) * 1000;
      if (Math.abs(left) > 5) fix = correction(this.errorMs);
    }
    if (fix.kind !== 'none') {
      this.history.push({ kind: fix.kind, errorMs: +this.errorMs.toFixed(2), lagMs: +this.link.lagMs.toFixed(1), at: Math.round(now * 1000) });
      if (this.history.length > 20) this.history.shift();
    }
    if (fix.kind === 'reschedule') {
      this.corrections.restarts += 1;
      this.resettling = now - this.startedAt < SETTLE;
      this.generation += 1;
      this.silence();
      this.start(this.generation);
      return;
    }
    if (fix.kind === 'bend') {
      this.corrections.bends += 1;
      const at = now + 0.03;
      this.timeline = timeline.bend(at, fix.rate, fix.seconds);
      // Pieces not started yet would start when the old line said: they
      // are dropped and scheduled again from the new one.
      const started = this.sounding.filter((s) => s.start <= at);
      for (const { node } of this.sounding.filter((s) => s.start > at)) node.stop();
      for (const { node } of started) {
        node.playbackRate.cancelScheduledValues(at);
        node.playbackRate.setValueAtTime(fix.rate, at);
        node.playbackRate.setValueAtTime(1, at + fix.seconds);
      }
      this.sounding = started;
    }
    await this.scheduleNext(generation);
  }

  /**
   * The next piece, scheduled ahead of its time (when the last one ends
   * within AHEAD).
   * @param {number} generation
   */
  async scheduleNext(generation) {
    const context = this.context;
    const last = this.sounding[this.sounding.length - 1];
    if (!context || !this.current || this.scheduling || !last || last.end - context.currentTime > AHEAD) return;
    this.scheduling = true;
    try {
      const source = await this.current.source;
      const index = last.index + 1;
      if (index >= source.pieces) return;
      const buffer = await source.piece(index);
      if (generation !== this.generation || this.timeline === null) return;
      this.play(index, buffer, source.pieceSeconds);
      source.piece(index + 1).catch(() => {});
    } catch (error) {
      console.warn('Spotik: a piece of the track could not be loaded', error);
    } finally {
      this.scheduling = false;
    }
  }

  /** The reader allowed sound (a click): start now. */
  unblock() {
    this.audio()
      .resume()
      .then(() => {
        this.blocked = false;
        this.follow({ ...this.playback });
      })
      .catch(() => {});
  }

  /**
   * The track position heard (ms) at the server's instant `serverMs`, by
   * the clock model; null when nothing is planned. For the sync report and
   * the benchmark (loadtest/sync).
   * @param {number} serverMs
   */
  positionAt(serverMs) {
    if (!this.timeline || !this.context) return null;
    const page = localAt(serverMs);
    const time = this.link.known ? this.link.contextAt(page) : this.context.currentTime + (page - this.heardAt(this.context.currentTime)) / 1000;
    if (time > this.endsAt) return null;
    return this.timeline.positionAt(time) * 1000 - this.deviceDelayMs;
  }

  /**
   * The same, at the instant this machine's own clock reads `unixMs`: on
   * one machine (the benchmark's) every process shares that clock, so this
   * is the truth the clock model is measured against.
   * @param {number} unixMs
   */
  positionAtWall(unixMs) {
    if (!this.timeline || !this.context || !this.link.known) return null;
    const time = this.link.contextAt(unixMs - performance.timeOrigin);
    if (time > this.endsAt) return null;
    return this.timeline.positionAt(time) * 1000 - this.deviceDelayMs;
  }

  /** What the badge and the sync report show. */
  sync() {
    const clock = quality();
    return {
      driftMs: this.errorMs,
      clockOffsetMs: clock.offsetMs,
      roundTripMs: clock.roundTripMs,
      uncertaintyMs: clock.uncertaintyMs,
      outputLatencyMs: this.context ? ((this.context.outputLatency || 0) + (this.context.baseLatency || 0)) * 1000 : 0,
      sounding: this.sounding.length > 0 && this.context?.state === 'running',
      liveNodes: this.live,
      mostLiveNodes: this.mostLive,
      startTraces: this.traces,
      openedAt: this.openedAt,
      outputLagMs: this.link.lagMs,
    };
  }

  stop() {
    clearInterval(this.timer);
    this.generation += 1;
    this.silence();
    this.current?.abort.abort();
    this.upcoming?.abort.abort();
    this.context?.close().catch(() => {});
    this.context = null;
  }
}
