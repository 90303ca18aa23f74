// Listens to a Spotik room the way the Vue front end does in Pusher mode:
// laravel-echo over pusher-js, a private channel authorised through
// /api/broadcasting/auth with the bearer token, `.listen()` on the names the
// front end uses (no leading dot, so Echo adds its App\Events namespace), plus
// the room's presence channel. Every callback prints one JSON line on stdout;
// the Rust test reads them. Exits when stdin closes.
import Pusher from 'pusher-js';
import EchoModule from 'laravel-echo';

// laravel-echo's CommonJS build exports the class as `default`.
const Echo = EchoModule.default ?? EchoModule;

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const print = (line) => process.stdout.write(JSON.stringify(line) + '\n');

const echo = new Echo({
  broadcaster: 'pusher',
  Pusher,
  key: env('SPOTIK_KEY'),
  cluster: 'mt1',
  wsHost: env('SPOTIK_WS_HOST'),
  wsPort: Number(env('SPOTIK_WS_PORT')),
  forceTLS: false,
  enabledTransports: ['ws'],
  activityTimeout: 120000,
  pongTimeout: 30000,
  authEndpoint: `${env('SPOTIK_API')}/broadcasting/auth`,
  auth: { headers: { Authorization: `Bearer ${env('SPOTIK_TOKEN')}` } },
});

const room = env('SPOTIK_ROOM');
// Exactly the names of the front end's stores/websocket.js.
const names = [
  'user.joined', 'user.left', 'track.added', 'track.voted',
  'playback.started', 'playback.paused', 'playback.resumed',
  'track.skipped', 'TrackRemoved', 'RoomUpdated',
];
const channel = echo.private(`room.${room}`);
for (const name of names) {
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
process.stdin.on('end', () => {
  echo.disconnect();
  process.exit(0);
});
process.stdin.resume();
setTimeout(() => process.exit(2), 120000);
