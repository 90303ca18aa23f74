// The web app's first load, measured in headless Chromium against a running
// spotik-api (BASE): bytes on the wire (compressed) and decoded for the
// page, its scripts and its styles, the request count, and the time to
// interactive (navigation start → the sign-in form ready to type in),
// median of RUNS cold loads (a fresh browser context each, no cache).
// Run by loadtest/web/first-load; prints one JSON line.
import { chromium } from 'playwright-core';

const BASE = process.env.BASE ?? 'http://127.0.0.1:8000';
const RUNS = Number(process.env.RUNS ?? 9);
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
const times = [];
let weight = null;
for (let run = 0; run < RUNS; run += 1) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  const responses = new Map();
  cdp.on('Network.responseReceived', (e) => responses.set(e.requestId, { url: e.response.url, type: e.type }));
  const wire = new Map();
  cdp.on('Network.loadingFinished', (e) => wire.set(e.requestId, e.encodedDataLength));
  const decoded = new Map();
  cdp.on('Network.dataReceived', (e) => decoded.set(e.requestId, (decoded.get(e.requestId) ?? 0) + e.dataLength));
  await page.goto(`${BASE}/login`);
  await page.getByLabel('E-mail').waitFor();
  const interactive = await page.evaluate(() => performance.now());
  times.push(interactive);
  if (!weight) {
    await page.waitForLoadState('networkidle');
    weight = { requests: 0, wire_bytes: 0, decoded_bytes: 0 };
    for (const [id, r] of responses) {
      if (!r.url.startsWith(BASE) || r.url.includes('/api/')) continue;
      weight.requests += 1;
      weight.wire_bytes += wire.get(id) ?? 0;
      weight.decoded_bytes += decoded.get(id) ?? 0;
    }
  }
  await context.close();
}
await browser.close();
times.sort((a, b) => a - b);
console.log(JSON.stringify({ ...weight, interactive_ms_p50: Math.round(times[Math.floor(times.length / 2)]), interactive_ms_max: Math.round(times.at(-1)), runs: RUNS }));
