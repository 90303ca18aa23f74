// The benchmark's bad link must keep a stream's bytes in order whatever
// its jitter and loss, as TCP does: a proxy that swapped two chunks
// scrambled the audio the pages fetched (loadtest/RESULTS.md). Run by
// ./deploy/test with node's test runner.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { parseLink, startLink } from './link.mjs';

test('a jittery, lossy link delivers every byte in order', async () => {
  const proxy = await startLink(parseLink('20±15~5%'));
  const received = [];
  const done = new Promise((resolve) => {
    const server = net.createServer((socket) => {
      socket.on('data', (chunk) => received.push(chunk));
      socket.on('end', () => {
        server.close();
        resolve(undefined);
      });
    });
    server.listen(0, '127.0.0.1', () => {
      const client = net.connect(proxy.port, '127.0.0.1', () => {
        client.write(`CONNECT 127.0.0.1:${/** @type {net.AddressInfo} */ (server.address()).port} HTTP/1.1\r\n\r\n`);
        client.once('data', async () => {
          // 600 chunks of a counting byte pattern, written as fast as the
          // event loop turns: many fall due within a millisecond of another.
          for (let i = 0; i < 600; i += 1) {
            client.write(Buffer.from(Array.from({ length: 500 }, (_, k) => (i * 500 + k) % 251)));
            if (i % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
          }
          client.end();
        });
      });
    });
  });
  await done;
  proxy.close();
  const bytes = Buffer.concat(received);
  assert.equal(bytes.length, 600 * 500);
  const misplaced = bytes.findIndex((byte, i) => byte !== i % 251);
  assert.equal(misplaced, -1, `the first byte out of place is at ${misplaced}`);
});
