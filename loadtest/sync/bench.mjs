// How closely Spotik's web app pages play together: N headless Chromium
// pages in one room through a minute and more of a track change, pause,
// resume, skip and a late joiner. Run by loadtest/sync/run (which says the
// settings); prints one JSON line of figures.
//
// By the clock model: every 250 ms, at a shared instant of the server's
// clock half a second ahead, each page says which track position its
// output is at (`spotikSync.positionAt`); p50/p95/max of the distance
// between pages and from the room.
// At the sound card (ACOUSTIC=1): page A plays on the left channel only,
// page B on the right, into a PulseAudio null sink whose monitor is
// recorded; acoustic.mjs finds the offset between the channels each second.
// Over bad links (LINKS="5±1,40±15/80±30~1%"): page i's whole traffic
// crosses a delaying proxy (link.mjs) with the i-th character.
// Side by side (VUE=http://localhost:3000): the same room, script and
// recording with the Vue front end's pages, unmodified. Its <audio>
// element has no clock model to ask: its position is the element's
// `currentTime` (which leaves out the output's latency, in its favour); at
// the sound card each page runs in a browser of its own whose PulseAudio
// sink is one channel of `spk` (PULSE_SINK=spk_left / spk_right, made by
// ./run), which sounds the same for both apps.

import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { offsets, stops } from './acoustic.mjs';
import { parseLink, startLink } from './link.mjs';
import { wav } from '../../web/tests/wav.mjs';

const require = createRequire(new URL('../../web/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const BASE = process.env.BASE ?? 'http://127.0.0.1:8000';
const PAGES = Number(process.env.PAGES ?? 2);
const ACOUSTIC = process.env.ACOUSTIC === '1';
const LINKS = (process.env.LINKS ?? '').split(',').filter(Boolean).map(parseLink);
const TRACK_SECONDS = Number(process.env.TRACK_SECONDS ?? 45);
const VUE = process.env.VUE;
const RECORDING = '/tmp/spotik-sync-recording.raw';
const RATE = 48_000;
const stamp = Date.now().toString(36);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function api(method, path, token, body) {
  const response = await fetch(`${BASE}/api${path}`, {
    method,
    headers: { Accept: 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(body && !(body instanceof FormData) ? { 'Content-Type': 'application/json' } : {}) },
    body: body instanceof FormData ? body : body ? JSON.stringify(body) : undefined,
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(answer)}`);
  return answer;
}

async function user(name) {
  const username = `${name}${stamp}`;
  const { data } = await api('POST', '/auth/register', null, {
    username,
    email: `${username}@example.com`,
    password: 'password123',
    password_confirmation: 'password123',
  });
  return data;
}

/** Mono 16-bit noise (seeded): every lag of it looks different, so the channels' offset is unambiguous. */
function noiseWav(seconds, seed) {
  const rate = 44_100;
  const frames = Math.round(seconds * rate);
  const { bytes, dataStart, view } = wav({ channels: 1, rate, frames });
  // xorshift32: a multiplying generator in doubles loses its low bits and
  // repeats within a second, which makes every lag of it look alike.
  let s = seed >>> 0 || 1;
  for (let i = 0; i < frames; i += 1) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    const fade = Math.min(1, i / 2205, (frames - i) / 2205);
    view.setInt16(dataStart + i * 2, Math.round(((s / 2 ** 32) * 2 - 1) * 9000 * fade), true);
  }
  return bytes;
}

/** MP3=1: the web app's 30 s VBR noise fixture instead (played in MP3 pieces). */
const MP3 = process.env.MP3 === '1' ? readFileSync(new URL('../../web/tests/fixtures/noise-30s-vbr.mp3', import.meta.url)) : null;

async function upload(room, token, name, seed) {
  const form = new FormData();
  if (MP3) form.append('audio_file', new Blob([MP3], { type: 'audio/mpeg' }), `${name}.mp3`);
  else form.append('audio_file', new Blob([noiseWav(TRACK_SECONDS, seed)], { type: 'audio/wav' }), `${name}.wav`);
  return (await api('POST', `/rooms/${room}/tracks`, token, form)).data ?? (await api('GET', `/rooms/${room}/tracks`, token)).tracks.at(-1);
}

const percentile = (values, p) => {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return +sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))].toFixed(2);
};
const summary = (values) => ({ n: values.length, p50: percentile(values, 50), p95: percentile(values, 95), max: percentile(values, 100) });

// ---- the room

const admin = await user('host');
const listeners = [];
for (let i = 0; i < PAGES; i += 1) listeners.push(await user(`ear${i}`));
const late = await user('late');
const { data: room } = await api('POST', '/rooms', admin.token, { name: `Sync bench ${stamp}` });
for (const person of [...listeners, late]) await api('POST', `/rooms/${room.id}/join`, person.token);
const first = await upload(room.id, admin.token, 'First noise', 7);
await upload(room.id, admin.token, 'Second noise', 11);
// The first upload started the idle room; it is started again from its
// beginning once the pages are open (below), so that the script's times
// are the track's whatever opening took (seconds over a slow link).

// ---- the pages

let recorder = null;
/** When the recording began (ms, this machine's clock): its seconds against the script's. */
let recordingFrom = 0;
if (ACOUSTIC) {
  recordingFrom = Date.now();
  rmSync(RECORDING, { force: true });
  recorder = spawn('parec', ['-d', 'spk.monitor', '--format=s16le', `--rate=${RATE}`, '--channels=2', '--latency-msec=10', RECORDING]);
}
/** One browser per PulseAudio sink (the default one: a single browser). */
const browsers = new Map();
function browserFor(sink) {
  if (!browsers.has(sink)) {
    browsers.set(
      sink,
      chromium.launch({
        executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
        args: ['--no-sandbox', '--disable-gpu', '--autoplay-policy=no-user-gesture-required', '--no-first-run'],
        ignoreDefaultArgs: ACOUSTIC ? ['--mute-audio'] : [],
        env: sink ? { ...process.env, PULSE_SINK: sink } : process.env,
      }),
    );
  }
  return browsers.get(sink);
}
const proxies = [];
const channels = ['left', 'right'];

async function openPage(person, index) {
  const link = LINKS[index % Math.max(1, LINKS.length)];
  let proxy;
  if (link) {
    const started = await startLink(link);
    proxies.push(started);
    proxy = { server: `http://127.0.0.1:${started.port}`, bypass: '<-loopback>' };
  }
  const sink = VUE && ACOUSTIC ? `spk_${channels[index] ?? 'left'}` : null;
  const context = await (await browserFor(sink)).newContext({ proxy });
  if (VUE) {
    // Its token where its auth store reads it, and its media elements kept
    // where the run can read them.
    await context.addInitScript((token) => {
      localStorage.setItem('auth_token', token);
      window.__audios = [];
      const play = HTMLMediaElement.prototype.play;
      HTMLMediaElement.prototype.play = function (...args) {
        if (!window.__audios.includes(this)) window.__audios.push(this);
        return play.apply(this, args);
      };
    }, person.token);
  } else {
    const session = { token: person.token, user: person.user, expiresAt: Date.now() + person.expires_in * 1000 };
    await context.addInitScript((value) => localStorage.setItem('spotik.session', value), JSON.stringify(session));
  }
  const page = await context.newPage();
  if (process.env.DEBUG) {
    page.on('requestfailed', (r) => console.error('request failed:', r.url(), r.failure()?.errorText));
    page.on('console', (m) => m.type() === 'error' && console.error('page:', m.text()));
  }
  const channel = ACOUSTIC && !VUE ? `?channel=${channels[index] ?? 'left'}` : '';
  const url = VUE ? `${VUE}/room/${room.id}` : `${BASE}/rooms/${room.id}${channel}`;
  const loaded = () =>
    VUE
      ? page.waitForFunction(() => document.querySelector('h1, h2'), null, { timeout: 20_000 })
      : page.locator('#now-track').waitFor({ timeout: 20_000 });
  // Through the proxy a page load now and then stalls on a request the
  // proxy lost (it reads one request head per connection): load it again.
  for (let attempt = 0; ; attempt += 1) {
    await page.goto(url, { timeout: 30_000 }).catch(() => {});
    const shown = await loaded().then(() => true, () => false);
    if (shown) break;
    if (attempt === 2) throw new Error(`the room page did not load for ${person.user.username}`);
  }
  const ready = Date.now();
  return { page, ready };
}

const opened = [];
for (let i = 0; i < PAGES; i += 1) opened.push(await openPage(listeners[i], i));
const pages = opened.map((o) => o.page);
await api('POST', `/rooms/${room.id}/tracks/${first.id}/play`, admin.token);

// ---- the run: samples every 250 ms while the script plays the room

// Spotik's app asks for its pauses ahead (docs/sync.md), as its
// administrator's page does; LEAD_MS=0 measures a pause on arrival.
const LEAD_MS = Number(process.env.LEAD_MS ?? 250);
const ahead = !VUE && LEAD_MS > 0 ? `?lead_ms=${LEAD_MS}` : '';
const apart = [];
const fromRoom = [];
const trueApart = [];
const trueFromRoom = [];
const clockError = [];
let lateJoin = null;
const begun = Date.now();
const script = [
  [12_000, 'pause', () => api('POST', `/rooms/${room.id}/playback/pause${ahead}`, admin.token)],
  [15_000, 'resume', () => api('POST', `/rooms/${room.id}/playback/resume`, admin.token)],
  [27_000, 'skip', () => api('POST', `/rooms/${room.id}/playback/skip`, admin.token)],
  [38_000, 'late joiner', async () => {
    // At the sound card the late joiner takes page B's channel.
    if (ACOUSTIC && pages.length > 1) await pages.pop().context().close();
    const { page, ready } = await openPage(late, ACOUSTIC ? 1 : PAGES);
    const audible = VUE
      ? () => window.__audios?.some((a) => !a.paused && a.currentTime > 0)
      : () => window.spotikSync?.state().sounding;
    const sounding = await page.waitForFunction(audible, null, { timeout: 10_000, polling: 10 }).then(() => Date.now(), () => null);
    lateJoin = { audibleAfterReadyMs: sounding ? sounding - ready : null, page, at: Date.now() };
    if (process.env.DEBUG) console.error('late joiner start', JSON.stringify(await page.evaluate(() => { const state = window.spotikSync?.state(); return { traces: state?.startTraces, openedAt: state?.openedAt, now: performance.now() }; })));
    pages.push(page);
  }],
  [55_000, 'pause', () => api('POST', `/rooms/${room.id}/playback/pause${ahead}`, admin.token)],
  [57_000, 'resume', () => api('POST', `/rooms/${room.id}/playback/resume`, admin.token)],
];
const lateApart = [];
const running = [];
let mostNodes = 0;

/**
 * The Vue pages: each playing element's position, carried to one instant
 * of the machine's clock (which the API's clock is, here), against the
 * room's position then by the API.
 */
async function sampleElements() {
  const [status, ...heard] = await Promise.all([
    api('GET', `/rooms/${room.id}/playback/status`, admin.token),
    ...pages.map((page) =>
      page.evaluate(() => {
        const playing = (window.__audios ?? []).find((a) => !a.paused && a.currentTime > 0);
        return playing ? { ms: playing.currentTime * 1000, at: Date.now(), src: new URL(playing.currentSrc).pathname } : null;
      }),
    ),
  ]);
  const now = Math.max(...heard.map((h) => h?.at ?? 0));
  const positions = heard.filter(Boolean).map((h) => h.ms + (now - h.at));
  const oneTrack = new Set(heard.map((h) => h?.src)).size === 1;
  if (oneTrack && positions.length === pages.length && positions.length > 1) {
    apart.push(Math.max(...positions) - Math.min(...positions));
    if (lateJoin && Date.now() - lateJoin.at > 3_000) lateApart.push(Math.max(...positions) - Math.min(...positions));
  }
  const playback = status.data;
  if (playback?.is_playing) {
    const where = playback.position_ms + (now - playback.server_time);
    for (const position of positions) fromRoom.push(Math.abs(position - where));
  }
}
while (Date.now() - begun < Number(process.env.SECONDS ?? 70) * 1000) {
  const elapsed = Date.now() - begun;
  while (script.length && script[0][0] <= elapsed) {
    const [, , act] = script.shift();
    running.push(act());
  }
  if (VUE) {
    await sampleElements();
    await sleep(250);
    continue;
  }
  const at = (await pages[0].evaluate(() => window.spotikSync.serverNow())) + 500;
  const heard = await Promise.all(
    pages.map((page) =>
      page.evaluate(
        (at) => {
          const sync = window.spotikSync;
          return [sync?.positionAt(at) ?? null, sync?.roomAt(at) ?? null, sync?.state().track, sync?.positionAtWall(at) ?? null, sync?.wallOffset() ?? null];
        },
        at,
      ),
    ),
  );
  const positions = heard.map(([position]) => position).filter((p) => p !== null);
  // Pages are compared while they play the same track (a skip reaches them a few ms apart).
  const oneTrack = new Set(heard.map(([, , track]) => track)).size === 1;
  if (oneTrack && positions.length === pages.length && positions.length > 1) {
    apart.push(Math.max(...positions) - Math.min(...positions));
    if (lateJoin && Date.now() - lateJoin.at > 3_000) lateApart.push(Math.max(...positions) - Math.min(...positions));
  }
  for (const [position, where] of heard) if (position !== null && where !== null) fromRoom.push(Math.abs(position - where));
  // The truth on one machine: each page's position when the shared system
  // clock reads the instant, and how far its clock model is from that clock.
  const truly = heard.map(([, , , wall]) => wall).filter((p) => p !== null);
  if (oneTrack && truly.length === pages.length && truly.length > 1) trueApart.push(Math.max(...truly) - Math.min(...truly));
  for (const [, where, , wall, offset] of heard) {
    if (wall !== null && where !== null) trueFromRoom.push(Math.abs(wall - where));
    if (offset !== null) clockError.push(Math.abs(offset));
  }
  // Nodes sounding at once on each page: more than three (a piece, the
  // next, one fading) would be sound played twice.
  const live = await Promise.all(pages.map((page) => page.evaluate(() => window.spotikSync?.state().liveNodes ?? 0)));
  mostNodes = Math.max(mostNodes, ...live);
  if (process.env.DEBUG) {
    const states = await Promise.all(pages.map((page) => page.evaluate(() => window.spotikSync?.state())));
    console.error(
      `${(elapsed / 1000).toFixed(1)}s`,
      heard.map(([p, r]) => (p === null ? '-' : (p - r).toFixed(1))).join(' '),
      states.map((st) => st && `err ${st.driftMs.toFixed(1)} lag ${st.outputLagMs?.toFixed(1)} b${st.corrections.bends}/r${st.corrections.restarts} n${st.liveNodes}`).join(' | '),
    );
  }
  await sleep(250);
}
await Promise.all(running);

const states = VUE ? [] : await Promise.all(pages.map((page) => page.evaluate(() => window.spotikSync.state())));
for (const browser of browsers.values()) await (await browser).close();
for (const proxy of proxies) proxy.close();

let sound = null;
if (recorder) {
  recorder.kill('SIGINT');
  await new Promise((resolve) => recorder.on('exit', resolve));
  const raw = readFileSync(RECORDING);
  const windows = offsets(new Int16Array(raw.buffer, raw.byteOffset, Math.floor(raw.length / 2)), RATE);
  // Both channels sound and line up: the offset of every such second
  // (acoustic.mjs: the median of its matching 100 ms slices). Unmatched:
  // both sound, but nothing lines up within 100 ms. Steady: the slices
  // correlate over 0.5.
  const sounding = windows.filter((w) => w.lagMs !== null);
  const steady = sounding.filter((w) => w.correlation > 0.5);
  const unmatched = windows.filter((w) => !w.matched).map((w) => w.second);
  // Where each channel's sound stops for a pause: the left's and the
  // right's stops paired within half a second.
  const ends = stops(new Int16Array(raw.buffer, raw.byteOffset, Math.floor(raw.length / 2)), RATE);
  const pauseApartMs = ends.left
    .map((left) => ends.right.find((right) => Math.abs(right - left) < 0.5) ?? null)
    .map((right, i) => (right === null ? null : +((right - ends.left[i]) * 1000).toFixed(2)))
    .filter((ms) => ms !== null);
  sound = {
    pauseApartMs,
    // The recording's second at which the script's clock starts (its
    // pause at 12 s is the recording's second this + 12).
    scriptFromSecond: +((begun - recordingFrom) / 1000).toFixed(2),
    seconds: windows.length,
    bothSounding: sounding.length + unmatched.length,
    unmatchedSeconds: unmatched,
    offsetMs: summary(sounding.map((w) => Math.abs(w.lagMs))),
    steadySeconds: steady.length,
    steadyOffsetMs: summary(steady.map((w) => Math.abs(w.lagMs))),
    signedMedianMs: percentile(sounding.map((w) => w.lagMs), 50),
    perSecond: windows.map((w) => (w.lagMs === null ? (w.matched ? null : 'unmatched') : +w.lagMs.toFixed(2))),
    correlationPerSecond: windows.map((w) => +w.correlation.toFixed(2)),
  };
}

console.log(
  JSON.stringify({
    app: VUE ? 'vue' : 'spotik',
    pages: PAGES,
    links: process.env.LINKS || 'direct',
    ...(VUE
      ? { byElementCurrentTime: { apartMs: summary(apart), fromRoomMs: summary(fromRoom) } }
      : {
          clockModel: { apartMs: summary(apart), fromRoomMs: summary(fromRoom) },
          bySystemClock: { apartMs: summary(trueApart), fromRoomMs: summary(trueFromRoom), clockModelErrorMs: summary(clockError) },
        }),
    mostNodesAtOnce: VUE ? null : mostNodes,
    lateJoiner: { audibleAfterReadyMs: lateJoin?.audibleAfterReadyMs ?? null, apartAfter3sMs: summary(lateApart) },
    atTheSoundCard: sound,
    pagesAtEnd: states.map((s) => ({ mostNodesAtOnce: s.mostLiveNodes, roundTripMs: +s.roundTripMs.toFixed(2), uncertaintyMs: +s.uncertaintyMs.toFixed(2), outputLatencyMs: Math.round(s.outputLatencyMs), corrections: s.corrections })),
  }),
);
