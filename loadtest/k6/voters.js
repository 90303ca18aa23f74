// k6 scenario: a room with many voters. Each virtual user registers, joins
// the demo room and votes and unvotes its tracks; checks every vote is
// answered with the new score. The same scenario, run here by our own
// generator: `scenarios --scenario voters` (loadtest/src/bin/scenarios.rs).
//   k6 run -e BASE_URL=http://127.0.0.1:8000 -e VOTERS=200 loadtest/k6/voters.js
import http from 'k6/http';
import { check } from 'k6';

const API = __ENV.BASE_URL || 'http://127.0.0.1:8000';
const VOTERS = Number(__ENV.VOTERS || 100);
const json = { 'Content-Type': 'application/json' };

export const options = {
  scenarios: { voters: { executor: 'per-vu-iterations', vus: VOTERS, iterations: 1, maxDuration: '2m' } },
  thresholds: { http_req_failed: ['rate<0.01'], 'http_req_duration{name:vote}': ['p(99)<100'] },
};

export function setup() {
  const login = http.post(`${API}/api/auth/login`, JSON.stringify({ email: 'demo@spotik.local', password: 'spotik-demo' }), { headers: json });
  const token = login.json('data.token');
  const rooms = http.get(`${API}/api/rooms`, { headers: { Authorization: `Bearer ${token}` } });
  return { room: rooms.json('data.0.id') };
}

export default function ({ room }) {
  const name = `voter${__VU}x${Date.now()}`;
  const password = 'load-password-1';
  const registered = http.post(`${API}/api/auth/register`, JSON.stringify({ username: name, email: `${name}@load.test`, password, password_confirmation: password }), { headers: json });
  const auth = { headers: { ...json, Authorization: `Bearer ${registered.json('data.token')}` } };
  http.post(`${API}/api/rooms/${room}/join`, '{}', auth);
  const tracks = http.get(`${API}/api/rooms/${room}/tracks`, auth).json('tracks') || [];
  for (let round = 0; round < 30; round++) {
    const track = tracks[round % tracks.length];
    const vote = http.post(`${API}/api/rooms/${room}/tracks/${track.id}/vote`, '{}', { ...auth, tags: { name: 'vote' } });
    check(vote, { 'vote counted': (r) => r.status === 200 && typeof r.json('vote_score') === 'number' });
    const unvote = http.del(`${API}/api/rooms/${room}/tracks/${track.id}/vote`, null, { ...auth, tags: { name: 'vote' } });
    check(unvote, { 'unvote counted': (r) => r.status === 200 });
  }
}
