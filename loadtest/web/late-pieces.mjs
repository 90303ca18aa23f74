// What a late joiner's page pays to hear a long track at its room's place:
// pieces fetched by range (web/src/sync/source.js) against the whole file
// fetched and decoded at once (what the app did before, and what any
// player that decodes whole does). Run by hand on a file of your own
// (FLAC, Ogg Vorbis, Opus, M4A, MP3 or WAV):
//
//   FILE=/path/to/long.flac [AT=480] node loadtest/web/late-pieces.mjs
//
// Prints one JSON line: bytes fetched, milliseconds to the first piece,
// and the decoded samples held, for each way. Figures: loadtest/RESULTS.md.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { rangeServer } from '../../web/tests/range-server.mjs';

// The web app's pinned Playwright (npm ci --prefix web).
const { chromium } = createRequire(new URL('../../web/package.json', import.meta.url))('playwright-core');

const file = readFileSync(process.env.FILE ?? '');
const at = Number(process.env.AT ?? 480);
const path = `/track${/\.\w+$/.exec(process.env.FILE ?? '')?.[0] ?? ''}`;
const { base, ranged, whole: wholes, close } = await rangeServer({ [path]: file });
/** Bytes served for the track so far, by range and whole. */
const served = () => (ranged[path] ?? 0) + (wholes[path] ?? 0);
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
const page = await browser.newPage();
await page.goto(base);
const pieces = await page.evaluate(
  async ({ at, path }) => {
    const { openSource } = await import('/source.js');
    const began = performance.now();
    const opened = await openSource(new AudioContext(), path, new AbortController().signal);
    const piece = await opened.piece(Math.floor(at / opened.pieceSeconds));
    return { ms: performance.now() - began, samples: piece.length * piece.numberOfChannels, duration: opened.duration, pieces: opened.pieces };
  },
  { at, path },
);
const piecesBytes = served();
const whole = await page.evaluate(async (path) => {
  const began = performance.now();
  const buffer = await new AudioContext().decodeAudioData(await (await fetch(path)).arrayBuffer());
  return { ms: performance.now() - began, samples: buffer.length * buffer.numberOfChannels };
}, path);
console.log(
  JSON.stringify({
    fileBytes: file.length,
    durationS: pieces.duration,
    at,
    // One piece means the file was decoded whole (a format not cut).
    pieces: { count: pieces.pieces, bytes: piecesBytes, firstPieceMs: Math.round(pieces.ms), heldSamples: pieces.samples * 3 },
    whole: { bytes: served() - piecesBytes, decodedMs: Math.round(whole.ms), heldSamples: whole.samples },
  }),
);
await browser.close();
close();
