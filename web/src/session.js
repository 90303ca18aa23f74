// Who is signed in, kept across reloads and shared by the tabs of one
// browser. The token lives in localStorage (SECURITY.md says what that
// means): it is what every API call and the socket present.

/**
 * @typedef {{ id: string, username: string, email: string }} User
 * @typedef {{ token: string, user: User, expiresAt: number }} Session
 */

const KEY = 'spotik.session';
/** @type {Set<(session: Session | null) => void>} */
const listeners = new Set();

/** @returns {Session | null} */
function read() {
  try {
    const stored = JSON.parse(localStorage.getItem(KEY) ?? 'null');
    if (stored && typeof stored.token === 'string' && stored.user && stored.expiresAt > Date.now()) return stored;
  } catch {
    // A damaged entry is no session.
  }
  return null;
}

let current = read();

export function session() {
  return current;
}

/** @param {Session | null} next */
export function setSession(next) {
  current = next;
  if (next) localStorage.setItem(KEY, JSON.stringify(next));
  else localStorage.removeItem(KEY);
  for (const listener of listeners) listener(next);
}

/** @param {(session: Session | null) => void} listener */
export function onSession(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

// Another tab signed in or out: follow it.
addEventListener('storage', (event) => {
  if (event.key !== KEY) return;
  current = read();
  for (const listener of listeners) listener(current);
});
