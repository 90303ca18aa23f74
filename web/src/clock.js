// The server's clock as this page sees it. Room positions are instants of
// the server's clock; this page's clock may be off by seconds. Each
// exchange with `GET /api/time` gives four timestamps (sent, received by
// the server, answered by it, received back); of a burst, the one with
// the shortest round trip bounds the offset best, to half its round trip.

/** Local wall-clock milliseconds, monotonic within the page's life. */
export const localNow = () => performance.timeOrigin + performance.now();

let offset = 0;
let roundTrip = Infinity;
let measuredAt = 0;
/** @type {Set<() => void>} */
const listeners = new Set();

/** The server's clock now, in Unix milliseconds. */
export const serverNow = () => localNow() + offset;

/** What the last burst measured: the offset and its round trip (ms). */
export function quality() {
  return { offset, roundTrip, measuredAt };
}

/** @param {() => void} listener */
export function onClock(listener) {
  listeners.add(listener);
}

async function exchange() {
  const sent = localNow();
  const response = await fetch('/api/time', { cache: 'no-store' });
  const answer = await response.json();
  const received = localNow();
  const serverIn = Number(answer.received_at_ms ?? answer.unix_ms);
  const serverOut = Number(answer.sent_at_ms ?? answer.unix_ms);
  return { offset: (serverIn - sent + (serverOut - received)) / 2, roundTrip: received - sent - (serverOut - serverIn) };
}

/** Measures again: a burst of exchanges, keeping the tightest. */
export async function synchronise(burst = 6) {
  let best = null;
  for (let i = 0; i < burst; i += 1) {
    try {
      const sample = await exchange();
      if (!best || sample.roundTrip < best.roundTrip) best = sample;
    } catch {
      // Unreachable now: keep the last model.
    }
  }
  if (!best) return;
  offset = best.offset;
  roundTrip = best.roundTrip;
  measuredAt = Date.now();
  for (const listener of listeners) listener();
}

let started = false;
/** Keeps the model fresh: now, every minute, and when the page is shown again. */
export function keepSynchronised() {
  if (started) return;
  started = true;
  synchronise();
  setInterval(() => synchronise(), 60_000);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') synchronise();
  });
}
