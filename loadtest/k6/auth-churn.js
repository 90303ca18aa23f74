// k6 scenario: login and refresh churn. Each iteration logs in, refreshes
// the token, asks who it is and logs out — the revocation path every
// replica checks. Our generator's equivalent: `scenarios --scenario auth`.
//   k6 run -e BASE_URL=http://127.0.0.1:8000 loadtest/k6/auth-churn.js
import http from 'k6/http';
import { check } from 'k6';

const API = __ENV.BASE_URL || 'http://127.0.0.1:8000';
const json = { 'Content-Type': 'application/json' };

export const options = {
  scenarios: { churn: { executor: 'constant-vus', vus: 20, duration: '1m' } },
  // Logins hash a password (Argon2id): their time is the hash's.
  thresholds: { http_req_failed: ['rate<0.01'], 'http_req_duration{name:refresh}': ['p(99)<100'] },
};

export function setup() {
  const users = [];
  for (let i = 0; i < 20; i++) {
    const name = `churn${i}x${Date.now()}`;
    const password = 'load-password-1';
    http.post(`${API}/api/auth/register`, JSON.stringify({ username: name, email: `${name}@load.test`, password, password_confirmation: password }), { headers: json });
    users.push({ email: `${name}@load.test`, password });
  }
  return { users };
}

export default function ({ users }) {
  const user = users[(__VU - 1) % users.length];
  const login = http.post(`${API}/api/auth/login`, JSON.stringify(user), { headers: json, tags: { name: 'login' } });
  check(login, { 'login 200': (r) => r.status === 200 });
  let token = login.json('data.token');
  const refresh = http.post(`${API}/api/auth/refresh`, null, { headers: { Authorization: `Bearer ${token}` }, tags: { name: 'refresh' } });
  check(refresh, { 'refresh 200': (r) => r.status === 200 });
  token = refresh.json('data.token') || token;
  check(http.get(`${API}/api/auth/me`, { headers: { Authorization: `Bearer ${token}` } }), { 'me 200': (r) => r.status === 200 });
  const logout = http.post(`${API}/api/auth/logout`, null, { headers: { Authorization: `Bearer ${token}` } });
  check(logout, { 'logout 200': (r) => r.status === 200 });
  check(http.get(`${API}/api/auth/me`, { headers: { Authorization: `Bearer ${token}` } }), { 'revoked 401': (r) => r.status === 401 });
}
