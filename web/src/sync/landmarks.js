// Places in an audio file located so far, each a sample number (a FLAC
// frame's first sample, an Ogg page's granule position) and the byte it
// is found at: where a seek's reads may start, and the two between which
// the next guess is interpolated. Kept in order of sample. Pure: node's
// test runner checks it.

/** @typedef {{ sample: number, offset: number }} Landmark */

export class Landmarks {
  /** @param {Landmark} first where the audio begins */
  constructor(first) {
    /** @type {Landmark[]} */
    this.known = [first];
  }

  /** Records that `sample` is found at byte `offset` (once per sample). */
  learn(/** @type {number} */ sample, /** @type {number} */ offset) {
    const at = this.known.findIndex((known) => known.sample >= sample);
    if (at === -1) this.known.push({ sample, offset });
    else if (this.known[at].sample !== sample) this.known.splice(at, 0, { sample, offset });
  }

  /**
   * The last landmark at or before `target`, and the one after it (or
   * `end`, the file's end, when there is none).
   * @param {number} target
   * @param {Landmark} end
   */
  around(target, end) {
    let below = 0;
    while (below + 1 < this.known.length && this.known[below + 1].sample <= target) below += 1;
    return { lo: this.known[below], hi: this.known[below + 1] ?? end };
  }
}
