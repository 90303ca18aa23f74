# `./deploy/run --cluster`: the topology of deploy/compose.yaml without
# Docker, on this machine. Private PostgreSQL and Redis with the tuned
# files (data under $demo/cluster), pgbouncer in front of PostgreSQL, two
# API and two edge replicas, a CDN node caching the edges' audio, and the
# nginx front with a self-signed certificate, all on free loopback ports. Sourced by deploy/run, which
# has built the binaries (and sourced deploy/lib/render.sh); Ctrl-C stops everything; running it again reuses
# the data.

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# initdb, postgres and pgbouncer refuse to run as root.
as_postgres() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
wait_for() { # $1 = what, then a command that succeeds once it is up
  local what=$1; shift
  for _ in $(seq 150); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "spotik cluster: $what did not start; see $cluster/logs" >&2
  return 1
}

run_cluster() {
  ensure_packages pgbouncer:pgbouncer nginx:nginx-light openssl:openssl envsubst:gettext-base \
    redis-server:redis-server psql:postgresql-client curl:curl python3:python3
  [ -x "$(pg_config --bindir 2>/dev/null)/initdb" ] || install_packages postgresql postgresql-common
  local bindir
  bindir=$(pg_config --bindir)
  cluster=$demo/cluster
  mkdir -p "$cluster/logs" "$cluster/redis" "$cluster/nginx" "$cluster/run"
  [ "$(id -u)" -ne 0 ] || chown postgres "$cluster" "$cluster/logs" "$cluster/run"

  local pg redis bouncer http https plain cdn api1 api2 edge1 edge2
  pg=$(free_port); redis=$(free_port); bouncer=$(free_port); http=$(free_port); https=$(free_port); plain=$(free_port); cdn=$(free_port)
  api1=$(free_port); api2=$(free_port); edge1=$(free_port); edge2=$(free_port)

  pids=()
  stop_cluster() {
    trap - EXIT INT TERM
    echo "==> stopping the cluster"
    kill "${pids[@]}" 2>/dev/null || true
    [ -f "$cluster/run/pgbouncer.pid" ] && kill "$(cat "$cluster/run/pgbouncer.pid")" 2>/dev/null || true
    as_postgres "$bindir/pg_ctl" -D "$cluster/postgres" -m fast -w stop >/dev/null 2>&1 || true
    wait 2>/dev/null || true
  }
  trap stop_cluster EXIT INT TERM

  echo "==> PostgreSQL (deploy/postgres/postgresql.conf) on 127.0.0.1:$pg"
  if [ ! -f "$cluster/postgres/PG_VERSION" ]; then
    mkdir -p "$cluster/postgres"
    [ "$(id -u)" -ne 0 ] || chown postgres "$cluster/postgres"
    as_postgres "$bindir/initdb" -D "$cluster/postgres" -U postgres -A trust >"$cluster/logs/initdb.log"
  fi
  cp deploy/postgres/postgresql.conf "$cluster/run/postgresql.conf"
  chmod 644 "$cluster/run/postgresql.conf"
  as_postgres "$bindir/pg_ctl" -D "$cluster/postgres" -w -l "$cluster/logs/postgres.log" \
    -o "-c config_file=$cluster/run/postgresql.conf -c hba_file=$cluster/postgres/pg_hba.conf -c listen_addresses=127.0.0.1 -p $pg -k $cluster/run" \
    start >/dev/null
  psql -h 127.0.0.1 -p "$pg" -U postgres -qtAc "SELECT 1 FROM pg_database WHERE datname = 'spotik'" | grep -q 1 \
    || psql -h 127.0.0.1 -p "$pg" -U postgres -qc "CREATE DATABASE spotik"
  psql -h 127.0.0.1 -p "$pg" -U postgres -d spotik -qc "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null

  echo "==> pgbouncer (deploy/pgbouncer/pgbouncer.ini) on 127.0.0.1:$bouncer"
  render_pgbouncer "$cluster/run" "$bouncer" "$pg" spotik
  as_postgres pgbouncer -q -d "$cluster/run/pgbouncer.ini"
  wait_for pgbouncer psql -h 127.0.0.1 -p "$bouncer" -U postgres spotik -qtAc 'select 1'

  echo "==> Redis (deploy/redis/redis.conf) on 127.0.0.1:$redis"
  redis-server deploy/redis/redis.conf --port "$redis" --bind 127.0.0.1 --dir "$cluster/redis" \
    --daemonize no >"$cluster/logs/redis.log" 2>&1 &
  pids+=($!)
  wait_for Redis redis-cli -p "$redis" ping

  export DATABASE_URL=postgres://postgres@127.0.0.1:$bouncer/spotik
  export REDIS_URL=redis://127.0.0.1:$redis
  export EDGE_PUBLIC_URL=https://127.0.0.1:$https
  export API_PUBLIC_URL=https://127.0.0.1:$https
  export EDGE_METRICS_URLS=http://127.0.0.1:$edge1/metrics,http://127.0.0.1:$edge2/metrics
  # The warm-up fills the CDN node's first slice of the next track (and so
  # opens it on an edge); the edges themselves are warmed for later slices.
  export EDGE_WARM_URLS=http://127.0.0.1:$cdn,http://127.0.0.1:$edge1,http://127.0.0.1:$edge2
  export FRONTEND_URL=https://127.0.0.1:$https
  # Two replicas × 20 stay within pgbouncer's 60 server connections.
  export DB_POOL_MAX=20
  echo "==> migrations and demo data"
  ./target/release/spotik-api seed >"$cluster/logs/seed.log" 2>&1
  [ -d "$MEDIA_ROOT/demo" ] || ./target/release/examples/demo_media "$MEDIA_ROOT" >/dev/null

  # What loadtest/chaos needs to find and restart each part.
  cat > "$cluster/run/cluster.env" <<EOT
PG_PORT=$pg REDIS_PORT=$redis BOUNCER_PORT=$bouncer HTTPS_PORT=$https PLAIN_PORT=$plain
API_PORTS="$api1 $api2" EDGE_PORTS="$edge1 $edge2" CDN_PORT=$cdn
PG_DATA=$cluster/postgres PG_BINDIR=$bindir REDIS_DIR=$cluster/redis
export DATABASE_URL=$DATABASE_URL REDIS_URL=$REDIS_URL EDGE_PUBLIC_URL=$EDGE_PUBLIC_URL API_PUBLIC_URL=$API_PUBLIC_URL
export EDGE_METRICS_URLS=$EDGE_METRICS_URLS EDGE_WARM_URLS=$EDGE_WARM_URLS FRONTEND_URL=$FRONTEND_URL DB_POOL_MAX=$DB_POOL_MAX
export MEDIA_ROOT=$MEDIA_ROOT JWT_SECRET=$JWT_SECRET EDGE_SIGNING_SECRET=$EDGE_SIGNING_SECRET
EOT
  for port in "$edge1" "$edge2"; do
    EDGE_LISTEN=127.0.0.1:$port ./target/release/spotik-edge --root "$MEDIA_ROOT" >"$cluster/logs/edge-$port.log" 2>&1 &
    pids+=($!)
  done
  for port in "$api1" "$api2"; do
    # nginx on loopback is the only proxy in front: its X-Forwarded-For counts.
    TRUSTED_PROXIES=127.0.0.1 API_LISTEN=127.0.0.1:$port ./target/release/spotik-api serve >"$cluster/logs/api-$port.log" 2>&1 &
    pids+=($!)
  done
  for port in "$edge1" "$edge2"; do wait_for "edge on $port" curl -sf "http://127.0.0.1:$port/ping"; done
  for port in "$api1" "$api2"; do wait_for "API on $port" curl -sf "http://127.0.0.1:$port/api/ping"; done

  echo "==> CDN node (nginx-compat/cdn) on 127.0.0.1:$cdn, nginx front (TLS, self-signed) on 127.0.0.1:$https"
  deploy/tls/self-signed "$cluster/nginx" >/dev/null
  # The front sends /audio/ to the CDN node, which fills its cache from the edges.
  render_cdn "$cluster/nginx" "server 127.0.0.1:$edge1; server 127.0.0.1:$edge2;" "127.0.0.1:$cdn" "$EDGE_SIGNING_SECRET"
  render_front "$cluster/nginx/spotik.conf" "server 127.0.0.1:$api1; server 127.0.0.1:$api2;" \
    "server 127.0.0.1:$cdn;" "127.0.0.1:$http" "127.0.0.1:$https ssl http2" \
    "$cluster/nginx/spotik.crt" "$cluster/nginx/spotik.key"
  # The same front once more in plain HTTP, for load tools without TLS
  # (loadtest/chaos): the template's routing server only, on its own port.
  render_front "$cluster/nginx/plain.all" "" "" "" "127.0.0.1:$plain" "$cluster/nginx/spotik.crt" "$cluster/nginx/spotik.key"
  awk '/^server \{/ { n++ } n == 2' "$cluster/nginx/plain.all" > "$cluster/nginx/plain.conf"
  local user=""
  [ "$(id -u)" -ne 0 ] || user="user root;"
  cat > "$cluster/nginx/nginx.conf" <<EOT
$user
worker_processes 2;
pid $cluster/nginx/nginx.pid;
error_log $cluster/logs/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log $cluster/logs/nginx-access.log;
  client_body_temp_path $cluster/nginx/client_body;
  proxy_temp_path $cluster/nginx/proxy;
  include $cluster/nginx/spotik.conf;
  include $cluster/nginx/plain.conf;
  include $cluster/nginx/cdn.conf;
}
EOT
  nginx -c "$cluster/nginx/nginx.conf" -p "$cluster/nginx" -g 'daemon off;' &
  pids+=($!)
  wait_for nginx curl -sfk "https://127.0.0.1:$https/api/ping"

  cat <<EOT
==> Spotik cluster is running (Ctrl-C stops all of it)
    https://127.0.0.1:$https/   (the web app, self-signed certificate: accept it once; the API under /api, audio under /audio)
    https://127.0.0.1:$https/dashboard   (live charts of both API and both edge replicas)
    plain HTTP    http://127.0.0.1:$plain/ (the same front without TLS, for load tools)
    API replicas  http://127.0.0.1:$api1  http://127.0.0.1:$api2
    edge replicas http://127.0.0.1:$edge1  http://127.0.0.1:$edge2
    CDN node      http://127.0.0.1:$cdn (caches the edges' audio for the front; X-Cache-Status says HIT or MISS)
    pgbouncer 127.0.0.1:$bouncer → PostgreSQL 127.0.0.1:$pg, Redis 127.0.0.1:$redis
    data and logs under $cluster
    try:  curl -sk -X POST https://127.0.0.1:$https/api/auth/login -H 'Content-Type: application/json' \\
               -d '{"email":"demo@spotik.local","password":"spotik-demo"}'
EOT
  # A part that dies leaves the rest running, as a deployment would (and
  # as loadtest/chaos needs); Ctrl-C stops everything.
  wait
}
