// A server of audio files that answers `Range` requests as the edge does,
// and of the sync engine's modules, for pages that open sources
// (tests/pieces.mjs, loadtest/web/late-pieces.mjs). Counts the bytes it
// serves per path, by range and whole apart.
import { readFileSync } from 'node:fs';
import http from 'node:http';

const source = new URL('../src/sync/', import.meta.url);

/**
 * Serves `files` (path → bytes) on a free port of 127.0.0.1.
 * @param {Record<string, Uint8Array>} files
 */
export async function rangeServer(files) {
  /** Bytes answered to ranges, and to whole requests, per path. */
  const ranged = {};
  const whole = {};
  const server = http.createServer((request, response) => {
    if (request.url === '/') return response.writeHead(200, { 'Content-Type': 'text/html' }).end('<!doctype html><title>sources</title>');
    const path = request.url ?? '';
    const file = files[path];
    if (file) {
      const [, from, to] = /bytes=(\d+)-(\d+)/.exec(request.headers.range ?? '') ?? [];
      if (from === undefined) {
        whole[path] = (whole[path] ?? 0) + file.length;
        return response.writeHead(200, { 'Content-Length': file.length }).end(file);
      }
      const end = Math.min(Number(to), file.length - 1);
      ranged[path] = (ranged[path] ?? 0) + end - Number(from) + 1;
      return response
        .writeHead(206, { 'Content-Range': `bytes ${from}-${end}/${file.length}`, 'Content-Length': end - Number(from) + 1 })
        .end(file.subarray(Number(from), end + 1));
    }
    try {
      const body = readFileSync(new URL(path.slice(1), source));
      response.writeHead(200, { 'Content-Type': 'text/javascript' }).end(body);
    } catch {
      response.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  const address = /** @type {import('node:net').AddressInfo} */ (server.address());
  return { base: `http://127.0.0.1:${address.port}`, ranged, whole, close: () => server.close() };
}
