// k6 scenario: an administrator driving playback (play, pause, resume,
// skip) while listeners read the playback status. Our generator's
// equivalent: `scenarios --scenario playback`.
//   k6 run -e BASE_URL=http://127.0.0.1:8000 loadtest/k6/playback.js
import http from 'k6/http';
import { check, sleep } from 'k6';

const API = __ENV.BASE_URL || 'http://127.0.0.1:8000';
const json = { 'Content-Type': 'application/json' };

export const options = {
  scenarios: {
    admin: { executor: 'constant-vus', vus: 1, duration: '1m', exec: 'drive' },
    listeners: { executor: 'constant-vus', vus: 50, duration: '1m', exec: 'listen' },
  },
  thresholds: { http_req_failed: ['rate<0.01'], 'http_req_duration{name:status}': ['p(99)<100'] },
};

export function setup() {
  const login = http.post(`${API}/api/auth/login`, JSON.stringify({ email: 'demo@spotik.local', password: 'spotik-demo' }), { headers: json });
  const token = login.json('data.token');
  const auth = { headers: { ...json, Authorization: `Bearer ${token}` } };
  const room = http.get(`${API}/api/rooms`, auth).json('data.0.id');
  const tracks = (http.get(`${API}/api/rooms/${room}/tracks`, auth).json('tracks') || []).map((t) => t.id);
  return { token, room, tracks };
}

export function drive({ token, room, tracks }) {
  const auth = { headers: { ...json, Authorization: `Bearer ${token}` } };
  const track = tracks[__ITER % tracks.length];
  check(http.post(`${API}/api/rooms/${room}/tracks/${track}/play`, '{}', auth), { 'play 200': (r) => r.status === 200 });
  for (const op of ['pause', 'resume', 'skip']) {
    check(http.post(`${API}/api/rooms/${room}/playback/${op}`, '{}', auth), { [`${op} 200`]: (r) => r.status === 200 });
    sleep(0.2);
  }
}

export function listen({ token, room }) {
  const status = http.get(`${API}/api/rooms/${room}/playback/status`, { headers: { Authorization: `Bearer ${token}` }, tags: { name: 'status' } });
  check(status, { 'status 200': (r) => r.status === 200 });
  sleep(0.5);
}
