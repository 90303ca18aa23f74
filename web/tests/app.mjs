// Spotik's web app through its own UI, in the machine's headless Chromium,
// against a running spotik-api (BASE) whose signed links lead to a running
// spotik-edge. Run by api/tests/api/web_app.rs, which starts both and
// answers this script's requests on stdin ("stop-api" / "start-api": the
// API going away and coming back).
//
// Each check prints `PASS`/`FAIL what`; the exit status is the count of
// failures. Screenshots go to SCREENSHOTS.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { wav } from './wav.mjs';

const BASE = process.env.BASE ?? 'http://127.0.0.1:8000';
const SHOTS = process.env.SCREENSHOTS ?? 'target/screenshots';
const WORK = fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', 'spotik-web-'));
const COVER = process.env.COVER;
fs.mkdirSync(SHOTS, { recursive: true });

let failures = 0;
function ok(what, pass, detail = '') {
  if (!pass) failures += 1;
  console.log(`${pass ? 'PASS' : 'FAIL'} ${what}${detail ? ` (${detail})` : ''}`);
}

// The harness answers each request with a line.
const lines = readline.createInterface({ input: process.stdin });
const answers = [];
const waiting = [];
lines.on('line', (line) => (waiting.length ? waiting.shift()(line) : answers.push(line)));
function ask(request) {
  console.log(`ASK ${request}`);
  return new Promise((resolve) => (answers.length ? resolve(answers.shift()) : waiting.push(resolve)));
}

/** A mono 16-bit WAV of `seconds` of a tone. */
function tone(name, seconds, hz) {
  const rate = 8000;
  const { bytes, dataStart, view } = wav({ channels: 1, rate, frames: Math.round(rate * seconds) });
  for (let i = 0; dataStart + i * 2 < bytes.length; i += 1) {
    view.setInt16(dataStart + i * 2, Math.round(6000 * Math.sin((2 * Math.PI * hz * i) / rate)), true);
  }
  const file = path.join(WORK, name);
  fs.writeFileSync(file, bytes);
  return file;
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--autoplay-policy=no-user-gesture-required'],
});

const pageErrors = [];
/** Sync reports the server accepted (202), from any page. */
let syncReports = 0;
/** Each page's WebSockets: their URL and whether they closed. */
const socketsOf = new Map();
async function open(name, viewport = { width: 1200, height: 900 }) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const sockets = [];
  socketsOf.set(page, sockets);
  page.on('websocket', (ws) => {
    const entry = { url: ws.url(), closed: false };
    sockets.push(entry);
    ws.on('close', () => { entry.closed = true; });
  });
  page.on('pageerror', (e) => pageErrors.push(`${name}: ${e.message}`));
  page.on('response', (r) => {
    if (r.url().endsWith('/sync-report') && r.status() === 202) syncReports += 1;
  });
  page.on('dialog', (d) => d.accept());
  return page;
}

const stamp = Date.now().toString(36);
async function register(page, username, next = '/') {
  if (!page.url().includes('/register')) await page.goto(`${BASE}/register${next === '/' ? '' : `?next=${encodeURIComponent(next)}`}`);
  await page.getByLabel('Name others see').fill(username);
  await page.getByLabel('E-mail').fill(`${username.replace(/[^a-z0-9]/gi, '')}.${stamp}@example.com`);
  await page.getByLabel('Password', { exact: true }).fill('password123');
  await page.getByLabel('Password again').fill('password123');
  await page.getByRole('button', { name: 'Create account' }).click();
  try {
    await page.getByTestId('signed-in-as').filter({ hasText: username }).waitFor({ timeout: 10_000 });
  } catch (error) {
    const said = await page.locator('.form-error, .field-error').allTextContents();
    throw new Error(`registering ${username} failed: ${said.join(' ')} (${error.message.split('\n')[0]})`);
  }
}

// What a page hears, by its sync engine (web/src/sync): whether its nodes
// sound, and the track position its output is at now (s).
const audio = (page) =>
  page.evaluate(() => {
    const sync = /** @type {any} */ (window).spotikSync?.state();
    return sync ? { paused: !sync.sounding || !sync.playing, t: (sync.position ?? 0) / 1000, track: sync.track } : null;
  });

/**
 * At ten shared instants of the server's clock (each half a second ahead),
 * the track position each page's output is at by its clock model, and
 * where the room is: the worst distance between two pages and from the room.
 */
async function heardTogether(pages) {
  let apart = 0;
  let fromRoom = 0;
  let complete = 0;
  for (let i = 0; i < 10; i += 1) {
    const at = (await pages[0].evaluate(() => window.spotikSync.serverNow())) + 500;
    const heard = await Promise.all(
      pages.map((page) => page.evaluate((at) => [window.spotikSync.positionAt(at), window.spotikSync.roomAt(at)], at)),
    );
    await new Promise((r) => setTimeout(r, 300));
    // An instant at which a page will not be sounding (a piece decoded
    // late on a starved CI machine) says nothing of how far apart they
    // are; seven of the ten must be complete, every complete one close.
    if (heard.some(([position]) => typeof position !== 'number')) continue;
    complete += 1;
    const positions = heard.map(([position]) => position);
    apart = Math.max(apart, Math.max(...positions) - Math.min(...positions));
    fromRoom = Math.max(fromRoom, ...heard.map(([position, room]) => Math.abs(position - room)));
  }
  if (complete < 7) [apart, fromRoom] = [Infinity, Infinity];
  const states = await Promise.all(pages.map((page) => page.evaluate(() => window.spotikSync.state())));
  const said = states.map((st) => `error ${st.driftMs.toFixed(1)} ms, lag ${st.outputLagMs.toFixed(1)} ms, ${st.corrections.bends} bends, ${st.corrections.restarts} restarts: ${JSON.stringify(st.history.slice(-6))}`);
  return { apart, fromRoom, said: `${complete} of 10 instants with every page sounding; ${said.join('; ')}` };
}

async function until(what, check, timeout = 8000) {
  const end = Date.now() + timeout;
  let last;
  while (Date.now() < end) {
    try {
      last = await check();
      if (last) return last;
    } catch (e) {
      last = e.message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  ok(what, false, `timed out; last: ${JSON.stringify(last)}`);
  return null;
}

async function playing(page, what) {
  const first = await until(`${what}: audio plays`, async () => {
    const a = await audio(page);
    return a && !a.paused && a.t > 0.2 ? a : null;
  });
  if (!first) {
    // What the page's engine says, for whoever reads the failure.
    const state = await page.evaluate(() => JSON.stringify(/** @type {any} */ (window).spotikSync?.state() ?? null));
    console.log(`# ${what}: the engine's state: ${state.slice(0, 3000)}`);
    return false;
  }
  await new Promise((r) => setTimeout(r, 600));
  const second = await audio(page);
  const pass = second && !second.paused && second.t > first.t;
  ok(`${what}: audio plays`, pass, second ? `t ${first.t.toFixed(2)} → ${second.t.toFixed(2)}` : 'no audio');
  return pass;
}

const shot = (page, name) => page.screenshot({ path: path.join(SHOTS, `web-${name}.png`), fullPage: true });

// axe-core (the engine of Lighthouse's and most browsers' accessibility
// audits) on a screen: WCAG 2.1 A and AA, every rule it can decide alone.
// Evaluated through the DevTools protocol, which the page's policy does not
// govern: the app itself stays under its strict CSP.
const AXE = fs.readFileSync(new URL('../node_modules/axe-core/axe.min.js', import.meta.url), 'utf8');
async function audit(page, screen) {
  await page.evaluate(AXE);
  const found = await page.evaluate(async () => {
    // @ts-ignore axe is what the evaluation above defined
    const result = await window.axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] });
    return result.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
  });
  ok(`${screen}: no accessibility violations (axe, WCAG 2.1 AA)`, found.length === 0, found.join('; '));
}

try {
  // Two users; the first opens a room and fills its queue.
  const alice = await open('alice');
  await alice.goto(BASE);
  await alice.waitForURL('**/login**');
  ok('a stranger is asked to sign in', true);
  await shot(alice, 'login');
  await audit(alice, 'sign-in screen');
  await alice.getByRole('link', { name: 'Create an account' }).click();
  await register(alice, `alice${stamp}`);
  ok('register through the form', true);

  await alice.getByLabel('Name', { exact: true }).fill('Friday evening');
  await alice.getByLabel('Description (optional)').fill('Songs for the end of the week');
  await alice.getByRole('button', { name: 'Open room' }).click();
  await alice.waitForURL('**/rooms/**');
  const roomUrl = alice.url();
  ok('open a room', /\/rooms\/[0-9a-f-]{36}$/.test(roomUrl), roomUrl);
  // The socket was opened on the rooms list; it moves to one opened for
  // the room (`?room=`), which the front routes to the room's replica.
  const openSockets = (page) => socketsOf.get(page).filter((s) => !s.closed).map((s) => s.url);
  const roomId = roomUrl.split('/').pop();
  const onlyForRoom = async (page) => {
    const urls = openSockets(page);
    return urls.length === 1 && new URL(urls[0]).searchParams.get('room') === roomId;
  };
  ok('the page moves to a socket opened for its room', Boolean(await until('one socket, for the room', () => onlyForRoom(alice))),
    openSockets(alice).join(' '));
  await alice.getByRole('heading', { name: 'Friday evening' }).waitFor();

  const upload = async (file, genre, cover) => {
    await alice.getByLabel('Audio file').setInputFiles(file);
    if (genre) await alice.getByLabel('Genre').selectOption({ label: genre });
    if (cover) await alice.getByLabel('Cover image (optional)').setInputFiles(cover);
    await alice.getByRole('button', { name: 'Upload' }).click();
    await alice.getByText(`“${path.basename(file)}” was added to the queue.`).waitFor({ timeout: 10_000 });
  };
  await upload(tone('Morning tide.wav', 40, 440), 'Jazz', COVER);
  await upload(tone('Night drive.wav', 40, 660), 'Rock');
  const rows = alice.locator('.queue .track');
  await until('both tracks are queued', async () => (await rows.count()) === 2);
  ok('two uploads with a genre are in the queue', (await rows.count()) === 2);
  ok('the genre badge shows', (await alice.locator('.queue .genre', { hasText: 'Jazz' }).count()) === 1);
  ok('the cover shows', (await alice.locator('.queue img.thumb').count()) === 1);
  ok('the uploader shows', (await alice.locator('.queue .meta', { hasText: `alice${stamp}` }).count()) === 2);

  // The second user follows the room's link while signed out.
  const bob = await open('bob');
  await bob.goto(roomUrl);
  await bob.waitForURL('**/login?next=**');
  await bob.getByRole('link', { name: 'Create an account' }).click();
  await register(bob, `bob${stamp}`);
  await bob.waitForURL(roomUrl);
  await bob.getByRole('heading', { name: 'Friday evening' }).waitFor();
  ok('a newcomer with the link signs up and lands in the room', true);
  ok('the newcomer\'s socket is the room\'s', Boolean(await until('one socket, for the room', () => onlyForRoom(bob))),
    openSockets(bob).join(' '));
  await until('the newcomer is among the listeners', async () => (await alice.locator('.people li', { hasText: `bob${stamp}` }).count()) === 1);
  ok('the newcomer shows as listening now', Boolean(await until('presence reaches the other page', async () =>
    (await alice.locator('.people li[data-online=yes]', { hasText: `bob${stamp}` }).count()) === 1)));
  const tokenOf = (page) => page.evaluate(() => JSON.parse(localStorage.getItem('spotik.session') ?? 'null')?.token);
  const bobFirstToken = await tokenOf(bob);

  // Votes: bob votes for the second track, which rises for both.
  await bob.getByRole('button', { name: 'Vote for Night drive' }).click();
  await until('a vote reaches the other page', async () =>
    (await alice.locator('.queue .track').first().locator('.track-title').textContent()).includes('Night drive'));
  ok('the voted track leads the queue on both pages', Boolean(await until('the vote reorders the voter’s page', async () =>
    (await bob.locator('.queue .track').first().locator('.track-title').textContent()).includes('Night drive'))));
  await alice.getByRole('button', { name: 'Vote for Night drive' }).click();
  await until('two votes show on both pages', async () =>
    (await bob.locator('.queue .track').first().locator('.score').textContent()).trim() === '2');
  ok('the activity names who voted', Boolean(await until('the voter is named', async () =>
    (await alice.locator('.activity', { hasText: `bob${stamp} voted for Night drive` }).count()) === 1)));
  await alice.getByRole('button', { name: '2 votes: who voted' }).click();
  const voters = alice.locator('.queue .track').first().locator('.voters li');
  ok('the score opens on who voted, in order', Boolean(await until('the voters are listed', async () =>
    (await voters.allTextContents()).join('|') === `bob${stamp}|alice${stamp} (you)`)), (await voters.allTextContents()).join('|'));
  await alice.getByRole('button', { name: '2 votes: who voted' }).click();
  await bob.getByRole('button', { name: 'Voted for Night drive: take your vote back' }).click();
  await until('an unvote shows', async () => (await alice.locator('.queue .track').first().locator('.score').textContent()).trim() === '1');
  ok('vote and unvote', true);

  // The administrator plays, pauses, resumes and skips; both pages follow.
  // (The first upload started the idle room; playing another track marks
  // it played, so a third waits for the skip.)
  // Long enough to still play when the sessions' renewal has been waited for.
  await upload(tone('Evening glow.wav', 150, 550));
  await alice.getByRole('button', { name: 'Play Night drive now' }).click();
  await until('both pages say what plays', async () =>
    (await bob.locator('#now-track').textContent()) === 'Night drive' && (await alice.locator('#now-track').textContent()) === 'Night drive');
  ok('play: heard by the administrator', await playing(alice, 'administrator'));
  ok('play: heard by the listener', await playing(bob, 'listener'));
  await shot(alice, 'room');
  await audit(alice, 'room screen');
  await alice.emulateMedia({ colorScheme: 'dark' });
  await shot(alice, 'room-dark');
  await audit(alice, 'room screen, dark scheme');
  await alice.emulateMedia({ colorScheme: 'light' });
  await alice.getByRole('button', { name: '❚❚ Pause' }).click();
  ok('pause stops both', Boolean(await until('pause reaches both pages', async () =>
    (await bob.getByRole('heading', { name: 'Paused' }).count()) === 1 && (await audio(bob)).paused && (await audio(alice)).paused)));
  // The pause was asked 250 ms ahead: each page's sound ran on to the
  // pause's instant, where the room's position froze, and ends there.
  for (const [page, who] of [[alice, 'administrator'], [bob, 'listener']]) {
    const heard = await page.evaluate(() => {
      const sync = window.spotikSync;
      const { pausedAtMs, positionMs } = sync.state();
      return { ahead: pausedAtMs, positionMs, before: sync.positionAt(pausedAtMs - 100), after: sync.positionAt(pausedAtMs + 100) };
    });
    const off = heard.before === null ? null : heard.before - (heard.positionMs - 100);
    ok(`a pause ahead: the ${who}'s sound runs to its instant and ends there`, off !== null && Math.abs(off) <= 10 && heard.after === null, JSON.stringify({ ...heard, off }));
  }
  await alice.getByRole('button', { name: '▶ Resume' }).click();
  ok('resume: heard again', await playing(bob, 'listener after resume'));

  // A third user opens the room mid-track and hears it where the room is.
  const carol = await open('carol', { width: 360, height: 780 });
  await carol.goto(`${BASE}/register?next=${encodeURIComponent(new URL(roomUrl).pathname)}`);
  await register(carol, `carol${stamp}`);
  await carol.waitForURL(roomUrl);
  ok('a late joiner hears the room', await playing(carol, 'late joiner'));
  // By the clock model: the old <audio> player was 18–28 ms between pages
  // and 73–111 ms behind the room.
  // Each page corrects itself within seconds of a start (or of its output
  // moving under it); then they must hold together.
  await until('every page has settled within 2 ms of the room', async () => {
    const errors = await Promise.all([alice, bob, carol].map((page) => page.evaluate(() => window.spotikSync.state().driftMs)));
    return errors.every((error) => Math.abs(error) <= 2);
  }, 20_000);
  const { apart, fromRoom, said: states } = await heardTogether([alice, bob, carol]);
  ok('three pages hear the same place, within 10 ms by their clock models', apart <= 10, `worst ${apart.toFixed(2)} ms apart (${states})`);
  ok('and where the room is, within 10 ms', fromRoom <= 10, `worst ${fromRoom.toFixed(2)} ms from the room`);
  ok('pages that sound report how well they keep time', Boolean(await until('a sync report is accepted', async () => syncReports > 0, 12_000)));
  await shot(carol, 'room-phone');
  await audit(carol, 'room screen on a phone');
  const phone = await carol.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    title: document.getElementById('room-title')?.getBoundingClientRect().width ?? 0,
  }));
  ok('on a 360 px phone nothing scrolls sideways and the room’s name reads across', phone.scroll <= 360 && phone.title >= 200, JSON.stringify(phone));

  // Vote to skip: three listening, two votes skip (docs/room-life.md).
  const skipCount = (page) => page.locator('#skip-vote-count').textContent();
  ok('the vote to skip says how many votes it takes', Boolean(await until('the count shows', async () =>
    (await skipCount(carol)).startsWith('0 of 2 votes'))), await skipCount(carol));
  await bob.getByRole('button', { name: '⏭ Vote to skip' }).click();
  ok('a vote to skip is counted on every page', Boolean(await until('the vote reaches the others', async () =>
    (await skipCount(carol)).startsWith('1 of 2 votes') && (await skipCount(alice)).startsWith('1 of 2 votes'))), await skipCount(alice));
  ok('the voter’s button is pressed', (await bob.getByRole('button', { name: '✓ Voted to skip' }).getAttribute('aria-pressed')) === 'true');
  await bob.getByRole('button', { name: '✓ Voted to skip' }).click();
  ok('a vote to skip is taken back', Boolean(await until('the unvote reaches the others', async () =>
    (await skipCount(carol)).startsWith('0 of 2 votes'))), await skipCount(carol));
  await bob.getByRole('button', { name: '⏭ Vote to skip' }).click();
  await until('the first vote is back', async () => (await skipCount(carol)).startsWith('1 of 2 votes'));
  await carol.getByRole('button', { name: '⏭ Vote to skip' }).click();
  let skipSeen = '';
  await until('skip reaches every page', async () => {
    const shown = [await alice.locator('#now-track').textContent(), await bob.locator('#now-track').textContent(), await carol.locator('#now-track').textContent()];
    skipSeen = shown.join(' / ');
    return shown.every((t) => t === 'Evening glow');
  });
  ok('skipped by vote: every page names the next track', skipSeen.split(' / ').every((t) => t === 'Evening glow'), skipSeen);
  ok('skipped by vote: the next track plays', await playing(bob, 'listener after skip'));
  ok('the history says what was skipped and how', Boolean(await until('the history shows the vote', async () =>
    (await alice.locator('.history li[data-ending=vote]', { hasText: 'Night drive' }).count()) === 1)),
  (await alice.locator('.history').textContent()) ?? '');
  ok('…and what the administrator replaced', (await alice.locator('.history li[data-ending=replaced]', { hasText: 'Morning tide' }).count()) === 1);
  ok('the count starts again with the next track', Boolean(await until('the tally is reset', async () =>
    (await skipCount(bob)).startsWith('0 of 2 votes'))), await skipCount(bob));

  // Chat: a message reaches the room at once, a reaction too; the
  // administrator deletes a message and it goes from every page.
  await bob.getByLabel('Message', { exact: true }).fill('this one is great');
  await bob.getByRole('button', { name: 'Send' }).click();
  ok('a chat message reaches the others', Boolean(await until('the message shows on another page', async () =>
    (await alice.locator('.chat-log li', { hasText: `bob${stamp}: this one is great` }).count()) === 1)));
  ok('…and its author sees it as theirs', (await bob.locator('.chat-log li', { hasText: `bob${stamp} (you): this one is great` }).count()) === 1);
  await carol.getByRole('button', { name: 'React: fire' }).click();
  ok('a reaction reaches the others', Boolean(await until('the reaction shows', async () =>
    (await alice.locator('.chat-log li.reaction', { hasText: `carol${stamp} 🔥` }).count()) === 1)));
  await alice.getByRole('button', { name: 'Delete the message “this one is great”' }).click();
  ok('the administrator deletes a message from every page', Boolean(await until('the message is gone', async () =>
    (await bob.locator('.chat-log li', { hasText: 'this one is great' }).count()) === 0)));

  // Moderation: the administrator makes bob a moderator, who mutes carol;
  // her message is refused, and the log says who did what.
  await alice.getByRole('button', { name: `Make moderator: bob${stamp}` }).click();
  const muteCarol = bob.getByRole('button', { name: `Mute carol${stamp} for 10 minutes` });
  ok('a new moderator gets the moderation tools', Boolean(await until('bob can mute', async () => (await muteCarol.count()) === 1)));
  await muteCarol.click();
  ok('a mute shows on every page', Boolean(await until('the mute shows', async () =>
    (await alice.locator('.people li', { hasText: `carol${stamp}` }).locator('.tag.muted').count()) === 1)));
  await carol.getByLabel('Message', { exact: true }).fill('can I speak?');
  await carol.getByRole('button', { name: 'Send' }).click();
  ok('a muted listener is told why their message did not go', Boolean(await until('the refusal shows', async () =>
    (await carol.getByText(/muted you in this room/).count()) > 0)));
  await bob.getByRole('button', { name: `Unmute carol${stamp}` }).click();
  await until('the mute is lifted', async () => (await alice.locator('.people li', { hasText: `carol${stamp}` }).locator('.tag.muted').count()) === 0);
  await alice.locator('summary', { hasText: 'Moderation log' }).click();
  ok('the moderation log says who did what', Boolean(await until('the log lists the mute', async () =>
    (await alice.locator('.mod-log li', { hasText: `bob${stamp} muted carol${stamp}` }).count()) === 1)),
  (await alice.locator('.mod-log').textContent()) ?? '');

  // A playlist, made from the room, then found again.
  await bob.getByRole('button', { name: 'Add Evening glow to a playlist' }).click();
  await bob.getByLabel('New playlist name').fill('Road trip');
  await bob.getByRole('button', { name: 'New playlist' }).click();
  await bob.getByText('Added to “Road trip”.').waitFor();
  await bob.getByRole('link', { name: 'Playlists' }).click();
  await bob.getByRole('link', { name: 'Road trip' }).click();
  await bob.locator('.queue .track', { hasText: 'Evening glow' }).waitFor();
  ok('a playlist is made from the room and holds the track', true);
  await bob.getByRole('link', { name: 'Search' }).click();
  await bob.getByLabel('Track name').fill('night');
  await bob.getByRole('button', { name: 'Search' }).click();
  await bob.locator('.queue .track', { hasText: 'Night drive' }).waitFor();
  ok('search finds a track', true);

  // A playlist reordered, shared with others, then deleted.
  await bob.getByRole('button', { name: 'Add Night drive to a playlist' }).click();
  await bob.getByRole('button', { name: /^Road trip/ }).click();
  // The first add's note may still show: the playlist's contents tell below.
  await bob.getByText('Added to “Road trip”.').last().waitFor();
  await bob.getByRole('link', { name: 'Playlists' }).click();
  await bob.getByRole('link', { name: 'Road trip' }).click();
  const entries = bob.locator('.queue .track .track-title');
  await until('both tracks are in the playlist', async () => (await entries.count()) === 2);
  await bob.getByRole('button', { name: 'Move Night drive up' }).click();
  await until('a move reorders the playlist', async () => (await entries.first().textContent()) === 'Night drive');
  ok('a playlist is reordered', (await entries.allTextContents()).join(',') === 'Night drive,Evening glow');
  await bob.getByRole('button', { name: 'Share publicly' }).click();
  await bob.getByRole('button', { name: 'Make private' }).waitFor();
  await carol.goto(`${BASE}/playlists`);
  await carol.getByRole('link', { name: 'Road trip' }).waitFor();
  ok('a shared playlist is seen by others', (await carol.locator('section', { hasText: 'Shared by others' }).getByRole('link', { name: 'Road trip' }).count()) === 1);
  await bob.getByRole('button', { name: 'Remove Evening glow from the playlist' }).click();
  await until('a removal empties the slot', async () => (await entries.count()) === 1);
  await bob.getByRole('button', { name: 'Delete playlist' }).click();
  await bob.waitForURL('**/playlists');
  ok('a playlist is deleted', (await bob.getByRole('link', { name: 'Road trip' }).count()) === 0);

  // Genres: one added shows with its colour, and its author may delete it.
  await carol.getByRole('link', { name: 'Genres' }).click();
  await carol.getByLabel('Name', { exact: true }).fill(`Chiptune ${stamp}`);
  await carol.getByRole('button', { name: 'Add genre' }).click();
  await carol.locator('.genre', { hasText: `Chiptune ${stamp}` }).waitFor();
  await carol.getByRole('button', { name: `Delete the genre Chiptune ${stamp}` }).click();
  await until('a genre is deleted', async () => (await carol.locator('.genre', { hasText: `Chiptune ${stamp}` }).count()) === 0);
  ok('a genre is added and deleted', true);

  // The administrator renames the room: every page in it shows the new name.
  await bob.goto(roomUrl);
  await bob.getByRole('heading', { name: 'Friday evening' }).waitFor();
  await alice.locator('.manage summary').click();
  await alice.getByLabel('Room name').fill('Saturday morning');
  await alice.getByRole('button', { name: 'Save' }).click();
  await alice.getByLabel('Cover image', { exact: true }).setInputFiles(COVER);
  await alice.getByText('The room’s cover was changed.').waitFor();
  ok('the room gets a cover', (await alice.locator('.room-cover img').count()) === 1);
  ok('a rename reaches the open pages as it happens', Boolean(await until('a rename reaches the listener', async () =>
    (await bob.getByRole('heading', { name: 'Saturday morning' }).count()) === 1)));
  // The administrator makes the queue fair: every page says so at once.
  await alice.getByLabel('Queue order').selectOption('fair');
  ok('a fair queue is announced on every page', Boolean(await until('the fair note shows', async () =>
    (await bob.getByText(/^Fair turns/).count()) === 1)));
  await alice.getByLabel('Queue order').selectOption('votes');
  await until('back to votes', async () => (await bob.getByText(/^Fair turns/).count()) === 0);
  await alice.getByLabel('When the queue runs dry').selectOption('history');
  ok('the room is set to play on from its history', Boolean(await until('autofill is saved', async () =>
    (await alice.evaluate(async () => {
      const session = JSON.parse(localStorage.getItem('spotik.session') ?? 'null');
      const room = location.pathname.split('/').pop();
      return (await (await fetch(`/api/rooms/${room}`, { headers: { Authorization: `Bearer ${session.token}` } })).json()).data.autofill;
    })) === 'history')));

  // A listener leaves the room.
  await carol.goto(roomUrl);
  await carol.getByRole('button', { name: 'Leave room' }).click();
  await carol.waitForURL(`${BASE}/`);
  await until('the leaver is gone from the listeners', async () => (await alice.locator('.people li', { hasText: `carol${stamp}` }).count()) === 0);
  ok('leaving a room', true);

  // The session is renewed while the page stays open (the harness gives
  // tokens a minute: the page renews them at 48 s), without leaving the
  // room or missing its events.
  ok('the session is renewed while the page is open', Boolean(await until('bob’s token is renewed', async () =>
    (await tokenOf(bob)) !== bobFirstToken, 70_000)));
  ok('after the renewal the page is still in the room', bob.url() === roomUrl, bob.url());
  ok('…and so is the administrator’s', alice.url() === roomUrl, alice.url());
  await until('the socket is back after the renewal', async () => (await bob.locator('#connection').getAttribute('data-socket')) === 'open');
  await alice.getByRole('button', { name: 'Vote for Evening glow' }).click();
  ok('events still arrive after the renewal', Boolean(await until('a vote after the renewal reaches the listener', async () =>
    (await bob.locator('.queue .track', { hasText: 'Evening glow' }).locator('.score').getAttribute('data-score')) === '1')));

  // A listener who goes elsewhere is away; back in the room, listening.
  await bob.goto(BASE);
  ok('a listener who leaves the page shows as away', Boolean(await until('bob is away', async () =>
    (await alice.locator('.people li[data-online=no]', { hasText: `bob${stamp}` }).count()) === 1)));

  // A reload keeps the session.
  await bob.goto(roomUrl);
  await bob.reload();
  await bob.getByRole('heading', { name: 'Saturday morning' }).waitFor();
  ok('a reload keeps the session', (await bob.getByTestId('signed-in-as').textContent()) === `bob${stamp}`);
  ok('back in the room, listening again', Boolean(await until('bob is back', async () =>
    (await alice.locator('.people li[data-online=yes]', { hasText: `bob${stamp}` }).count()) === 1)));

  // What a user sees when things go wrong: a refused upload, a wrong
  // password, the API away and back.
  fs.writeFileSync(path.join(WORK, 'not-music.mp3'), 'this is a text file, not audio\n'.repeat(100));
  await alice.getByLabel('Audio file').setInputFiles(path.join(WORK, 'not-music.mp3'));
  await alice.getByRole('button', { name: 'Upload' }).click();
  const fieldError = alice.locator('[data-field=audio_file] .field-error');
  await fieldError.waitFor({ timeout: 10_000 });
  const said = await fieldError.textContent();
  ok('a refused upload says why next to the file', said.length > 5 && !said.includes('{'), said);

  const mallory = await open('stranger');
  await mallory.goto(`${BASE}/login`);
  await mallory.getByLabel('E-mail').fill(`alice${stamp}.${stamp}@example.com`);
  await mallory.getByLabel('Password').fill('not-the-password');
  await mallory.getByRole('button', { name: 'Sign in' }).click();
  const refused = mallory.locator('.form-error');
  await refused.waitFor();
  ok('a wrong password is told plainly', !(await refused.textContent()).includes('{'), await refused.textContent());

  await ask('stop-api');
  await until('the page tells the API is away', async () => /Reconnecting|unreachable/.test(await bob.locator('#connection').textContent()));
  ok('the API going away shows', true, await bob.locator('#connection').textContent());
  await shot(bob, 'offline');
  await ask('start-api');
  await until('the page reconnects by itself', async () => (await bob.locator('#connection').textContent()) === 'Live', 20_000);
  ok('the API coming back reconnects', (await bob.locator('#connection').textContent()) === 'Live');
  // Caught up: a change made after the return reaches the page.
  await alice.getByRole('button', { name: '■ Stop' }).click();
  await until('a change after the return arrives', async () => (await bob.getByRole('heading', { name: 'Nothing is playing' }).count()) === 1, 10_000);
  ok('events flow again after the return', true);
  // The room plays on from its history once its queue runs dry (set above),
  // and every page marks the track as autofill.
  await alice.getByRole('button', { name: '▶ Play' }).click();
  for (let i = 0; i < 6; i += 1) {
    if ((await alice.locator('.now-playing .tag', { hasText: 'autofill' }).count()) === 1) break;
    const before = await alice.locator('#now-track').textContent();
    await alice.getByRole('button', { name: '⏭ Skip' }).click();
    await until('the skip lands', async () => (await alice.locator('#now-track').textContent()) !== before || (await alice.locator('.now-playing .tag', { hasText: 'autofill' }).count()) === 1);
  }
  ok('a dry queue plays on from the history, marked autofill on every page', Boolean(await until('the autofill mark reaches the listener', async () =>
    (await bob.locator('.now-playing .tag', { hasText: 'autofill' }).count()) === 1)), (await bob.locator('#now-track').textContent()) ?? '');
  await alice.getByRole('button', { name: '■ Stop' }).click();

  // Hostile names are shown as typed and never run.
  const hostile = await open('hostile');
  // User names are refused markup by the server itself; the refusal shows.
  const evilName = '<img src=x onerror=window.__xss=1>';
  await register(hostile, evilName).catch(() => {});
  const refusal = await hostile.locator('[data-field=username] .field-error').textContent();
  ok('a user name with markup is refused next to the field', /letters, numbers/.test(refusal), refusal);
  await hostile.getByLabel('Name others see').fill(`mallory${stamp}`);
  await hostile.getByRole('button', { name: 'Create account' }).click();
  await hostile.getByTestId('signed-in-as').waitFor();
  await hostile.getByLabel('Name', { exact: true }).fill('"><script>window.__xss=2</script>');
  await hostile.getByRole('button', { name: 'Open room' }).click();
  await hostile.waitForURL('**/rooms/**');
  await hostile.getByLabel('Audio file').setInputFiles(tone('"><img src=x onerror=window.__xss=3>.wav', 2, 500));
  await hostile.getByRole('button', { name: 'Upload' }).click();
  await hostile.locator('.queue .track').first().waitFor({ timeout: 10_000 });
  await alice.goto(BASE);
  await alice.locator('.room-card').first().waitFor();
  const ran = await Promise.all([hostile, alice].map((p) => p.evaluate(() => window.__xss ?? null)));
  ok('no injected script ran', ran.every((r) => r === null), JSON.stringify(ran));
  ok('a hostile room name shows as typed', (await alice.getByRole('link', { name: '"><script>window.__xss=2</script>' }).count()) === 1);
  const hostileTitle = await hostile.locator('.queue .track-title').first().textContent();
  ok('a hostile track name shows as typed', hostileTitle.includes('<img src=x onerror=window.__xss=3>'), hostileTitle);
  ok('no element came from a name', (await hostile.locator('main img[src=x], main script').count()) === 0);
  // Its administrator deletes a room: it is gone from the list.
  await hostile.locator('.manage summary').click();
  await hostile.getByRole('button', { name: 'Delete room' }).click();
  await hostile.waitForURL(`${BASE}/`);
  await hostile.locator('.room-card').first().waitFor();
  ok('a deleted room leaves the list', (await hostile.getByRole('link', { name: '"><script>window.__xss=2</script>' }).count()) === 0);
  await shot(alice, 'rooms');
  await audit(alice, 'room list');

  ok('no page raised an uncaught error', pageErrors.length === 0, pageErrors.join('; '));
} catch (error) {
  ok('the run finished', false, error.stack);
  // What each page showed when the run stopped.
  for (const [index, context] of browser.contexts().entries()) {
    for (const page of context.pages()) {
      await page.screenshot({ path: path.join(SHOTS, `web-failed-${index}.png`), fullPage: true }).catch(() => {});
      console.log(`page ${index}: ${page.url()}`);
    }
  }
} finally {
  await browser.close();
  fs.rmSync(WORK, { recursive: true, force: true });
  lines.close();
}
console.log(`${failures} failed`);
process.exit(failures ? 1 : 0);
