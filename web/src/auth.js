// Signing in, up and out, and keeping the session alive: the token is
// refreshed well before it expires, for as long as a tab is open.

import { ApiError, call, onUnauthorized, post } from './api.js';
import { onSession, session, setSession } from './session.js';

/** @param {any} data TokenData */
function start(data) {
  setSession({ token: data.token, user: data.user, expiresAt: Date.now() + data.expires_in * 1000 });
}

/** @param {string} email @param {string} password */
export async function login(email, password) {
  start((await post('/auth/login', { email, password })).data);
}

/** @param {{ username: string, email: string, password: string, password_confirmation: string }} fields */
export async function register(fields) {
  start((await post('/auth/register', fields)).data);
}

export async function logout() {
  try {
    await post('/auth/logout');
  } catch (error) {
    // Signed out here whatever the server said; an unreachable server
    // forgets the token when it expires.
    if (!(error instanceof ApiError)) throw error;
  }
  setSession(null);
}

/** @type {Promise<void> | null} */
let refreshing = null;

/**
 * A new token for the old one (which the server then revokes). One at a
 * time: a second refresh of the same token would be refused as revoked.
 */
export function refresh() {
  refreshing ??= (async () => {
    const current = session();
    if (!current) return;
    start((await call('POST', '/auth/refresh', { json: {}, token: current.token })).data);
  })().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

let timer = 0;
/**
 * Refreshes at four fifths of the token's life, again after each refresh;
 * at once for a token that expired meanwhile (a computer waking from
 * sleep): the server renews an expired token for two weeks after issue.
 */
function schedule() {
  clearTimeout(timer);
  const current = session();
  if (!current) return;
  const life = current.expiresAt - Date.now();
  timer = window.setTimeout(
    async () => {
      try {
        await refresh();
      } catch (error) {
        // Unreachable: try again in a while; refused: the 401 handler signs out.
        if (error instanceof ApiError && error.status === 0) timer = window.setTimeout(schedule, 15_000);
        return;
      }
      schedule();
    },
    life > 0 ? Math.max(5_000, life * 0.8) : 0,
  );
}

/**
 * A refused token: if it is the session's and has expired, renew it (the
 * request that was refused shows its error; the next one works); if it was
 * revoked or cannot be renewed, sign out. A request sent with the token a
 * refresh has just replaced says nothing about the session.
 * @param {string} token
 */
async function refused(token) {
  const current = session();
  if (!current || current.token !== token) return;
  if (current.expiresAt <= Date.now() + 5_000) {
    try {
      await refresh();
      return;
    } catch (error) {
      if (error instanceof ApiError && error.status === 0) return;
    }
  }
  if (session()?.token === token) setSession(null);
}

export function keepAlive() {
  schedule();
  onSession(schedule);
  onUnauthorized((token) => {
    refused(token).catch(() => {});
  });
  // Timers stall while a computer sleeps: look again when the page is back.
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') schedule();
  });
}
