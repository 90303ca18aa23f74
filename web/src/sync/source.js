// A track's sound, fetched from the edge (its signed link) and decoded in
// pieces of a few seconds, so that the first sound needs only its first
// piece and a long track never holds all of its samples at once. WAV is
// cut by byte ranges and read exactly (wav.js). MP3 is fetched in order
// and its frames indexed as they come; a piece is its frames (and a few
// before, for the bit reservoir) decoded alone at the file's own rate,
// which gives exactly the samples a whole decode does (mp3.js). Other
// formats are handed whole to the browser's decoder: cutting them needs a
// demuxer of each container (docs/sync.md).

import { moreFrames, mp3Cut, mp3Frames } from './mp3.js';
import { wavLayout, wavSamples } from './wav.js';

/** Seconds of sound per piece. */
export const PIECE_SECONDS = 3;
/** Decoded pieces kept at once: the one heard, the next, one spare. */
const KEPT = 3;
const HEAD_BYTES = 64 * 1024;
/** MP3 is fetched in order in ranges of this size. */
const MP3_RANGE = 512 * 1024;

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
 * @param {number} [durationHint] the track's length as the server measured it (s)
 * @returns {Promise<Source>}
 */
export async function openSource(context, url, signal, durationHint) {
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
  const frames = Number.isFinite(total) && first.status === 206 ? mp3Frames(head) : null;
  if (frames) return mp3Source(url, signal, head, total, frames, durationHint);
  // Any other format: the whole file to the browser's decoder, once.
  const whole = first.status === 206 && head.length < total ? await (await fetched(url, null, signal)).arrayBuffer() : head.buffer;
  const buffer = await context.decodeAudioData(whole);
  return { duration: buffer.duration, pieceSeconds: buffer.duration, pieces: 1, piece: async () => buffer };
}

/**
 * MP3 in pieces: the file is fetched in order (its compressed bytes are
 * kept, a tenth of its samples' size), frames are indexed as they come,
 * and each piece is decoded alone when asked.
 * @param {string} url
 * @param {AbortSignal} signal
 * @param {Uint8Array} head
 * @param {number} total
 * @param {import('./mp3.js').Mp3Frames} frames
 * @param {number | undefined} durationHint
 * @returns {Source}
 */
function mp3Source(url, signal, head, total, frames, durationHint) {
  const { sampleRate, channels, samplesPerFrame } = frames.format;
  const bytes = new Uint8Array(total);
  bytes.set(head);
  let have = head.length;
  /** @type {Set<() => void>} */
  const waiting = new Set();
  /** @type {unknown} */
  let failure = null;
  const complete = () => have >= total;
  // A decoder at the file's own rate: no resampling, so pieces join to the
  // sample; the page's context resamples them as it plays them.
  const decoder = new OfflineAudioContext(channels, 1, sampleRate);
  const fill = (async () => {
    while (!complete()) {
      const to = Math.min(total, have + MP3_RANGE);
      const chunk = new Uint8Array(await (await fetched(url, `bytes=${have}-${to - 1}`, signal)).arrayBuffer());
      bytes.set(chunk.subarray(0, total - have), have);
      have += Math.min(chunk.length, total - have);
      moreFrames(frames, bytes.subarray(0, have));
      for (const wake of waiting) wake();
    }
  })();
  fill.catch((error) => {
    failure = error;
    for (const wake of waiting) wake();
  });
  const measured = () => (frames.offsets.length * samplesPerFrame - frames.skip) / sampleRate;
  const duration = () => (complete() ? Math.min(durationHint ?? Infinity, measured()) : (durationHint ?? measured()));
  return {
    get duration() {
      return duration();
    },
    pieceSeconds: PIECE_SECONDS,
    get pieces() {
      return Math.ceil(duration() / PIECE_SECONDS);
    },
    piece: cached(async (index) => {
      let cut = mp3Cut(frames, index, PIECE_SECONDS, complete());
      while (!cut.ready) {
        if (failure) throw failure;
        await new Promise((resolve) => {
          const wake = () => {
            waiting.delete(wake);
            resolve(undefined);
          };
          waiting.add(wake);
        });
        cut = mp3Cut(frames, index, PIECE_SECONDS, complete());
      }
      const decoded = await decoder.decodeAudioData(bytes.slice(cut.fromByte, cut.toByte).buffer);
      const from = cut.start - cut.firstSample;
      // The encoder's padding after the last sample is not the track's: the
      // server's measured length ends it.
      const end = durationHint ? Math.round(durationHint * sampleRate) + frames.skip : Infinity;
      const length = Math.max(1, Math.min(Math.min(cut.stop, end) - cut.start, decoded.length - from));
      const piece = new AudioBuffer({ numberOfChannels: decoded.numberOfChannels, length, sampleRate });
      for (let channel = 0; channel < decoded.numberOfChannels; channel += 1) {
        piece.copyToChannel(decoded.getChannelData(channel).subarray(from, from + length), channel);
      }
      return piece;
    }),
  };
}
