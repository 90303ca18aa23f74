// What a late joiner's page pays to hear a long FLAC at its room's place:
// pieces fetched by range (web/src/sync/source.js) against the whole file
// fetched and decoded at once (what the app did before, and what any
// player that decodes whole does). Run by hand on a file of your own:
//
//   FILE=/path/to/long.flac [AT=480] node loadtest/web/flac-pieces.mjs
//
// Prints one JSON line: bytes fetched, milliseconds to the first piece,
// and the decoded samples held, for each way. Figures: loadtest/RESULTS.md.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';

// The web app's pinned Playwright (npm ci --prefix web).
const { chromium } = createRequire(new URL('../../web/package.json', import.meta.url))('playwright-core');

const file = readFileSync(process.env.FILE ?? '');
const at = Number(process.env.AT ?? 480);
const source = new URL('../../web/src/sync/', import.meta.url);
let served = 0;
const server = http.createServer((request, response) => {
  if (request.url === '/') return response.writeHead(200, { 'Content-Type': 'text/html' }).end('<!doctype html><title>flac</title>');
  if (request.url === '/track.flac') {
    const [, from, to] = /bytes=(\d+)-(\d+)/.exec(request.headers.range ?? '') ?? [];
    if (from === undefined) {
      served += file.length;
      return response.writeHead(200, { 'Content-Length': file.length }).end(file);
    }
    const end = Math.min(Number(to), file.length - 1);
    served += end - Number(from) + 1;
    return response
      .writeHead(206, { 'Content-Range': `bytes ${from}-${end}/${file.length}`, 'Content-Length': end - Number(from) + 1 })
      .end(file.subarray(Number(from), end + 1));
  }
  try {
    const body = readFileSync(new URL(request.url.slice(1), source));
    response.writeHead(200, { 'Content-Type': 'text/javascript' }).end(body);
  } catch {
    response.writeHead(404).end();
  }
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${server.address().port}`;
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
const page = await browser.newPage();
await page.goto(base);
served = 0;
const pieces = await page.evaluate(async (at) => {
  const { openSource } = await import('/source.js');
  const began = performance.now();
  const opened = await openSource(new AudioContext(), '/track.flac', new AbortController().signal);
  const piece = await opened.piece(Math.floor(at / opened.pieceSeconds));
  return { ms: performance.now() - began, samples: piece.length * piece.numberOfChannels, duration: opened.duration };
}, at);
const piecesBytes = served;
served = 0;
const whole = await page.evaluate(async () => {
  const began = performance.now();
  const buffer = await new AudioContext().decodeAudioData(await (await fetch('/track.flac')).arrayBuffer());
  return { ms: performance.now() - began, samples: buffer.length * buffer.numberOfChannels };
});
console.log(
  JSON.stringify({
    fileBytes: file.length,
    durationS: pieces.duration,
    at,
    pieces: { bytes: piecesBytes, firstPieceMs: Math.round(pieces.ms), heldSamples: pieces.samples * 3 },
    whole: { bytes: served, decodedMs: Math.round(whole.ms), heldSamples: whole.samples },
  }),
);
await browser.close();
server.close();
