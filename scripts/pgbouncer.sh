#!/usr/bin/env bash
# A throwaway PgBouncer for tests: Debian's pgbouncer in transaction pooling mode on a loopback port, in front of
# the local PostgreSQL (every database, through a wildcard entry), with its config, pid and log in a temp dir.
#
#   scripts/pgbouncer.sh start   # start (idempotent) and wait until it answers
#   scripts/pgbouncer.sh url     # print the base URL (postgres://postgres@127.0.0.1:PORT)
#   scripts/pgbouncer.sh stop    # stop it and remove its directory
#
# Environment: PGBOUNCER_PORT (6433), PGBOUNCER_DIR (a temp dir per port), PGBOUNCER_UPSTREAM_HOST/PORT
# (127.0.0.1/5432), PGBOUNCER_POOL_SIZE (20 server connections per database and user).
set -euo pipefail

PORT=${PGBOUNCER_PORT:-6433}
DIR=${PGBOUNCER_DIR:-${TMPDIR:-/tmp}/warmpool-pgbouncer-$PORT}
UPSTREAM_HOST=${PGBOUNCER_UPSTREAM_HOST:-127.0.0.1}
UPSTREAM_PORT=${PGBOUNCER_UPSTREAM_PORT:-5432}
POOL_SIZE=${PGBOUNCER_POOL_SIZE:-20}

up() { psql -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -tAc 'select 1' >/dev/null 2>&1; }

start() {
  local bin; bin=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
  [ -x "$bin" ] || { echo "pgbouncer is not installed (scripts/ensure-test-tools.sh installs it)" >&2; exit 1; }
  if up; then echo "pgbouncer: already running on 127.0.0.1:$PORT"; return; fi
  mkdir -p "$DIR"
  # Trust auth as on the local PostgreSQL; the user must still be listed in the auth file.
  echo '"postgres" ""' >"$DIR/userlist.txt"
  cat >"$DIR/pgbouncer.ini" <<EOF
[databases]
* = host=$UPSTREAM_HOST port=$UPSTREAM_PORT

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PORT
unix_socket_dir =
auth_type = trust
auth_file = $DIR/userlist.txt
pool_mode = transaction
default_pool_size = $POOL_SIZE
max_client_conn = 2000
; Test databases come and go: drop idle automatic pools quickly.
autodb_idle_timeout = 30
server_reset_query =
server_check_delay = 0
ignore_startup_parameters = extra_float_digits
logfile = $DIR/pgbouncer.log
pidfile = $DIR/pgbouncer.pid
admin_users = postgres
EOF
  # PgBouncer refuses to run as root: run it as the postgres user then.
  local user=()
  if [ "$(id -u)" = 0 ]; then chown -R postgres "$DIR"; user=(-u postgres); fi
  "$bin" -d "${user[@]}" "$DIR/pgbouncer.ini"
  for _ in $(seq 1 50); do up && break; sleep 0.2; done
  up || { echo "pgbouncer did not answer on $PORT; log:" >&2; cat "$DIR/pgbouncer.log" >&2 || true; exit 1; }
  echo "pgbouncer: transaction pooling on 127.0.0.1:$PORT -> $UPSTREAM_HOST:$UPSTREAM_PORT (config in $DIR)"
}

stop() {
  if [ -f "$DIR/pgbouncer.pid" ]; then
    local pid; pid=$(cat "$DIR/pgbouncer.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 25); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -rf "$DIR"
  echo "pgbouncer: stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  url) echo "postgres://postgres@127.0.0.1:$PORT" ;;
  *) echo "usage: $0 start|stop|url" >&2; exit 2 ;;
esac
