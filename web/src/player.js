// The room's sound on this page: an <audio> element that follows the
// room's playback. The room says when its track started, on the server's
// clock; the element is put at `server now − start` and kept there: small
// errors are absorbed by playing a little faster or slower, large ones by
// seeking. Browsers refuse to start sound before the reader has touched
// the page; then `blocked` is raised and the page offers a button.

import { serverNow, quality } from './clock.js';

/**
 * @typedef {{ id: string, file_url: string | null, duration_ms: number, original_name: string,
 *   cover_url?: string | null, uploader?: { id: string, username: string }, genre?: any }} Track
 * @typedef {{ track: Track | null, playing: boolean, startedAtMs: number | null, positionMs: number }} Playback
 */

/** Seek beyond this error (ms); below it, nudge the rate. */
const SEEK_BEYOND = 250;
/** Leave errors below this alone (ms): the element's own clock jitters. */
const TOLERATE = 15;

export class Player {
  constructor() {
    this.audio = new Audio();
    this.audio.preload = 'auto';
    // In the document (unseen) so that the browser's media controls and
    // tests can find what this page plays.
    this.audio.hidden = true;
    this.audio.dataset.role = 'room-audio';
    document.body.appendChild(this.audio);
    /** @type {Playback} */
    this.playback = { track: null, playing: false, startedAtMs: null, positionMs: 0 };
    this.blocked = false;
    /** Signed error of the last check, ms (positive: ahead of the room). */
    this.errorMs = 0;
    /** @type {Set<() => void>} */
    this.listeners = new Set();
    this.timer = window.setInterval(() => this.correct(), 500);
    this.audio.addEventListener('loadedmetadata', () => this.correct(true));
    this.audio.addEventListener('playing', () => this.correct());
  }

  /** @param {() => void} listener */
  onChange(listener) {
    this.listeners.add(listener);
  }

  changed() {
    for (const listener of this.listeners) listener();
  }

  /** Where the room is in its track now (ms). */
  roomPosition() {
    const { playing, startedAtMs, positionMs } = this.playback;
    if (playing && startedAtMs !== null) return Math.max(0, serverNow() - startedAtMs);
    return positionMs;
  }

  /** @param {Playback} playback */
  follow(playback) {
    const before = this.playback.track;
    this.playback = playback;
    const url = playback.track?.file_url ?? null;
    if (!url) {
      this.audio.pause();
      this.audio.removeAttribute('src');
      this.audio.load();
    } else if (before?.id !== playback.track?.id || !this.audio.src) {
      this.audio.src = url;
    }
    this.correct(true);
    this.changed();
  }

  /** Puts the element where the room is, and plays or pauses it. */
  correct(seek = false) {
    const { track, playing } = this.playback;
    if (!track?.file_url || this.audio.readyState < HTMLMediaElement.HAVE_METADATA) return;
    const target = this.roomPosition();
    if (!playing || target >= track.duration_ms) {
      if (!this.audio.paused) this.audio.pause();
      if (Math.abs(this.audio.currentTime * 1000 - target) > SEEK_BEYOND) this.audio.currentTime = target / 1000;
      this.errorMs = 0;
      return;
    }
    const error = this.audio.currentTime * 1000 - target;
    this.errorMs = error;
    if (seek || this.audio.paused || Math.abs(error) > SEEK_BEYOND) {
      this.audio.currentTime = target / 1000;
      this.audio.playbackRate = 1;
    } else if (Math.abs(error) > TOLERATE) {
      // Catch up over about two seconds, never audibly (≤ 5 %).
      this.audio.playbackRate = 1 - Math.max(-0.05, Math.min(0.05, error / 2000));
    } else {
      this.audio.playbackRate = 1;
    }
    if (this.audio.paused) {
      this.audio.play().then(
        () => {
          if (this.blocked) {
            this.blocked = false;
            this.changed();
          }
        },
        (/** @type {unknown} */ failure) => {
          if (failure instanceof DOMException && failure.name === 'NotAllowedError' && !this.blocked) {
            this.blocked = true;
            this.changed();
          }
        },
      );
    }
  }

  /** The reader allowed sound (a click): start now. */
  unblock() {
    this.blocked = false;
    this.correct(true);
    this.changed();
  }

  /** What the sync report and the badge show. */
  sync() {
    return { driftMs: this.errorMs, clockOffsetMs: quality().offset, roundTripMs: quality().roundTrip };
  }

  stop() {
    clearInterval(this.timer);
    this.audio.pause();
    this.audio.removeAttribute('src');
    this.audio.load();
    this.audio.remove();
  }
}
