# PostgreSQL and Redis for Spotik: use the machine's when they answer,
# otherwise install (Debian packages) and start them. Sourced by deploy/run
# and deploy/test; sets DATABASE_ADMIN_URL.

. "$(dirname "${BASH_SOURCE[0]}")/packages.sh"

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

ensure_postgres() {
  ensure_packages psql:postgresql-client pg_isready:postgresql-client
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    # No server answering: install one if this machine has no cluster yet.
    ls /etc/postgresql/*/main >/dev/null 2>&1 || install_packages postgresql
    echo "==> starting PostgreSQL"
    as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start || true
    for _ in $(seq 50); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.2; done
  fi
  DATABASE_ADMIN_URL=${DATABASE_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
  if ! psql "$DATABASE_ADMIN_URL" -qtAc 'select 1' >/dev/null 2>&1; then
    # A fresh Debian install only trusts the local socket: give the postgres
    # role a password for TCP connections.
    echo "==> setting a password for the postgres role (TCP access)"
    as_root su postgres -c "psql -qc \"ALTER USER postgres PASSWORD 'postgres'\"" >/dev/null
    DATABASE_ADMIN_URL=postgres://postgres:postgres@127.0.0.1:5432/postgres
  fi
  export DATABASE_ADMIN_URL
}

ensure_redis() {
  ensure_packages redis-server:redis-server redis-cli:redis-tools
  if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    echo "==> starting Redis"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
    for _ in $(seq 50); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.1; done
  fi
}

# Creates database $1 if it does not exist; prints its URL.
ensure_database() {
  local name=$1
  if [ "$(psql "$DATABASE_ADMIN_URL" -qtAc "select 1 from pg_database where datname = '$name'")" != 1 ]; then
    psql "$DATABASE_ADMIN_URL" -qc "CREATE DATABASE \"$name\"" >/dev/null
  fi
  echo "${DATABASE_ADMIN_URL%/*}/$name"
}
