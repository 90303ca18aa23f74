// A fresh page load of a room that is already playing, by a user who does
// not take part in it yet, in the order the Vue front end makes its calls in
// Pusher mode (laravel-echo over pusher-js):
//   1. the signed-in app opens its socket as it starts;
//   2. the room page asks for the room (GET /rooms/{id}: is_participant false);
//   3. holding the room, with its socket up, it subscribes to the room's
//      channel (POST /broadcasting/auth goes out at once) ...
//   4. ... while it auto-joins the room (POST /rooms/{id}/join), which a
//      browser sends a moment later: the authorisation arrives first;
//   5. once joined, it asks for the room channel again, and laravel-echo
//      hands back the channel it already has: a refused subscription is
//      never tried again.
// Every step and every room event prints one JSON line with `at`, its
// milliseconds since the start; the Rust test (tests/api/pusher_js.rs)
// reads them. Exits when stdin closes.
import { env, exitWithStdin, frontEndEcho, ROOM_EVENTS } from './echo.mjs';

const started = Date.now();
const print = (line) => process.stdout.write(JSON.stringify({ ...line, at: Date.now() - started }) + '\n');
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const apiBase = env('SPOTIK_API');
const token = env('SPOTIK_TOKEN');
const room = env('SPOTIK_ROOM');
const call = async (method, path) => {
  const response = await fetch(`${apiBase}${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' },
  });
  return { status: response.status, body: await response.json() };
};

// 1.
const echo = frontEndEcho();
const connection = echo.connector.pusher.connection;
const connected = new Promise((resolve) => {
  if (connection.state === 'connected') resolve();
  connection.bind('connected', resolve);
});

// 2.
const shown = await call('GET', `/rooms/${room}`);
print({ room: shown.status, is_participant: shown.body?.data?.is_participant ?? null });

// 3.
await connected;
const channel = echo.private(`room.${room}`);
for (const name of ROOM_EVENTS) {
  channel.listen(name, (data) => print({ via: 'echo', name, data }));
}
channel.subscribed(() => print({ subscribed: `private-room.${room}` }));
channel.error((error) => print({ error }));

// 4.
await sleep(100);
const joined = await call('POST', `/rooms/${room}/join`);
print({ joined: joined.status });

// 5.
const again = echo.private(`room.${room}`);
print({ ready: true, same_channel: again === channel });

exitWithStdin(echo);
