// The server's clock on this page, kept by clock exchanges over the room's
// socket (`time` messages, docs/realtime.md) and fitted by `ClockFilter`.
// Bursts of eight exchanges, one at a time (the first, of four, overlapping
// on a slow link), paced by pacing.js (often at first, every 10 s once
// settled), and at once when the socket (re)opens or the page is shown
// again. Before the socket is open, `GET /api/time` gives a first,
// coarser model (its instants are whole milliseconds).
//
// The page's own clock is `performance.now()`: monotonic and finer than a
// millisecond, where `Date.now()` may be stepped under the page.

import { onMessage, onSocketState, send, socketState } from '../socket.js';
import { ClockFilter, sampleOf } from './filter.js';
import { burstEvery, burstSize, overlapAfter } from './pacing.js';

const ANSWER_WITHIN_MS = 1000;

const filter = new ClockFilter();
/** @type {Map<number, (sample: import('./filter.js').Sample | null) => void>} */
const waiting = new Map();
let nextId = 1;
let bursting = false;
let timer = 0;
let started = false;
let startedAt = 0;

/** The server's clock now, in Unix milliseconds. */
export const serverNow = () => serverAt(performance.now());

/** The server's clock at the page's `local` (ms); Date.now() until measured. */
export function serverAt(/** @type {number} */ local) {
  return filter.ready ? filter.serverAt(local) : performance.timeOrigin + local;
}

/** The page's clock when the server's reads `server`. */
export function localAt(/** @type {number} */ server) {
  return filter.ready ? filter.localAt(server) : server - performance.timeOrigin;
}

/** What the model is worth now (see ClockFilter.quality), and whether it is measured. */
export function quality() {
  return { ...filter.quality(performance.now()), ready: filter.ready };
}

/** Server minus this machine's wall clock (ms): what a sync report carries. */
export function wallOffset() {
  const now = performance.now();
  return serverAt(now) - (performance.timeOrigin + now);
}

/** @type {() => void} */
let measured = () => {};
const firstModel = new Promise((resolve) => {
  measured = () => resolve(undefined);
});

/** Resolves once the first burst is fitted, or after `ms`, whichever is first. */
export function clockReady(ms = 1500) {
  return filter.ready ? Promise.resolve() : Promise.race([firstModel, new Promise((resolve) => setTimeout(resolve, ms))]);
}

onMessage((message, receivedAt) => {
  if (message.type !== 'time') return;
  const { id, client_sent: sent, server_received: received, server_sent: answered } = message.data ?? {};
  const done = waiting.get(id);
  if (!done || ![sent, received, answered].every(Number.isFinite)) return;
  waiting.delete(id);
  done(sampleOf(sent, received, answered, receivedAt));
});

/** One exchange over the socket; null if lost or unanswered in time. */
function exchange() {
  const id = nextId++;
  return new Promise((resolve) => {
    const timeout = window.setTimeout(() => {
      waiting.delete(id);
      resolve(null);
    }, ANSWER_WITHIN_MS);
    waiting.set(id, (sample) => {
      clearTimeout(timeout);
      resolve(sample);
    });
    if (!send({ type: 'time', data: { id, client_sent: performance.now() } })) {
      clearTimeout(timeout);
      waiting.delete(id);
      resolve(null);
    }
  });
}

/** One exchange over HTTP, while there is no socket. */
async function exchangeOverHttp() {
  try {
    const sent = performance.now();
    const answer = await (await fetch('/api/time', { cache: 'no-store' })).json();
    const back = performance.now();
    const origin = performance.timeOrigin;
    // Its instants are Unix ms; the model's page clock is performance.now().
    return sampleOf(sent, Number(answer.received_at_ms) - origin, Number(answer.sent_at_ms) - origin, back);
  } catch {
    return null;
  }
}

/** Measures once: a burst, then the filter. */
async function synchronise() {
  const size = burstSize(filter.ready);
  const wait = overlapAfter(filter.ready);
  if (bursting) return;
  bursting = true;
  try {
    const overSocket = socketState() === 'open';
    /** @type {import('./filter.js').Sample[]} */
    const burst = [];
    /** @type {Promise<import('./filter.js').Sample | null>[]} */
    const answers = [];
    for (let i = 0; i < size; i += 1) {
      const answer = overSocket ? exchange() : exchangeOverHttp();
      answers.push(answer);
      // The next once this one is answered, or (the first burst) a moment unanswered.
      if (i + 1 < size) await (wait === Infinity ? answer : Promise.race([answer, new Promise((resolve) => setTimeout(resolve, wait))]));
    }
    for (const sample of await Promise.all(answers)) {
      if (sample) {
        // The HTTP model measures the page's clock from its time origin.
        burst.push(overSocket ? sample : { ...sample, offset: sample.offset + performance.timeOrigin });
      }
    }
    filter.addBurst(burst);
    if (filter.ready) measured();
  } finally {
    bursting = false;
  }
}

/** The next burst, a burst's period after the last one began. @param {number} began */
function plan(began) {
  clearTimeout(timer);
  const wait = burstEvery(began - startedAt) - (performance.now() - began);
  timer = window.setTimeout(
    async () => {
      const now = performance.now();
      await synchronise();
      plan(now);
    },
    Math.max(0, wait),
  );
}

/** Keeps the model fresh from now on (idempotent). */
export function keepSynchronised() {
  if (started) return;
  started = true;
  startedAt = performance.now();
  synchronise().then(() => plan(startedAt));
  onSocketState((state) => {
    if (state === 'open') synchronise();
  });
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') synchronise();
  });
}
