// The native real-time socket (`/ws?token=…`, docs/realtime.md): one per
// page, joined to the room on screen. It reconnects by itself (backing off
// up to 10 s, with jitter so that a restarted server is not met by every
// page at once) and joins the room again; `room_joined` carries the room's
// `seq`, so a listener can tell that it missed events and catch up.

import { session } from './session.js';

/** @typedef {'connecting' | 'open' | 'reconnecting' | 'closed'} SocketState */
/** @typedef {{ type: string, data: any }} Message */

/** @type {WebSocket | null} */
let socket = null;
/** @type {string | null} */
let room = null;
/** @type {SocketState} */
let state = 'closed';
let attempts = 0;
let retry = 0;
let heartbeat = 0;
/** @type {Set<(message: Message, receivedAt: number) => void>} */
const messageListeners = new Set();
/** @type {Set<(state: SocketState) => void>} */
const stateListeners = new Set();
/** @type {Set<() => void>} */
const refusedListeners = new Set();

/** @param {SocketState} next */
function become(next) {
  if (state === next) return;
  state = next;
  for (const listener of stateListeners) listener(next);
}

export const socketState = () => state;

/** @param {(state: SocketState) => void} listener */
export function onSocketState(listener) {
  stateListeners.add(listener);
  return () => stateListeners.delete(listener);
}

/**
 * Every message, with the page's clock (`performance.now()`) when it
 * arrived, read before anything else is done with it (clock exchanges).
 * @param {(message: Message, receivedAt: number) => void} listener
 */
export function onMessage(listener) {
  messageListeners.add(listener);
  return () => messageListeners.delete(listener);
}

/** Told when the server refuses the token (1008): the session is over. */
export function onRefused(/** @type {() => void} */ listener) {
  refusedListeners.add(listener);
}

/**
 * Sends now if the socket is open; whether it was.
 * @param {unknown} message
 */
export function send(message) {
  if (socket?.readyState !== WebSocket.OPEN) return false;
  socket.send(JSON.stringify(message));
  return true;
}

function open() {
  const token = session()?.token;
  if (!token || socket) return;
  become(attempts === 0 ? 'connecting' : 'reconnecting');
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const params = new URLSearchParams({ token });
  if (room) params.set('room', room);
  const opened = new WebSocket(`${scheme}://${location.host}/ws?${params}`);
  socket = opened;
  opened.onmessage = (event) => {
    const receivedAt = performance.now();
    /** @type {Message} */
    let message;
    try {
      message = JSON.parse(String(event.data));
    } catch {
      return;
    }
    if (message.type === 'connection_established') {
      attempts = 0;
      become('open');
      if (room) send({ type: 'join_room', data: { room_id: room } });
    }
    for (const listener of messageListeners) listener(message, receivedAt);
  };
  opened.onclose = (event) => {
    if (socket !== opened) return;
    socket = null;
    clearInterval(heartbeat);
    if (event.code === 1008 && state !== 'open' && session()?.token !== token) {
      // Refused with a token a refresh has replaced meanwhile: try the new one.
      retry = window.setTimeout(open, 0);
      return;
    }
    if (event.code === 1008 && state !== 'open') {
      // The token was refused at the door: the session decides what next.
      become('closed');
      for (const listener of refusedListeners) listener();
      return;
    }
    if (!session()) {
      become('closed');
      return;
    }
    attempts += 1;
    become('reconnecting');
    const delay = Math.min(10_000, 500 * 2 ** Math.min(attempts - 1, 5)) * (0.5 + Math.random() / 2);
    retry = window.setTimeout(open, delay);
  };
  // Proxies close idle sockets; the server answers `ping` with `pong`.
  heartbeat = window.setInterval(() => send({ type: 'ping', data: {} }), 25_000);
}

/** Opens the socket if it is not open (after sign-in, at start). */
export function connect() {
  clearTimeout(retry);
  open();
}

/** Closes it for good (sign-out). */
export function disconnect() {
  clearTimeout(retry);
  clearInterval(heartbeat);
  room = null;
  attempts = 0;
  const closing = socket;
  socket = null;
  closing?.close(1000, 'signed out');
  become('closed');
}

/** Follows `id`'s events (and only its): joins now, and after each reconnect. */
export function joinRoom(/** @type {string} */ id) {
  room = id;
  if (!socket) connect();
  else send({ type: 'join_room', data: { room_id: id } });
}

export function leaveRoom() {
  if (room) send({ type: 'leave_room', data: {} });
  room = null;
}

// Back online or shown again: try now rather than at the backoff's end.
addEventListener('online', () => {
  if (!socket && session()) connect();
});
