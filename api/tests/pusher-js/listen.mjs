// Listens to a Spotik room the way the Vue front end does in Pusher mode:
// laravel-echo over pusher-js, a private channel authorised through
// /api/broadcasting/auth with the bearer token, `.listen()` on the names the
// front end uses (no leading dot, so Echo adds its App\Events namespace), plus
// the room's presence channel. Every callback prints one JSON line on stdout;
// the Rust test reads them. Exits when stdin closes.
import { env, exitWithStdin, frontEndEcho, ROOM_EVENTS } from './echo.mjs';

const print = (line) => process.stdout.write(JSON.stringify(line) + '\n');
const echo = frontEndEcho();

const room = env('SPOTIK_ROOM');
const channel = echo.private(`room.${room}`);
for (const name of ROOM_EVENTS) {
  channel.listen(name, (data) => print({ via: 'echo', name, data }));
}
channel.subscribed(() => print({ subscribed: `private-room.${room}` }));
channel.error((error) => print({ error }));

echo
  .join(`room.${room}`)
  .here((users) => print({ here: users }))
  .joining((user) => print({ joining: user }))
  .leaving((user) => print({ leaving: user }))
  .error((error) => print({ error }));

echo.connector.pusher.connection.bind('state_change', ({ current }) => print({ state: current }));
exitWithStdin(echo);
