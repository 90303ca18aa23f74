// The unmodified Spotik front end (built by vite, served on :3000; see ./run) against
// spotik-api (:8000) and spotik-edge (:8080), driven in headless Chromium.
import { chromium } from 'playwright-core';
import fs from 'node:fs';

const FRONT = process.env.FRONT || 'http://localhost:3000';
const API = process.env.API || 'http://localhost:8000/api';
const WAV = process.env.WAV;
const MODE = process.env.MODE || 'native';
// A 1×1 PNG, the room's cover.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');
const results = [];
const ok = (what, pass, detail = '') => { results.push({ what, pass, detail }); console.log(`${pass ? 'PASS' : 'FAIL'} ${what} ${detail}`); };

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required'],
});

async function page(name) {
  const context = await browser.newContext();
  await context.addInitScript(() => {
    window.__audios = [];
    const play = HTMLMediaElement.prototype.play;
    HTMLMediaElement.prototype.play = function (...args) { if (!window.__audios.includes(this)) window.__audios.push(this); return play.apply(this, args); };
  });
  const p = await context.newPage();
  p.on('console', (m) => { if (m.type() === 'error') console.log(`  [${name} console] ${m.text()}`); });
  p.on('websocket', (ws) => console.log(`  [${name} socket] ${ws.url().replace(/token=[^&]+/, 'token=…')}`));
  p.on('pageerror', (e) => console.log(`  [${name} pageerror] ${e.message}`));
  return p;
}

async function register(p, username) {
  await p.goto(`${FRONT}/register`);
  await p.fill('#username', username);
  await p.fill('#email', `${username}@example.com`);
  await p.fill('#password', 'Password123!');
  await p.fill('#password_confirmation', 'Password123!');
  await p.click('button[type=submit]');
  await p.waitForURL('**/dashboard', { timeout: 10000 });
}

const audible = (p) => p.evaluate(() => (window.__audios || []).map((a) => ({ paused: a.paused, t: a.currentTime, src: a.currentSrc, err: a.error && a.error.code })));

try {
  const admin = await page('admin');
  await register(admin, `admin${Date.now() % 100000}`);
  ok('register through CORS, dashboard shown', true);

  await admin.click('text=Create Room');
  await admin.fill('#roomName', 'Browser room');
  await admin.fill('#roomDescription', 'Made by Chromium');
  await admin.click('form button[type=submit]');
  await admin.waitForURL('**/room/**', { timeout: 10000 });
  const roomId = admin.url().split('/room/')[1];
  ok('create room and enter it', !!roomId, roomId);
  await admin.waitForSelector('text=Made by Chromium', { timeout: 5000 }).then(() => ok('room description shown', true), () => ok('room description shown', false));

  // Genres fill the upload dropdown.
  const options = await admin.$$eval('select option', (os) => os.map((o) => o.textContent.trim()));
  ok('genre dropdown filled from /genres', options.includes('Jazz'), `${options.length} options`);
  await admin.selectOption('select', { label: 'Jazz' });
  const input = await admin.$('input[type=file][multiple]');
  await input.setInputFiles({ name: 'Long chord.wav', mimeType: 'audio/wav', buffer: fs.readFileSync(WAV) });
  await admin.waitForSelector('text=Long chord.wav', { timeout: 15000 });
  await admin.waitForTimeout(4000);
  const adminAudio = await audible(admin);
  ok('admin hears the auto-started track', adminAudio.some((a) => !a.paused && a.t > 0.5), JSON.stringify(adminAudio));
  const queueText = await admin.textContent('body');
  ok('queue shows the genre badge', /Jazz/.test(queueText));
  ok('duration printed as m:ss', /\b0:20\b|\b0:19\b/.test(queueText) && !/\d+\.\d{5,}/.test(queueText));

  // A late joiner: another user opens the room while the track plays.
  const guest = await page('guest');
  await register(guest, `guest${Date.now() % 100000}`);
  await guest.goto(`${FRONT}/room/${roomId}`);
  await guest.waitForSelector('text=Long chord.wav', { timeout: 10000 });
  await guest.waitForTimeout(4000);
  const guestAudio = await audible(guest);
  const playing = guestAudio.find((a) => !a.paused);
  ok('late joiner hears the room at once', !!playing && playing.t > 3, JSON.stringify(guestAudio));
  const adminNow = (await audible(admin)).find((a) => !a.paused);
  if (playing && adminNow) ok('late joiner within 1 s of the admin', Math.abs(playing.t - adminNow.t) < 1.0, `${playing.t.toFixed(2)} vs ${adminNow.t.toFixed(2)}`);

  // Reload: the same.
  await guest.reload();
  await guest.waitForSelector('text=Long chord.wav', { timeout: 10000 });
  await guest.waitForTimeout(4000);
  const reloaded = (await audible(guest)).find((a) => !a.paused);
  ok('after a reload it plays again', !!reloaded && reloaded.t > 3, JSON.stringify(await audible(guest)));

  // The admin badge: ParticipantList compares administrator_id with user_id.
  const guestBody = await guest.textContent('body');
  ok('participants listed (2)', /2 participants/.test(guestBody));
  ok(`no subscription refused (${MODE} mode)`, !/Authentication failed/i.test(guestBody));


  // Admin stops: the guest's player lets go.
  const token = await admin.evaluate(() => localStorage.getItem('auth_token'));
  const stop = await fetch(`${API}/rooms/${roomId}/playback/stop`, { method: 'POST', headers: { Authorization: `Bearer ${token}` } });
  ok('stop via API', stop.status === 200, String(stop.status));
  await guest.waitForTimeout(1500);
  const afterStop = await audible(guest);
  ok('guest player stops when the admin stops', afterStop.length > 0 && afterStop.every((a) => a.paused), JSON.stringify(afterStop));

  // Track search (TrackSearch.vue on the playlist page) through the API as the page calls it.
  const search = await guest.evaluate(async (api) => {
    const r = await fetch(`${api}/tracks?search=chord`, { headers: { Authorization: `Bearer ${localStorage.getItem('auth_token')}` } });
    return { status: r.status, body: await r.json() };
  }, API);
  ok('track search from the page (CORS)', search.status === 200 && search.body.data.length === 1, JSON.stringify(search.body.data.map((t) => t.original_name)));

  // A cover, set through the API, is drawn from its absolute URL on the
  // front end's own origin.
  const adminToken = await admin.evaluate(() => localStorage.getItem('auth_token'));
  const form = new FormData();
  form.append('cover_image', new Blob([PNG], { type: 'image/png' }), 'cover.png');
  const cover = await fetch(`${API}/rooms/${roomId}/cover`, { method: 'POST', headers: { Authorization: `Bearer ${adminToken}` }, body: form });
  const coverUrl = (await cover.json()).cover_url;
  ok('cover_url is absolute', cover.status === 200 && /^https?:\/\//.test(coverUrl || ''), coverUrl);
  await guest.reload();
  await guest.waitForSelector('text=Long chord.wav', { timeout: 10000 });
  await guest.waitForFunction(() => [...document.images].some((i) => i.src.includes('/api/covers/') && i.complete), null, { timeout: 5000 }).catch(() => {});
  const drawn = await guest.evaluate(() => [...document.images].filter((i) => i.src.includes('/api/covers/')).map((i) => i.naturalWidth));
  ok('the cover is drawn on the room page', drawn.length > 0 && drawn.every((w) => w > 0), JSON.stringify(drawn));

  // Dashboard: rooms with description and track count, metrics panel.
  await guest.goto(`${FRONT}/dashboard`);
  await guest.waitForSelector('text=Browser room', { timeout: 10000 });
  const dash = await guest.textContent('body');
  ok('dashboard lists the room with its description and 1 track', /Made by Chromium/.test(dash) && /1 track(?!s)/.test(dash));
  ok('dashboard metrics filled', /Avg response time/.test(dash) && !/Avg response time\s*—/.test(dash));
} catch (e) {
  ok('scenario', false, e.stack);
} finally {
  await browser.close();
  const failed = results.filter((r) => !r.pass);
  console.log(`\n${results.length - failed.length}/${results.length} checks passed`);
  process.exit(failed.length ? 1 : 0);
}
