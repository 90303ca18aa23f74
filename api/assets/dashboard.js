// Spotik's live dashboard: polls /dashboard/data, turns the counters of two
// successive polls into rates and percentiles of that interval, and draws
// them as SVG line charts. No library, nothing fetched from elsewhere.
"use strict";

const params = new URLSearchParams(location.search);
const EVERY_MS = Math.max(500, Number(params.get("every")) || 2000);
const KEEP = 150; // points per series: five minutes at the default rate
const COLOURS = ["var(--a)", "var(--b)", "var(--c)", "var(--d)", "var(--e)"];
const SVG = "http://www.w3.org/2000/svg";

let token = params.get("token") || sessionStorage.getItem("spotik-dashboard-token") || "";
if (params.get("token")) {
  sessionStorage.setItem("spotik-dashboard-token", token);
  history.replaceState(null, "", location.pathname); // keep the token out of the address bar
}

const series = {}; // chart id -> { name -> [[t, value]] }
let previous = null;

function push(chart, name, t, value) {
  const lines = (series[chart] ||= {});
  const points = (lines[name] ||= []);
  points.push([t, Number.isFinite(value) ? value : null]);
  if (points.length > KEEP) points.shift();
}

// The smallest bound under which `q` of the observations between two
// cumulative histograms fall; `total` counts those over every bound too.
function quantile(before, after, q, totalBefore, totalAfter) {
  const total = totalAfter - totalBefore;
  if (!(total > 0)) return null;
  for (let i = 0; i < after.length; i++) {
    const below = after[i][1] - (before[i] ? before[i][1] : 0);
    if (below >= q * total) return after[i][0];
  }
  return after.length ? after[after.length - 1][0] * 2 : null;
}

// Non-cumulative [bound, count] pairs to cumulative ones, and their total.
function cumulative(pairs) {
  let running = 0;
  return { buckets: pairs.map(([le, n]) => [le, (running += n)]), total: running };
}

function sumHistograms(summaries) {
  const total = [];
  for (const s of summaries) {
    s.buckets.forEach(([le, n], i) => { total[i] = [le, (total[i] ? total[i][1] : 0) + n]; });
  }
  const extra = summaries.reduce((a, s) => a + s.count, 0) - total.reduce((a, b) => a + b[1], 0);
  const c = cumulative(total);
  return { buckets: c.buckets, total: c.total + Math.max(0, extra) };
}

function edgeTotals(edges) {
  const up = edges.filter((e) => e.up);
  const sum = (k) => up.reduce((a, e) => a + e[k], 0);
  const buckets = [];
  for (const e of up) e.latency_buckets.forEach(([le, n], i) => { buckets[i] = [le, (buckets[i] ? buckets[i][1] : 0) + n]; });
  return { up: up.length, of: edges.length, requests: sum("requests"), errors: sum("server_errors"),
           bytes: sum("bytes_sent"), hits: sum("cache_hits"), misses: sum("cache_misses"), buckets };
}

function text(id, value) { document.getElementById(id).textContent = value; }

function duration(seconds) {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

function take(data) {
  const t = data.at_ms / 1000;
  const api = data.api;
  const requests = api.requests;
  const edges = edgeTotals(data.edges);
  const delivery = sumHistograms(Object.values(api.websocket.delivery_seconds));
  const drift = cumulative(api.sync.drift_ms.buckets);
  const offset = cumulative(api.sync.clock_offset_ms.buckets);
  const now = { t, requests: requests.total, latency: data.latency_buckets, edges, delivery, drift, offset,
                cacheHits: api.cache.hits, cacheMisses: api.cache.misses, queries: api.database.queries };

  text("total-requests", requests.total.toLocaleString("en"));
  text("ws-connections", api.websocket.connections);
  text("edge-requests", edges.requests.toLocaleString("en"));
  text("edges-up", `${edges.up} / ${edges.of}`);
  text("uptime", duration(api.uptime_seconds));
  push("chart-ws", "connections", t, api.websocket.connections);
  push("chart-errors", "API 5xx last minute", t, requests.errors_last_minute);

  if (previous) {
    const dt = t - previous.t;
    const rate = (requests.total - previous.requests) / dt;
    text("request-rate", rate.toFixed(1));
    push("chart-rate", "API", t, rate);
    push("chart-rate", "edge", t, (edges.requests - previous.edges.requests) / dt);
    push("chart-errors", "edge 5xx / s", t, (edges.errors - previous.edges.errors) / dt);
    for (const q of [0.5, 0.95, 0.99]) {
      const v = quantile(previous.latency, now.latency, q, previous.requests, requests.total);
      push("chart-latency", `p${q * 100}`, t, v === null ? null : v * 1000);
      const e = quantile(previous.edges.buckets, edges.buckets, q, previous.edges.requests, edges.requests);
      if (q !== 0.95) push("chart-edge-latency", `p${q * 100}`, t, e === null ? null : e * 1000);
    }
    const reads = (api.cache.hits - previous.cacheHits) + (api.cache.misses - previous.cacheMisses);
    push("chart-cache", "API queue cache", t, reads > 0 ? 100 * (api.cache.hits - previous.cacheHits) / reads : null);
    const lookups = (edges.hits - previous.edges.hits) + (edges.misses - previous.edges.misses);
    push("chart-cache", "edge", t, lookups > 0 ? 100 * (edges.hits - previous.edges.hits) / lookups : null);
    for (const q of [0.5, 0.99]) {
      const v = quantile(previous.delivery.buckets, delivery.buckets, q, previous.delivery.total, delivery.total);
      push("chart-delivery", `p${q * 100}`, t, v === null ? null : v * 1000);
    }
    push("chart-drift", "drift p50", t, quantile(previous.drift.buckets, drift.buckets, 0.5, previous.drift.total, drift.total));
    push("chart-drift", "drift p95", t, quantile(previous.drift.buckets, drift.buckets, 0.95, previous.drift.total, drift.total));
    push("chart-drift", "offset p95", t, quantile(previous.offset.buckets, offset.buckets, 0.95, previous.offset.total, offset.total));
    for (const [kind, figures] of Object.entries(api.database.queries)) {
      const before = previous.queries[kind];
      const b = before ? cumulative(before.buckets) : { buckets: [], total: 0 };
      const a = cumulative(figures.buckets);
      const v = quantile(b.buckets, a.buckets, 0.95, before ? before.count : 0, figures.count);
      push("chart-db", kind, t, v === null ? null : v * 1000);
    }
  }
  push("chart-db", "pool open", t, api.database.pool_size);
  previous = now;

  drawRoutes(requests.by_route);
  drawAlerts(data.alerts);
  for (const id of Object.keys(series)) draw(id);
  const updated = document.getElementById("updated");
  updated.textContent = `live · updated ${new Date(data.at_ms).toLocaleTimeString()}`;
  updated.className = "";
}

function element(name, attributes, parent) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attributes)) e.setAttribute(k, v);
  parent.appendChild(e);
  return e;
}

function draw(id) {
  const svg = document.getElementById(id);
  const lines = series[id];
  const width = svg.clientWidth || 420, height = svg.clientHeight || 180, left = 44, bottom = 16;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.replaceChildren();
  const all = Object.values(lines).flat().filter((p) => p[1] !== null);
  const t0 = Math.min(...Object.values(lines).flat().map((p) => p[0]));
  const t1 = Math.max(...Object.values(lines).flat().map((p) => p[0]), t0 + 0.001);
  // At least 1 tall: an all-zero chart reads 0 to 1, not 0 to nothing.
  const top = Math.max(1, ...all.map((p) => p[1])) * 1.1;
  const x = (t) => left + (width - left - 4) * (t - t0) / (t1 - t0);
  const y = (v) => (height - bottom) - (height - bottom - 6) * v / top;
  for (const f of [0, 0.5, 1]) {
    element("line", { x1: left, x2: width - 4, y1: y(top * f / 1.1), y2: y(top * f / 1.1), stroke: "#2a2f3a" }, svg);
    const label = element("text", { x: 2, y: y(top * f / 1.1) + 3 }, svg);
    label.textContent = formatNumber(top * f / 1.1);
  }
  const legend = document.querySelector(`.legend[data-for="${id}"]`);
  legend.replaceChildren();
  Object.entries(lines).forEach(([name, points], i) => {
    const colour = COLOURS[i % COLOURS.length];
    // A gap (no observation in an interval) breaks the line.
    let path = "", pen = "M";
    for (const [t, v] of points) {
      if (v === null) { pen = "M"; continue; }
      path += `${pen}${x(t).toFixed(1)},${y(v).toFixed(1)} `;
      pen = "L";
    }
    element("path", { d: path || "M0,0", fill: "none", stroke: colour, "stroke-width": 1.8, "data-series": name }, svg);
    const last = points.filter((p) => p[1] !== null).pop();
    const item = document.createElement("span");
    item.innerHTML = `<i style="background:${colour}"></i>`;
    item.append(`${name}: ${last ? formatNumber(last[1]) : "–"}`);
    legend.appendChild(item);
  });
}

function formatNumber(v) {
  if (v === 0) return "0";
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString("en");
  if (Math.abs(v) >= 10) return v.toFixed(0);
  if (Math.abs(v) >= 1) return v.toFixed(1);
  return v.toPrecision(2);
}

function drawRoutes(byRoute) {
  const svg = document.getElementById("routes");
  const width = svg.clientWidth || 420;
  const routes = Object.entries(byRoute).sort((a, b) => b[1].count - a[1].count).slice(0, 8);
  svg.setAttribute("viewBox", `0 0 ${width} 220`);
  svg.replaceChildren();
  const most = Math.max(1, ...routes.map(([, r]) => r.count));
  routes.forEach(([route, figures], i) => {
    const y = 6 + i * 26;
    element("rect", { x: 0, y, width: Math.max(2, (width - 70) * figures.count / most), height: 18, fill: "var(--a)", opacity: 0.35 }, svg);
    const label = element("text", { x: 6, y: y + 13, "data-route": route }, svg);
    label.textContent = route;
    label.style.fill = "var(--text)";
    const count = element("text", { x: width - 64, y: y + 13, "data-count": route }, svg);
    count.textContent = String(figures.count);
  });
}

function drawAlerts(alerts) {
  const list = document.getElementById("alerts");
  list.replaceChildren();
  if (!alerts.length) {
    const li = document.createElement("li");
    li.className = "none";
    li.textContent = "none";
    list.appendChild(li);
    return;
  }
  for (const alert of alerts) {
    const li = document.createElement("li");
    li.className = alert.level;
    li.textContent = `${alert.level}: ${alert.message}`;
    list.appendChild(li);
  }
}

function askForToken(why) {
  const form = document.getElementById("login");
  text("login-why", why);
  form.style.display = "block";
  form.onsubmit = (event) => {
    event.preventDefault();
    token = document.getElementById("token").value.trim();
    sessionStorage.setItem("spotik-dashboard-token", token);
    form.style.display = "none";
  };
}

async function poll() {
  try {
    const headers = token ? { Authorization: `Bearer ${token}` } : {};
    const answer = await fetch("/dashboard/data", { headers, cache: "no-store" });
    if (answer.status === 401 || answer.status === 403) {
      askForToken((await answer.json()).message || "This dashboard needs a token.");
    } else if (answer.ok) {
      take(await answer.json());
    } else {
      throw new Error(`answered ${answer.status}`);
    }
  } catch (error) {
    const updated = document.getElementById("updated");
    updated.textContent = `not updated: ${error.message}`;
    updated.className = "stale";
  }
  setTimeout(poll, EVERY_MS);
}

poll();
