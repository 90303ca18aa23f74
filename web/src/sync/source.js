// A track's sound, fetched from the edge (its signed link) and decoded in
// pieces of a few seconds, so that the first sound needs only its first
// piece and a long track never holds all of its samples at once. WAV is
// cut by byte ranges and read exactly (wav.js). MP3 is fetched in order
// and its frames indexed as they come; a piece is its frames (and a few
// before, for the bit reservoir) decoded alone at the file's own rate,
// which gives exactly the samples a whole decode does (mp3.js). FLAC is
// fetched by ranges, found by its frames' sample numbers and cut on frame
// boundaries, exactly too (flac.js). Ogg Vorbis and Opus are fetched by
// ranges too, found by their pages' granule positions, and decoded from a
// little before each piece (ogg.js). M4A's frames are found in its table
// of them and decoded from a little before each piece too (mp4.js). Other
// formats are handed whole to the browser's decoder (docs/sync.md).

import { firstFrame, flacFile, flacStart, frameEnd, frameHeader, metadataBlock } from './flac.js';
import { concat } from './bytes.js';
import { Landmarks } from './landmarks.js';
import { MAX_MOOV, adtsFrames, boxAt, m4aCut, m4aTrack } from './mp4.js';
import { moreFrames, mp3Cut, mp3Frames } from './mp3.js';
import { MAX_HEADERS, PRE_ROLL, nextPage, oggPage, oggStart } from './ogg.js';
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
 * Bytes [from, to) of the file: from `head` (its first bytes, already
 * fetched) when they are there, else by a range request.
 * @param {string} url
 * @param {AbortSignal} signal
 * @param {Uint8Array} head
 */
function byteRange(url, signal, head) {
  return async (/** @type {number} */ from, /** @type {number} */ to) =>
    to <= head.length ? head.subarray(from, to) : new Uint8Array(await (await fetched(url, `bytes=${from}-${to - 1}`, signal)).arrayBuffer());
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
  const range = byteRange(url, signal, head);
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
        const channels = wavSamples(await range(from, to), layout);
        const buffer = context.createBuffer(layout.channels, channels[0].length, layout.sampleRate);
        channels.forEach((samples, channel) => buffer.copyToChannel(samples, channel));
        return buffer;
      }),
    };
  }
  const ranged = Number.isFinite(total) && first.status === 206;
  const flac = ranged ? flacStart(head) : null;
  if (flac && (flac.format.totalSamples || durationHint)) return flacSource(url, signal, head, total, flac, durationHint);
  const frames = ranged ? mp3Frames(head) : null;
  if (frames) return mp3Source(url, signal, head, total, frames, durationHint);
  const ogg = ranged ? await oggHead(url, signal, head, total) : null;
  const opened = ogg ? await oggSource(url, signal, ogg.head, total, ogg.start, durationHint) : null;
  if (opened) return opened;
  const m4a = ranged ? await m4aHead(url, signal, head, total) : null;
  if (m4a) return m4aSource(url, signal, m4a);
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
      // The encoder's padding after the last sample is not the track's: the
      // server's measured length ends it.
      const end = durationHint ? Math.round(durationHint * sampleRate) + frames.skip : Infinity;
      return cutOut(decoded, cut.start - cut.firstSample, Math.min(cut.stop, end) - cut.start);
    }),
  };
}

/**
 * `length` samples of `decoded` from `from` (fewer if it ends first).
 * @param {AudioBuffer} decoded
 * @param {number} from
 * @param {number} length
 */
function cutOut(decoded, from, length) {
  const kept = Math.max(1, Math.min(length, decoded.length - from));
  const piece = new AudioBuffer({ numberOfChannels: decoded.numberOfChannels, length: kept, sampleRate: decoded.sampleRate });
  for (let channel = 0; channel < decoded.numberOfChannels; channel += 1) {
    piece.copyToChannel(decoded.getChannelData(channel).subarray(from, from + kept), channel);
  }
  return piece;
}

/**
 * FLAC in pieces, each fetched by ranges on its own: nothing but the
 * decoded pieces and a few frame positions is kept. A piece's first frame
 * is found by interpolating between frames already located (the bitrate of
 * FLAC varies little) and reading the sample number of the frame found
 * there, a step or two per seek; from it, frames are read in order to the
 * piece's end and decoded alone behind the stream's header.
 * @param {string} url
 * @param {AbortSignal} signal
 * @param {Uint8Array} head
 * @param {number} total
 * @param {import('./flac.js').FlacStart} start
 * @param {number | undefined} durationHint
 * @returns {Promise<Source>}
 */
async function flacSource(url, signal, head, total, start, durationHint) {
  const { format, streamInfo } = start;
  const rate = format.sampleRate;
  const range = byteRange(url, signal, head);
  // The metadata blocks (tags, cover art, padding) are stepped over by
  // their headers alone: a cover of megabytes is not fetched.
  let audioStart = start.next;
  for (let blocks = 0, last = start.last; !last; blocks += 1) {
    const block = audioStart + 4 <= total && blocks < 256 ? metadataBlock(await range(audioStart, audioStart + 4), 0) : null;
    if (!block) throw new Error('The FLAC file’s header does not end.');
    last = block.last;
    audioStart += 4 + block.length;
  }
  const totalSamples = format.totalSamples || Math.round((durationHint ?? 0) * rate);
  const bytesPerSample = (total - audioStart) / Math.max(1, totalSamples);
  // The longest frame: as the header says, or as long as a verbatim one.
  const longest = Math.min(1 << 20, format.maxFrame || Math.ceil((format.maxBlock * format.channels * (format.bitsPerSample + 1)) / 8) + 64);
  // A seek reads three of them around its guess, so that a whole frame is
  // in what it reads; a piece's read goes two past its estimated end, and
  // what is still missing then is fetched as it is found missing.
  const window = Math.max(8 * 1024, 3 * longest);
  const margin = Math.max(4 * 1024, 2 * longest);
  /** Frames located so far, by first sample: where reads can start. */
  const frames = new Landmarks({ sample: 0, offset: audioStart });
  const learn = frames.learn.bind(frames);
  /** The located frame to read from for `target`: at or before it, near. @param {number} target */
  const locate = async (target) => {
    for (let step = 0; ; step += 1) {
      const { lo, hi } = frames.around(target, { sample: totalSamples, offset: total });
      if (step >= 12 || hi.sample <= lo.sample) return lo;
      const share = (target - lo.sample) / (hi.sample - lo.sample);
      if (share * (hi.offset - lo.offset) < 2 * window) return lo;
      const from = Math.max(lo.offset + 1, Math.floor(lo.offset + share * (hi.offset - lo.offset) - window / 2));
      const to = Math.min(total, from + window);
      const found = firstFrame(await range(from, to), 0, format, to === total);
      if (!found || found.firstSample <= lo.sample || found.firstSample >= hi.sample) return lo;
      learn(found.firstSample, from + found.at);
    }
  };
  /** Whole frames from `lo` on until one reaches `stop`. @param {{ sample: number, offset: number }} lo @param {number} stop */
  const framesFrom = async (lo, stop) => {
    let bytes = await range(lo.offset, Math.min(total, lo.offset + Math.ceil((stop - lo.sample) * bytesPerSample * 1.05) + margin));
    let at = 0;
    let firstSample = -1;
    for (;;) {
      const final = lo.offset + bytes.length >= total;
      if (at >= bytes.length && final) break;
      const header = frameHeader(bytes, at, format);
      const end = header ? frameEnd(bytes, at, format, final) : null;
      if (end === undefined) {
        const more = await range(lo.offset + bytes.length, Math.min(total, lo.offset + bytes.length + margin));
        bytes = concat([bytes, more]);
        continue;
      }
      if (!header || end === null) {
        if (firstSample < 0) throw new Error('The FLAC file has a broken frame.');
        break;
      }
      if (firstSample < 0) firstSample = header.firstSample;
      at = end;
      if (header.firstSample + header.blockSize >= stop) {
        // The next frame (its header is checked): where the next piece's read begins.
        const next = frameHeader(bytes, at, format);
        if (next) learn(next.firstSample, lo.offset + at);
        break;
      }
    }
    return { firstSample, bytes: bytes.subarray(0, at) };
  };
  // A decoder at the file's own rate: no resampling, so pieces join to the
  // sample; the page's context resamples them as it plays them.
  const decoder = new OfflineAudioContext(format.channels, 1, rate);
  const framesPerPiece = Math.round(PIECE_SECONDS * rate);
  return {
    duration: totalSamples / rate,
    pieceSeconds: framesPerPiece / rate,
    pieces: Math.ceil(totalSamples / framesPerPiece),
    piece: cached(async (index) => {
      const from = index * framesPerPiece;
      const stop = Math.min(from + framesPerPiece, totalSamples);
      const run = await framesFrom(await locate(from), stop);
      const decoded = await decoder.decodeAudioData(flacFile(streamInfo, run.bytes).buffer);
      return cutOut(decoded, Math.max(0, from - run.firstSample), stop - from);
    }),
  };
}

/**
 * The start of an Ogg Vorbis or Opus file with all its header packets,
 * fetched further when tags (cover art) run past the first read; null when
 * it is neither.
 * @param {string} url
 * @param {AbortSignal} signal
 * @param {Uint8Array} head
 * @param {number} total
 */
async function oggHead(url, signal, head, total) {
  let start = oggStart(head);
  while (start === undefined && head.length < Math.min(total, MAX_HEADERS)) {
    const to = Math.min(total, MAX_HEADERS, head.length * 4);
    const more = new Uint8Array(await (await fetched(url, `bytes=${head.length}-${to - 1}`, signal)).arrayBuffer());
    head = concat([head, more]);
    start = oggStart(head);
  }
  return start ? { head, start } : null;
}

/**
 * Ogg Vorbis or Opus in pieces, each fetched by ranges on its own, as FLAC
 * is: a piece's first page is found by interpolating between pages already
 * located, and pages from a little before it (`PRE_ROLL`) to its end are
 * decoded behind the stream's headers. Where the decoded sound falls is
 * read from its end, the last page's granule position; what comes before
 * the piece is thrown away. Null when the file's length cannot be known
 * (the browser then decodes it whole).
 * @param {string} url
 * @param {AbortSignal} signal
 * @param {Uint8Array} head
 * @param {number} total
 * @param {import('./ogg.js').OggStart} start
 * @param {number | undefined} durationHint
 * @returns {Promise<Source | null>}
 */
async function oggSource(url, signal, head, total, start, durationHint) {
  const { codec, serial, channels, rate, preSkip, headers, audioStart } = start;
  const range = byteRange(url, signal, head);
  // The stream's length: the granule of its last page, read from the end
  // (a page is at most 64 KiB; most are a few).
  let lastGranule = -1;
  // A seek reads three of the longest pages seen around its guess, so that
  // a whole page is in what it reads (pages of a stream are much alike).
  let longest = 1024;
  for (let tail = 4 * 1024; lastGranule < 0; tail *= 4) {
    const from = Math.max(audioStart, total - tail);
    const bytes = await range(from, total);
    for (let page = nextPage(bytes, 0, serial); page; page = nextPage(bytes, page.at + page.length, serial)) {
      lastGranule = page.granule;
      longest = Math.max(longest, page.length);
    }
    if (from === audioStart) break;
  }
  const totalSamples = lastGranule >= 0 ? lastGranule - preSkip : Math.round((durationHint ?? 0) * rate);
  if (totalSamples <= 0) return null;
  /** Pages located so far, by granule position: where reads can start. */
  const pages = new Landmarks({ sample: 0, offset: audioStart });
  const learn = pages.learn.bind(pages);
  /** The located page to read from for `target`: its granule at or before it, near. @param {number} target */
  const locate = async (target) => {
    for (let step = 0; ; step += 1) {
      const window = Math.max(8 * 1024, 3 * longest);
      const { lo, hi } = pages.around(target, { sample: lastGranule >= 0 ? lastGranule : totalSamples, offset: total });
      if (step >= 12 || hi.sample <= lo.sample) return lo;
      const share = (target - lo.sample) / (hi.sample - lo.sample);
      if (share * (hi.offset - lo.offset) < window) return lo;
      // Where the stream's rate puts the target; failing that (the page
      // found there is the upper bound again), just below the upper bound.
      const guess = Math.floor(lo.offset + share * (hi.offset - lo.offset) - window / 2);
      let found = null;
      for (const from of new Set([Math.max(lo.offset + 1, guess), Math.max(lo.offset + 1, hi.offset - window)])) {
        const bytes = await range(from, Math.min(total, from + window));
        const page = nextPage(bytes, 0, serial);
        if (!page && window < 256 * 1024) {
          // No whole page in the window: this stream's pages are longer
          // than any seen yet (a 1 s Opus page at 96 kbit/s is 12 KB).
          longest = Math.min(longest * 4, 96 * 1024);
          found = lo;
          break;
        }
        if (page && page.granule > lo.sample && page.granule < hi.sample) {
          found = { sample: page.granule, offset: from + page.at };
          break;
        }
      }
      if (!found) return lo;
      if (found === lo) continue;
      learn(found.sample, found.offset);
    }
  };
  /**
   * The pages from the one at `offset` (or the first after it that begins
   * a packet) until one whose granule reaches `stop`.
   * @param {number} offset
   * @param {number} granule the granule position near `offset`
   * @param {number} stop
   */
  const pagesFrom = async (offset, granule, stop) => {
    // As many bytes as the stream's average rate says the pages take, a
    // little more; what is still missing is fetched as it is found missing.
    const guess = Math.ceil(((stop - granule) * (total - audioStart)) / Math.max(1, totalSamples + preSkip) * 1.1) + 2 * longest;
    let bytes = await range(offset, Math.min(total, offset + guess));
    /** @type {Uint8Array[]} */
    const pages = [];
    let at = 0;
    let end = -1;
    let first = -1;
    while (end < stop) {
      const page = oggPage(bytes, at);
      if (page === undefined && offset + bytes.length < total) {
        const more = await range(offset + bytes.length, Math.min(total, offset + bytes.length + Math.max(2 * longest, bytes.length / 2)));
        bytes = concat([bytes, more]);
        continue;
      }
      if (!page) {
        // A damaged page: on from the next good one.
        const next = nextPage(bytes, at + 1, serial);
        if (!next) break;
        at = next.at;
        continue;
      }
      at += page.length;
      if (page.serial !== serial) {
        if (page.first) break; // a chained stream begins: this one is over
        continue;
      }
      if (!pages.length && page.continued) continue;
      if (!pages.length) first = offset + page.at;
      pages.push(bytes.subarray(page.at, page.at + page.length));
      longest = Math.max(longest, page.length);
      if (page.granule >= 0) {
        end = page.granule;
        learn(page.granule, offset + page.at);
      }
      if (page.last) break;
    }
    return { pages, end, first };
  };
  const decoder = new OfflineAudioContext(channels, 1, rate);
  const framesPerPiece = Math.round(PIECE_SECONDS * rate);
  return {
    duration: totalSamples / rate,
    pieceSeconds: framesPerPiece / rate,
    pieces: Math.ceil(totalSamples / framesPerPiece),
    piece: cached(async (index) => {
      const from = index * framesPerPiece;
      const stop = Math.min(from + framesPerPiece, totalSamples);
      // Read from far enough back for the decoder to have settled by `from`;
      // if what was read still starts too late, read from further back.
      for (let back = 2 * PRE_ROLL[codec]; ; back *= 4) {
        const page = await locate(from + preSkip - back);
        const run = await pagesFrom(page.offset, page.sample, stop + preSkip);
        if (run.end < 0) throw new Error('The Ogg file has no sound there.');
        const decoded = await decoder.decodeAudioData(concat([headers, ...run.pages]).buffer);
        // The decoded sound ends at the last page's granule position.
        const startsAt = run.end - preSkip - decoded.length;
        const settled = run.first === audioStart ? startsAt <= from : startsAt + PRE_ROLL[codec] <= from;
        if (settled || page.offset === audioStart) {
          return cutOut(decoded, Math.max(0, from - startsAt), stop - from);
        }
      }
    }),
  };
}

/**
 * The sound track of an M4A file, its frame table read from the `moov` box
 * wherever it is: top-level boxes are stepped over by their headers (the
 * audio itself, often first, is not fetched). Null when the file is not
 * an MP4 or its track is not one this reader cuts.
 * @param {string} url
 * @param {AbortSignal} signal
 * @param {Uint8Array} head
 * @param {number} total
 */
async function m4aHead(url, signal, head, total) {
  const range = byteRange(url, signal, head);
  for (let at = 0, boxes = 0; at + 8 <= total && boxes < 64; boxes += 1) {
    const box = boxAt(await range(at, Math.min(total, at + 16)), 0, total - at);
    if (!box || (boxes === 0 && box.type !== 'ftyp')) return null;
    if (box.type === 'moov') return box.size <= MAX_MOOV && at + box.size <= total ? m4aTrack(await range(at, at + box.size), total) : null;
    at += box.size;
  }
  return null;
}

/**
 * M4A in pieces: a piece is its frames (and `PRE_ROLL_FRAMES` before
 * them), fetched by one range, each given an ADTS header and decoded
 * together; the decoded sound begins where its first frame does.
 * @param {string} url
 * @param {AbortSignal} signal
 * @param {import('./mp4.js').M4aTrack} track
 * @returns {Source}
 */
function m4aSource(url, signal, track) {
  const rate = track.timescale;
  const decoder = new OfflineAudioContext(track.channels, 1, rate);
  const framesPerPiece = Math.round(PIECE_SECONDS * rate);
  return {
    duration: track.duration / rate,
    pieceSeconds: framesPerPiece / rate,
    pieces: Math.ceil(track.duration / framesPerPiece),
    piece: cached(async (index) => {
      const from = index * framesPerPiece;
      const stop = Math.min(from + framesPerPiece, track.duration);
      const cut = m4aCut(track, from, stop);
      // One range from the first frame's byte to the last one's end (an
      // audio-only file keeps them together).
      let low = Infinity;
      let high = 0;
      for (let k = cut.first; k < cut.end; k += 1) {
        low = Math.min(low, track.offsets[k]);
        high = Math.max(high, track.offsets[k] + track.sizes[k]);
      }
      const bytes = new Uint8Array(await (await fetched(url, `bytes=${low}-${high - 1}`, signal)).arrayBuffer());
      if (bytes.length < high - low) throw new Error('The M4A file is shorter than its table says.');
      const decoded = await decoder.decodeAudioData(adtsFrames(track, cut.first, cut.end, bytes, low).buffer);
      return cutOut(decoded, cut.skip, stop - from);
    }),
  };
}
