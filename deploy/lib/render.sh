# The deployment's configuration files rendered for one machine: pgbouncer's
# ini and the nginx front, as deploy/check-containers, ./deploy/run --cluster
# and loadtest/pgbouncer-modes run them. Sourced.

# render_pgbouncer DIR LISTEN_PORT POSTGRES_PORT DATABASE [POOL_MODE]:
# DIR/pgbouncer.ini and DIR/userlist.txt from deploy/pgbouncer, listening on
# 127.0.0.1:LISTEN_PORT with database `spotik` served by DATABASE on the local
# PostgreSQL; its socket, pid file and log in DIR.
render_pgbouncer() {
  local dir=$1 listen=$2 pg=$3 database=$4 mode=${5:-}
  sed -e "s/^spotik = host=postgres port=5432 dbname=spotik/spotik = host=127.0.0.1 port=$pg dbname=$database/" \
      -e "s/^listen_port = .*/listen_port = $listen/" -e "s/^listen_addr = .*/listen_addr = 127.0.0.1/" \
      -e "s|^auth_file = .*|auth_file = $dir/userlist.txt|" \
      ${mode:+-e "s/^pool_mode = .*/pool_mode = $mode/"} \
      deploy/pgbouncer/pgbouncer.ini > "$dir/pgbouncer.ini"
  printf 'unix_socket_dir = %s\npidfile = %s/pgbouncer.pid\nlogfile = %s/pgbouncer.log\n' "$dir" "$dir" "$dir" >> "$dir/pgbouncer.ini"
  cp deploy/pgbouncer/userlist.txt "$dir/userlist.txt"
  chmod 644 "$dir/pgbouncer.ini" "$dir/userlist.txt"
}

# render_front OUT API_SERVERS EDGE_SERVERS HTTP_LISTEN HTTPS_LISTEN CERT KEY:
# nginx-compat/front/front.conf.template with those values, into OUT.
render_front() {
  API_SERVERS=$2 EDGE_SERVERS=$3 HTTP_LISTEN=$4 HTTPS_LISTEN=$5 SERVER_NAME=localhost TLS_CERT=$6 TLS_KEY=$7 \
    envsubst '$API_SERVERS $EDGE_SERVERS $HTTP_LISTEN $HTTPS_LISTEN $SERVER_NAME $TLS_CERT $TLS_KEY' \
    < nginx-compat/front/front.conf.template > "$1"
}

# render_cdn DIR EDGE_SERVERS LISTEN SIGNING_SECRET: the CDN node of
# nginx-compat/cdn/cdn.conf.template into DIR/cdn.conf, its cache in
# DIR/cdn-cache (up to 10 GB) and its signed-link check in DIR/snippets
# (none when SIGNING_SECRET is empty, as the edge then checks none).
render_cdn() {
  local dir=$1
  mkdir -p "$dir/snippets" "$dir/cdn-cache"
  if [ -n "$4" ]; then
    SIGNING_SECRET=$4 envsubst '$SIGNING_SECRET' \
      < nginx-compat/media/secure-link.conf.template > "$dir/snippets/secure-link.conf"
  else
    : > "$dir/snippets/secure-link.conf"
  fi
  EDGE_SERVERS=$2 CDN_LISTEN=$3 CDN_CACHE_DIR=$dir/cdn-cache CDN_MAX_SIZE=10g NGINX_SNIPPETS=$dir/snippets \
    envsubst '$EDGE_SERVERS $CDN_LISTEN $CDN_CACHE_DIR $CDN_MAX_SIZE $NGINX_SNIPPETS' \
    < nginx-compat/cdn/cdn.conf.template > "$dir/cdn.conf"
}
