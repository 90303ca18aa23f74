// k6 scenario for users: many listeners hold the demo room's native WebSocket
// (/ws?token=…, join_room) while one administrator votes; checks that every
// listener hears each vote. Our own measured figures come from
// loadtest/compare-hub (k6 is AGPL-licensed and not run here):
//   k6 run -e BASE_URL=http://127.0.0.1:8000 -e LISTENERS=500 loadtest/k6/room-events.js
import http from 'k6/http';
import ws from 'k6/ws';
import { check, sleep } from 'k6';
import { Counter, Trend } from 'k6/metrics';

const API = __ENV.BASE_URL || __ENV.API || 'http://127.0.0.1:8000';
const WS = API.replace(/^http/, 'ws');
const LISTENERS = Number(__ENV.LISTENERS || 200);
const heard = new Counter('track_voted_heard');
const eventAge = new Trend('track_voted_age_ms', true);

export const options = {
  scenarios: {
    listeners: { executor: 'constant-vus', vus: LISTENERS, duration: '1m', exec: 'listen' },
    voter: { executor: 'constant-arrival-rate', rate: 5, timeUnit: '1s', duration: '50s', startTime: '5s', preAllocatedVUs: 2, exec: 'vote' },
  },
  thresholds: { track_voted_age_ms: ['p(99)<250'], checks: ['rate>0.99'] },
};

export function setup() {
  const login = http.post(`${API}/api/auth/login`, JSON.stringify({ email: 'demo@spotik.local', password: 'spotik-demo' }), {
    headers: { 'Content-Type': 'application/json' },
  });
  const token = login.json('data.token');
  const auth = { headers: { Authorization: `Bearer ${token}` } };
  const room = http.get(`${API}/api/rooms`, auth).json('data.0.id');
  const track = http.get(`${API}/api/rooms/${room}/tracks`, auth).json('tracks.0.id');
  return { token, room, track };
}

export function listen({ token, room }) {
  const response = ws.connect(`${WS}/ws?token=${token}`, {}, (socket) => {
    socket.on('open', () => socket.send(JSON.stringify({ type: 'join_room', data: { room_id: room } })));
    socket.on('message', (raw) => {
      const message = JSON.parse(raw);
      if (message.type === 'track_voted') {
        heard.add(1);
        eventAge.add(Date.now() - message.data.server_time);
      }
    });
    socket.setTimeout(() => socket.close(), 55000);
  });
  check(response, { 'upgraded (101)': (r) => r && r.status === 101 });
}

let up = true;
export function vote({ token, room, track }) {
  const params = { headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' } };
  const url = `${API}/api/rooms/${room}/tracks/${track}/vote`;
  const response = up ? http.post(url, '{}', params) : http.del(url, null, params);
  up = !up;
  check(response, { 'vote 200': (r) => r.status === 200 });
  sleep(0.1);
}
