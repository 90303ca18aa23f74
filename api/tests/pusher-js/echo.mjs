// What both scripts share: the test's settings from the environment, and
// laravel-echo over pusher-js configured as the Vue front end configures it
// in Pusher mode (stores/websocket.js): only the `ws` transport, its
// timeouts, and channel authorisation at /api/broadcasting/auth with the
// bearer token. The names the front end listens to, with no leading dot
// (so Echo adds its App\Events namespace).
import Pusher from 'pusher-js';
import EchoModule from 'laravel-echo';

// laravel-echo's CommonJS build exports the class as `default`.
const Echo = EchoModule.default ?? EchoModule;

export const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

export const frontEndEcho = () =>
  new Echo({
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

export const ROOM_EVENTS = [
  'user.joined', 'user.left', 'track.added', 'track.voted',
  'playback.started', 'playback.paused', 'playback.resumed',
  'track.skipped', 'TrackRemoved', 'RoomUpdated',
];

// Ends the script when the test closes its stdin (and after two minutes
// whatever happens, so that no node outlives a test).
export const exitWithStdin = (echo) => {
  process.stdin.on('end', () => {
    echo.disconnect();
    process.exit(0);
  });
  process.stdin.resume();
  setTimeout(() => process.exit(2), 120000);
};
