// Calls to the Spotik API (same origin, `/api`), answered in its envelope
// `{success, message, data}`. Every failure becomes an ApiError carrying a
// sentence a person can read, and the per-field errors of a 422.

import { session } from './session.js';

export class ApiError extends Error {
  /**
   * @param {number} status 0 when the server could not be reached
   * @param {string} message
   * @param {Record<string, string[]>} [fields]
   * @param {string} [code]
   */
  constructor(status, message, fields, code) {
    super(message);
    this.status = status;
    this.fields = fields;
    this.code = code;
  }
}

/** @type {Set<(reachable: boolean) => void>} */
const reachability = new Set();

/** Told when calls start failing to reach the API, and when they reach it again. */
export function onReachable(/** @type {(reachable: boolean) => void} */ listener) {
  reachability.add(listener);
}

let reachable = true;
/** @param {boolean} now */
function reached(now) {
  if (now === reachable) return;
  reachable = now;
  for (const listener of reachability) listener(now);
}

/** @type {Set<(token: string) => void>} */
const expiry = new Set();
/** Told when the API refuses a token (expired or revoked), with that token. */
export function onUnauthorized(/** @type {(token: string) => void} */ listener) {
  expiry.add(listener);
}

/** @param {number} status */
function sentence(status) {
  if (status === 413) return 'That file is too large.';
  if (status === 429) return 'Too many tries: wait a moment and try again.';
  if (status >= 500) return 'Spotik had a problem answering. Try again in a moment.';
  return `The request failed (${status}).`;
}

/**
 * The error an answer carries.
 * @param {number} status
 * @param {any} body
 */
function failure(status, body) {
  const message = body && typeof body.message === 'string' && body.message ? body.message : sentence(status);
  const fields = body && typeof body.errors === 'object' && body.errors ? body.errors : undefined;
  return new ApiError(status, status === 429 && !body?.message ? sentence(429) : message, fields, body?.code);
}

/**
 * @param {string} method
 * @param {string} path under /api
 * @param {{ json?: unknown, form?: FormData, signal?: AbortSignal, token?: string }} [options]
 * @returns {Promise<any>} the whole answer (`data` and its siblings)
 */
export async function call(method, path, options = {}) {
  /** @type {Record<string, string>} */
  const headers = { Accept: 'application/json' };
  const token = options.token ?? session()?.token;
  if (token) headers.Authorization = `Bearer ${token}`;
  let body;
  if (options.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(options.json);
  } else if (options.form) {
    body = options.form;
  }
  let response;
  try {
    response = await fetch(`/api${path}`, { method, headers, body, signal: options.signal });
  } catch (error) {
    if (error instanceof DOMException && error.name === 'AbortError') throw error;
    reached(false);
    throw new ApiError(0, 'Spotik cannot be reached right now. Check your connection; it will reconnect by itself.');
  }
  reached(response.status !== 502 && response.status !== 503 && response.status !== 504);
  let answer = null;
  try {
    answer = await response.json();
  } catch {
    // Not JSON (a proxy's error page): the status says enough.
  }
  if (!response.ok) {
    if (response.status === 401 && token && path !== '/auth/login') for (const listener of expiry) listener(token);
    throw failure(response.status, answer);
  }
  return answer ?? {};
}

/** @param {string} path */
export const get = (path) => call('GET', path);
/** @param {string} path @param {unknown} [json] */
export const post = (path, json) => call('POST', path, { json: json ?? {} });
/** @param {string} path @param {unknown} json */
export const put = (path, json) => call('PUT', path, { json });
/** @param {string} path */
export const del = (path) => call('DELETE', path);

/**
 * A multipart upload that reports its progress (fetch cannot yet).
 * @param {string} path
 * @param {FormData} form
 * @param {(fraction: number) => void} progress
 * @returns {Promise<any>}
 */
export function upload(path, form, progress) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open('POST', `/api${path}`);
    request.setRequestHeader('Accept', 'application/json');
    const token = session()?.token;
    if (token) request.setRequestHeader('Authorization', `Bearer ${token}`);
    request.upload.onprogress = (event) => {
      if (event.lengthComputable) progress(event.loaded / event.total);
    };
    request.onload = () => {
      let answer = null;
      try {
        answer = JSON.parse(request.responseText);
      } catch {
        // As in call(): the status says enough.
      }
      reached(true);
      if (request.status >= 200 && request.status < 300) resolve(answer ?? {});
      else reject(failure(request.status, answer));
    };
    request.onerror = () => {
      reached(false);
      reject(new ApiError(0, 'The upload was cut off: Spotik cannot be reached. Try again once it is back.'));
    };
    request.send(form);
  });
}
