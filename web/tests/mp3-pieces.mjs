// In Chromium: an MP3 played in pieces (web/src/sync/source.js, fetched by
// ranges from a server that answers them) gives exactly the samples the
// browser's decoder gives for the whole file. Run by ./deploy/test; prints
// PASS or FAIL lines and exits non-zero on a failure.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { chromium } from 'playwright-core';

const here = new URL('.', import.meta.url);
const source = new URL('../src/sync/', import.meta.url);
const mp3 = readFileSync(new URL('fixtures/noise-30s-vbr.mp3', here));
let ranges = 0;
const server = http.createServer((request, response) => {
  if (request.url === '/') return response.writeHead(200, { 'Content-Type': 'text/html' }).end('<!doctype html><title>pieces</title>');
  if (request.url === '/track.mp3') {
    const [, from, to] = /bytes=(\d+)-(\d+)/.exec(request.headers.range ?? '') ?? [];
    if (from === undefined) return response.writeHead(200, { 'Content-Length': mp3.length }).end(mp3);
    ranges += 1;
    const end = Math.min(Number(to), mp3.length - 1);
    return response
      .writeHead(206, { 'Content-Range': `bytes ${from}-${end}/${mp3.length}`, 'Content-Length': end - Number(from) + 1 })
      .end(mp3.subarray(Number(from), end + 1));
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
let failed = false;
const ok = (what, pass, detail = '') => {
  console.log(`${pass ? 'PASS' : 'FAIL'} ${what}${detail ? ` (${detail})` : ''}`);
  if (!pass) failed = true;
};
try {
  const page = await browser.newPage();
  await page.goto(base);
  const result = await page.evaluate(async () => {
    const { openSource } = await import('/source.js');
    const whole = await new OfflineAudioContext(1, 1, 22_050).decodeAudioData(await (await fetch('/track.mp3')).arrayBuffer());
    const opened = await openSource(new OfflineAudioContext(1, 1, 48_000), '/track.mp3', new AbortController().signal, 30);
    let at = 0;
    let worst = 0;
    const lengths = [];
    for (let index = 0; index < opened.pieces; index += 1) {
      const piece = await opened.piece(index);
      lengths.push(piece.length);
      const samples = piece.getChannelData(0);
      const reference = whole.getChannelData(0);
      for (let i = 0; i < samples.length && at + i < reference.length; i += 1) worst = Math.max(worst, Math.abs(samples[i] - reference[at + i]));
      at += samples.length;
    }
    return { worst, at, whole: whole.length, lengths, pieces: opened.pieces, sampleRate: whole.sampleRate };
  });
  ok('every piece is the whole decode’s samples, to the bit', result.worst === 0, `worst difference ${result.worst}`);
  ok('the pieces cover the whole track', result.at === result.whole, `${result.at} samples in ${result.pieces} pieces, ${result.whole} decoded whole`);
  ok('the pieces are 3 s each but the last', result.lengths.slice(0, -1).every((n) => n === 3 * result.sampleRate), JSON.stringify(result.lengths));
  ok('the file was fetched by ranges, in order', ranges >= 2, `${ranges} ranges`);
} catch (error) {
  ok('the run finished', false, String(error));
} finally {
  await browser.close();
  server.close();
}
process.exit(failed ? 1 : 0);
