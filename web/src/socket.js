// The native real-time socket (`/ws?token=…&room=…`, docs/realtime.md):
// one per page, joined to the room on screen and opened for it, so that
// the front can give a room's sockets one replica (a consistent hash of
// `room`) and the room's events cross the bus to that replica only. A
// page that opened its socket elsewhere (the rooms list) joins at once on
// that socket and moves to one opened for the room in the background. It
// reconnects by itself (backing off up to 10 s, with jitter so that a
// restarted server is not met by every page at once) and joins the room
// again; `room_joined` carries the room's `seq`, so a listener can tell
// that it missed events and catch up.

import { session } from './session.js';

/** @typedef {'connecting' | 'open' | 'reconnecting' | 'closed'} SocketState */
/** @typedef {{ type: string, data: any }} Message */

/** @type {WebSocket | null} */
let socket = null;
/** @type {string | null} */
let room = null;
/** The room `socket` was opened for (its `?room=`). @type {string | null} */
let openedFor = null;
/** A socket opened for the room on screen, taking over from `socket`. @type {WebSocket | null} */
let successor = null;
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

/**
 * A socket to the server, for `forRoom` when there is one.
 * @param {string} token
 * @param {string | null} forRoom
 */
function dial(token, forRoom) {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const params = new URLSearchParams({ token });
  if (forRoom) params.set('room', forRoom);
  return new WebSocket(`${scheme}://${location.host}/ws?${params}`);
}

/**
 * A frame's message; null for one that is not JSON.
 * @param {MessageEvent} event
 * @returns {Message | null}
 */
function parse(event) {
  try {
    return JSON.parse(String(event.data));
  } catch {
    return null;
  }
}

/** A message goes to every listener, with the page's clock when it arrived. */
function deliver(/** @type {Message} */ message, /** @type {number} */ receivedAt) {
  for (const listener of messageListeners) listener(message, receivedAt);
}

/**
 * Opens a socket for the room on screen beside the one in use; once it
 * is established and joined it becomes the one in use, and the old one
 * leaves the room and closes a second later (clock exchanges in flight on
 * it are still answered). If it fails, the old one simply stays.
 */
function moveToRoom() {
  const token = session()?.token;
  const target = room;
  if (!token || !target || successor) return;
  const next = dial(token, target);
  successor = next;
  next.onmessage = (event) => {
    const receivedAt = performance.now();
    const message = parse(event);
    if (!message) return;
    if (message.type === 'connection_established' && successor === next) {
      successor = null;
      if (room !== target || socket?.readyState !== WebSocket.OPEN) {
        next.close(1000, 'not needed');
        return;
      }
      next.send(JSON.stringify({ type: 'join_room', data: { room_id: target } }));
      const old = socket;
      socket = next;
      openedFor = target;
      next.onclose = closed(next, token);
      old.send(JSON.stringify({ type: 'leave_room', data: {} }));
      window.setTimeout(() => old.close(1000, 'moved to its room'), 1000);
    }
    deliver(message, receivedAt);
  };
  next.onclose = () => {
    if (successor === next) successor = null;
  };
}

function open() {
  const token = session()?.token;
  if (!token || socket) return;
  become(attempts === 0 ? 'connecting' : 'reconnecting');
  const opened = dial(token, room);
  socket = opened;
  openedFor = room;
  opened.onmessage = (event) => {
    const receivedAt = performance.now();
    const message = parse(event);
    if (!message) return;
    if (message.type === 'connection_established') {
      attempts = 0;
      become('open');
      if (room) send({ type: 'join_room', data: { room_id: room } });
      // Opened before the room was known (a page loaded on a room's link).
      if (room && openedFor !== room) moveToRoom();
    }
    deliver(message, receivedAt);
  };
  opened.onclose = closed(opened, token);
  // Proxies close idle sockets; the server answers `ping` with `pong`.
  heartbeat = window.setInterval(() => send({ type: 'ping', data: {} }), 25_000);
}

/**
 * What to do when the socket in use closes: reconnect with backoff, or
 * give up when the session is over.
 * @param {WebSocket} opened
 * @param {string} token the token it was opened with
 */
function closed(opened, token) {
  return (/** @type {CloseEvent} */ event) => {
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
  successor?.close(1000, 'signed out');
  successor = null;
  become('closed');
}

/** Follows `id`'s events (and only its): joins now, and after each reconnect. */
export function joinRoom(/** @type {string} */ id) {
  room = id;
  if (!socket) connect();
  else if (send({ type: 'join_room', data: { room_id: id } }) && openedFor !== id) moveToRoom();
}

export function leaveRoom() {
  if (room) send({ type: 'leave_room', data: {} });
  room = null;
}

// Back online or shown again: try now rather than at the backoff's end.
addEventListener('online', () => {
  if (!socket && session()) connect();
});
