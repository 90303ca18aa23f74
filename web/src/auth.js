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

/** A new token for the old one (which the server then revokes). */
export async function refresh() {
  const current = session();
  if (!current) return;
  start((await call('POST', '/auth/refresh', { json: {}, token: current.token })).data);
}

let timer = 0;
/** Refreshes at four fifths of the token's life, again after each refresh. */
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
    Math.max(5_000, life * 0.8),
  );
}

export function keepAlive() {
  schedule();
  onSession(schedule);
  onUnauthorized(() => {
    if (session()) setSession(null);
  });
}
