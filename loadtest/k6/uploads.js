// k6 scenario: upload bursts. Virtual users upload a short WAV file to the
// demo room as fast as the API takes them (it probes each file, stores it
// and announces it). Our generator's equivalent: `scenarios --scenario uploads`.
//   k6 run -e BASE_URL=http://127.0.0.1:8000 -e FILE=shared/fixtures/audio/tone-1500ms.wav loadtest/k6/uploads.js
import http from 'k6/http';
import { check } from 'k6';

const API = __ENV.BASE_URL || 'http://127.0.0.1:8000';
const audio = open(__ENV.FILE || '../../shared/fixtures/audio/tone-1500ms.wav', 'b');

export const options = {
  scenarios: { burst: { executor: 'constant-arrival-rate', rate: 20, timeUnit: '1s', duration: '30s', preAllocatedVUs: 20 } },
  thresholds: { http_req_failed: ['rate<0.01'], 'http_req_duration{name:upload}': ['p(95)<1000'] },
};

export function setup() {
  const login = http.post(`${API}/api/auth/login`, JSON.stringify({ email: 'demo@spotik.local', password: 'spotik-demo' }), { headers: { 'Content-Type': 'application/json' } });
  const token = login.json('data.token');
  const rooms = http.get(`${API}/api/rooms`, { headers: { Authorization: `Bearer ${token}` } });
  return { token, room: rooms.json('data.0.id') };
}

export default function ({ token, room }) {
  const form = { audio_file: http.file(audio, `burst-${__VU}-${__ITER}.wav`, 'audio/wav') };
  const upload = http.post(`${API}/api/rooms/${room}/tracks`, form, { headers: { Authorization: `Bearer ${token}` }, tags: { name: 'upload' } });
  check(upload, { 'upload 201': (r) => r.status === 201 && r.json('track.id') !== undefined });
}
