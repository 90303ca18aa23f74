// k6 scenario for users: listeners log in, open a room's queue, vote, and
// fetch audio the way players do (Safari's probe, then ranges).
// k6 is AGPL-licensed and not part of this repository's tooling; run it
// where you have it:  k6 run -e BASE_URL=http://127.0.0.1:8000 [-e EDGE_URL=http://127.0.0.1:8080] loadtest/k6/listen-together.js
import http from 'k6/http';
import { check, sleep } from 'k6';

const API = __ENV.BASE_URL || __ENV.API || 'http://127.0.0.1:8000';
// Where players reach the edge, when the load machine sees it under another
// origin than EDGE_PUBLIC_URL says (the signed path and query stay).
const EDGE = __ENV.EDGE_URL;
const onEdge = (url) => (EDGE ? url.replace(/^https?:\/\/[^/]+/, EDGE) : url);

export const options = {
  scenarios: {
    listeners: { executor: 'ramping-vus', startVUs: 1, stages: [{ duration: '30s', target: 50 }, { duration: '1m', target: 50 }] },
  },
  thresholds: { http_req_failed: ['rate<0.01'], http_req_duration: ['p(99)<250'] },
};

export function setup() {
  const login = http.post(`${API}/api/auth/login`, JSON.stringify({ email: 'demo@spotik.local', password: 'spotik-demo' }), {
    headers: { 'Content-Type': 'application/json' },
  });
  const token = login.json('data.token');
  const rooms = http.get(`${API}/api/rooms`, { headers: { Authorization: `Bearer ${token}` } });
  return { token, room: rooms.json('data.0.id') };
}

export default function ({ token, room }) {
  const auth = { headers: { Authorization: `Bearer ${token}` } };
  const queue = http.get(`${API}/api/rooms/${room}/tracks`, auth);
  check(queue, { 'queue 200': (r) => r.status === 200 });
  const tracks = queue.json('tracks') || [];
  if (tracks.length > 0) {
    const track = tracks[Math.floor(Math.random() * tracks.length)];
    http.post(`${API}/api/rooms/${room}/tracks/${track.id}/vote`, '{}', { headers: { ...auth.headers, 'Content-Type': 'application/json' } });
    // A player: Safari's 2-byte probe, then the file in 256 KiB ranges.
    const url = onEdge(track.file_url);
    const probe = http.get(url, { headers: { Range: 'bytes=0-1' } });
    check(probe, { 'probe 206': (r) => r.status === 206 });
    const size = Number((probe.headers['Content-Range'] || '/0').split('/')[1]);
    for (let offset = 0; offset < size; offset += 262144) {
      const chunk = http.get(url, { headers: { Range: `bytes=${offset}-${Math.min(offset + 262143, size - 1)}` } });
      check(chunk, { 'range 206': (r) => r.status === 206 });
    }
  }
  http.get(`${API}/api/time`);
  sleep(1);
}
