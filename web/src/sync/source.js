// A track's sound, fetched from the edge (its signed link) and decoded in
// pieces of a few seconds, so that the first sound needs only its first
// piece and a long track never holds all of its samples at once. WAV is
// cut by byte ranges and read exactly (wav.js). Other formats are handed
// whole to the browser's decoder: their frames cannot be cut apart without
// a demuxer of each container, which is said in docs/sync.md.

import { wavLayout, wavSamples } from './wav.js';

/** Seconds of sound per piece. */
export const PIECE_SECONDS = 3;
/** Decoded pieces kept at once: the one heard, the next, one spare. */
const KEPT = 3;
const HEAD_BYTES = 64 * 1024;

/**
 * @typedef {{ duration: number, pieceSeconds: number, pieces: number,
 *   piece: (index: number) => Promise<AudioBuffer> }} Source
 */

/**
 * GET with retries: a dropped connection costs a retry, not the track.
 * @param {string} url
 * @param {string | null} range
 * @param {AbortSignal} signal
 */
async function fetched(url, range, signal) {
  for (let attempt = 0; ; attempt += 1) {
    try {
      const response = await fetch(url, { headers: range ? { Range: range } : {}, signal });
      if (response.status === 200 || response.status === 206) return response;
      throw new Error(`The audio could not be fetched (${response.status}).`);
    } catch (error) {
      if (signal.aborted || attempt >= 3) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250 * 2 ** attempt));
    }
  }
}

/**
 * Keeps the last few decoded pieces; the rest are fetched again if asked.
 * @param {(index: number) => Promise<AudioBuffer>} load
 */
function cached(load) {
  /** @type {Map<number, Promise<AudioBuffer>>} */
  const pieces = new Map();
  return (/** @type {number} */ index) => {
    let piece = pieces.get(index);
    if (!piece) {
      piece = load(index);
      piece.catch(() => pieces.delete(index));
      pieces.set(index, piece);
      while (pieces.size > KEPT) pieces.delete(pieces.keys().next().value ?? index);
    } else {
      pieces.delete(index);
      pieces.set(index, piece);
    }
    return piece;
  };
}

/**
 * Opens `url` for `context`; `signal` abandons its fetches.
 * @param {BaseAudioContext} context
 * @param {string} url
 * @param {AbortSignal} signal
 * @returns {Promise<Source>}
 */
export async function openSource(context, url, signal) {
  const first = await fetched(url, `bytes=0-${HEAD_BYTES - 1}`, signal);
  const head = new Uint8Array(await first.arrayBuffer());
  const total = first.status === 206 ? Number(first.headers.get('Content-Range')?.split('/')[1]) : head.length;
  const layout = Number.isFinite(total) ? wavLayout(head, total) : null;
  if (layout) {
    const framesPerPiece = Math.round(PIECE_SECONDS * layout.sampleRate);
    const pieces = Math.ceil(layout.frames / framesPerPiece);
    return {
      duration: layout.frames / layout.sampleRate,
      pieceSeconds: framesPerPiece / layout.sampleRate,
      pieces,
      piece: cached(async (index) => {
        const frames = Math.min(framesPerPiece, layout.frames - index * framesPerPiece);
        const from = layout.dataStart + index * framesPerPiece * layout.blockAlign;
        const to = from + frames * layout.blockAlign;
        const bytes =
          to <= head.length
            ? head.subarray(from, to)
            : new Uint8Array(await (await fetched(url, `bytes=${from}-${to - 1}`, signal)).arrayBuffer());
        const channels = wavSamples(bytes, layout);
        const buffer = context.createBuffer(layout.channels, channels[0].length, layout.sampleRate);
        channels.forEach((samples, channel) => buffer.copyToChannel(samples, channel));
        return buffer;
      }),
    };
  }
  // Any other format: the whole file to the browser's decoder, once.
  const whole = first.status === 206 && head.length < total ? await (await fetched(url, null, signal)).arrayBuffer() : head.buffer;
  const buffer = await context.decodeAudioData(whole);
  return { duration: buffer.duration, pieceSeconds: buffer.duration, pieces: 1, piece: async () => buffer };
}
