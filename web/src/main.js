// Start-up: the header (navigation, who is signed in, the connection's
// state), the routes, and what follows a session's start and end.

import { onReachable } from './api.js';
import { keepAlive, logout, refresh } from './auth.js';
import { keepSynchronised } from './sync/clock.js';
import { fill, h } from './dom.js';
import { failed } from './notify.js';
import { go, start } from './router.js';
import { onSession, session } from './session.js';
import { connect, disconnect, onRefused, onSocketState, socketState } from './socket.js';
import { loginView, registerView } from './views/auth.js';
import { genresView } from './views/genres.js';
import { playlistView, playlistsView } from './views/playlists.js';
import { roomView } from './views/room.js';
import { roomsView } from './views/rooms.js';
import { searchView } from './views/search.js';

function navigation() {
  const nav = /** @type {HTMLElement} */ (document.getElementById('nav'));
  const current = session();
  if (!current) {
    fill(nav, h('a', { href: '/login' }, 'Sign in'), h('a', { href: '/register' }, 'Create account'));
    return;
  }
  fill(
    nav,
    h('a', { href: '/' }, 'Rooms'),
    h('a', { href: '/playlists' }, 'Playlists'),
    h('a', { href: '/search' }, 'Search'),
    h('a', { href: '/genres' }, 'Genres'),
    h('span', { class: 'who', 'data-testid': 'signed-in-as' }, current.user.username),
    h(
      'button',
      {
        type: 'button',
        class: 'link',
        onclick: () => logout().catch(failed),
      },
      'Sign out',
    ),
  );
}

let reachable = true;
function showConnection() {
  const line = /** @type {HTMLElement} */ (document.getElementById('connection'));
  const state = socketState();
  let text = '';
  let kind = 'ok';
  if (!reachable) [text, kind] = ['Spotik is unreachable: reconnecting…', 'bad'];
  else if (!session()) [text, kind] = ['', 'ok'];
  else if (state === 'open') [text, kind] = ['Live', 'ok'];
  else if (state === 'connecting') [text, kind] = ['Connecting…', 'wait'];
  else if (state === 'reconnecting') [text, kind] = ['Reconnecting…', 'bad'];
  line.textContent = text;
  line.dataset.state = kind;
  line.dataset.socket = state;
}

keepAlive();
keepSynchronised();
onSocketState(showConnection);
onReachable((now) => {
  reachable = now;
  showConnection();
});
onRefused(() => {
  // The token no longer opens the socket. Expired, or revoked by a refresh
  // whose answer is still on its way: renewing it (or waiting for the
  // renewal under way) gives a token that does. Revoked for good: the
  // refusal of the renewal signs out.
  if (!session()) return;
  refresh().then(connect, () => {
    if (session()) logout().catch(failed);
  });
});

let signedIn = session()?.user.id ?? null;
onSession((next) => {
  navigation();
  showConnection();
  const now = next?.user.id ?? null;
  if (now === signedIn) return;
  signedIn = now;
  if (now) {
    connect();
  } else {
    disconnect();
    go('/login', true);
  }
});

document.getElementById('booting')?.remove();
navigation();
showConnection();
if (session()) connect();
start(
  [
    { pattern: /^\/$/, view: roomsView, title: 'Rooms' },
    { pattern: /^\/login$/, view: loginView, open: true, title: 'Sign in' },
    { pattern: /^\/register$/, view: registerView, open: true, title: 'Create account' },
    { pattern: /^\/rooms\/([^/]+)$/, view: roomView, title: 'Room' },
    { pattern: /^\/playlists$/, view: playlistsView, title: 'Playlists' },
    { pattern: /^\/playlists\/(\d+)$/, view: playlistView, title: 'Playlist' },
    { pattern: /^\/search$/, view: searchView, title: 'Search' },
    { pattern: /^\/genres$/, view: genresView, title: 'Genres' },
  ],
  () => session() !== null,
);

