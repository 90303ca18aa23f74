// A bad network link in user space (this machine's kernel has no netem): an
// HTTP forward proxy that a browser context is pointed at, so that all of a
// page's traffic — its API calls, its socket, its audio from the edge —
// crosses it. Each direction is delayed by its own base delay plus jitter,
// order kept (TCP never reorders); a "lost" packet is what TCP makes of it:
// that chunk and everything behind it wait for a retransmission (200 ms,
// Linux's minimum RTO).
//
// Plain HTTP requests are sent one per connection (`Connection: close`),
// since a browser may send requests for several hosts down one proxy
// connection and this proxy reads only the first head; WebSocket upgrades
// and CONNECT tunnels are piped whole.

import net from 'node:net';

/**
 * "5±1" or "10±2/40±10" (up/down, ms), with an optional "~1%" loss.
 * @param {string} text
 */
export function parseLink(text) {
  const [shape, lossText] = text.split('~');
  const [up, down = up] = shape.split('/').map((part) => {
    const [base, jitter = '0'] = part.split('±');
    return { base: Number(base), jitter: Number(jitter) };
  });
  return { up, down, loss: lossText ? Number(lossText.replace('%', '')) / 100 : 0 };
}

/**
 * One direction: chunks leave in order, each no earlier than its delay.
 * One queue and one timer, not a timer per chunk: node's timers count from
 * the event loop's millisecond, not the chunk's instant, so two chunks due
 * within a millisecond of each other could leave swapped — scrambling the
 * bytes of a stream (a WAV piece played from the wrong place, or its
 * samples' bytes swapped into loud noise), which no real link does.
 */
function lane(to, { base, jitter }, loss) {
  /** @type {{ due: number, chunk: Buffer | null }[]} chunk null: the end */
  const queue = [];
  let last = 0;
  let timer = null;
  let ending = false;
  const flush = () => {
    timer = null;
    const now = performance.now();
    while (queue.length && queue[0].due <= now) {
      const { chunk } = /** @type {{ due: number, chunk: Buffer | null }} */ (queue.shift());
      if (to.destroyed) continue;
      if (chunk) to.write(chunk);
      else to.end();
    }
    if (queue.length) timer = setTimeout(flush, Math.max(0, queue[0].due - now));
  };
  const push = (due, chunk) => {
    queue.push({ due, chunk });
    if (!timer) timer = setTimeout(flush, Math.max(0, queue[0].due - performance.now()));
  };
  return {
    send(chunk) {
      const now = performance.now();
      // Jitter as queueing: never below the base, uniform up to twice it.
      let due = now + base + Math.random() * 2 * jitter;
      if (Math.random() < loss) due += 200;
      due = Math.max(due, last);
      last = due;
      push(due, chunk);
    },
    end() {
      if (ending) return;
      ending = true;
      push(Math.max(last, performance.now()), null);
    },
  };
}

/** Pipes `client` ⇄ `server` through the link; `first` goes up before anything else. */
function join(client, server, link, first) {
  const up = lane(server, link.up, link.loss);
  const down = lane(client, link.down, link.loss);
  if (first.length) up.send(first);
  client.on('data', (chunk) => up.send(chunk));
  server.on('data', (chunk) => down.send(chunk));
  // An end travels like data (after what is still on its way); an abrupt
  // close too, a moment later.
  client.on('end', () => up.end());
  server.on('end', () => down.end());
  client.on('close', () => setTimeout(() => server.destroy(), 2_000));
  server.on('close', () => setTimeout(() => client.destroy(), 2_000));
  client.on('error', () => {});
  server.on('error', () => {});
  client.resume();
}

/** Reads the first request head, connects to its target, then joins. */
function serve(client, link) {
  let buffered = Buffer.alloc(0);
  const onData = (chunk) => {
    buffered = Buffer.concat([buffered, chunk]);
    const end = buffered.indexOf('\r\n\r\n');
    if (end < 0) {
      if (buffered.length > 65_536) client.destroy();
      return;
    }
    client.off('data', onData);
    client.pause();
    const [requestLine, ...headers] = buffered.subarray(0, end).toString('latin1').split('\r\n');
    const rest = buffered.subarray(end + 4);
    const [method, target] = requestLine.split(' ');
    if (method === 'CONNECT') {
      const [host, port] = target.split(':');
      const server = net.connect(Number(port), host, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        join(client, server, link, rest);
      });
      server.on('error', () => client.destroy());
      return;
    }
    const url = new URL(target);
    const upgrade = headers.some((h) => /^upgrade:/i.test(h));
    const kept = headers.filter((h) => !/^proxy-/i.test(h) && (upgrade || !/^connection:/i.test(h)));
    if (!upgrade) kept.push('Connection: close');
    const head = Buffer.from(`${method} ${url.pathname}${url.search} HTTP/1.1\r\n${kept.join('\r\n')}\r\n\r\n`, 'latin1');
    const server = net.connect(Number(url.port || 80), url.hostname, () => join(client, server, link, Buffer.concat([head, rest])));
    server.on('error', () => client.destroy());
  };
  client.on('data', onData);
  client.on('error', () => {});
}

/**
 * Starts a proxy with `link`'s character.
 * @param {ReturnType<typeof parseLink>} link
 * @returns {Promise<{ port: number, close: () => void }>}
 */
export function startLink(link) {
  const proxy = net.createServer((client) => serve(client, link));
  return new Promise((resolve) => proxy.listen(0, '127.0.0.1', () => resolve({ port: proxy.address().port, close: () => proxy.close() })));
}
