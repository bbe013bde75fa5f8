#!/usr/bin/env bash
# A throwaway local Redis Cluster for tests: three masters with one replica each (Debian's redis-server in
# cluster mode) on loopback ports BASE..BASE+5, each with its own directory under a temp dir.
#
#   scripts/redis-cluster.sh start   # start (idempotent) and wait until every slot is served and replicas synced
#   scripts/redis-cluster.sh nodes   # print the seed list for REDIS_CLUSTER_NODES / WARMPOOL_TEST_REDIS_URL
#   scripts/redis-cluster.sh stop    # kill the six servers and remove their directories
#   scripts/redis-cluster.sh start-node PORT  # start one node again on its directory (after a kill: it rejoins)
#
# Environment: REDIS_CLUSTER_BASE_PORT (7100), REDIS_CLUSTER_DIR (a temp dir per base port),
# REDIS_CLUSTER_NODE_TIMEOUT_MS (2000: a short failure-detection time so failover tests stay short; see
# docs/OPERATIONS.md for production values).
set -euo pipefail

BASE=${REDIS_CLUSTER_BASE_PORT:-7100}
DIR=${REDIS_CLUSTER_DIR:-${TMPDIR:-/tmp}/warmpool-redis-cluster-$BASE}
NODE_TIMEOUT=${REDIS_CLUSTER_NODE_TIMEOUT_MS:-2000}
PORTS=$(seq "$BASE" $((BASE + 5)))

cli() { redis-cli -h 127.0.0.1 -p "$1" "${@:2}"; }
up() { [ "$(cli "$1" ping 2>/dev/null)" = PONG ]; }
nodes() { local out=""; for p in $PORTS; do out+="${out:+,}127.0.0.1:$p"; done; echo "$out"; }
wait_for() { # seconds, description, command...
  local deadline=$((SECONDS + $1)) what=$2; shift 2
  until "$@"; do
    [ $SECONDS -lt $deadline ] || { echo "redis-cluster: timed out waiting for $what" >&2; exit 1; }
    sleep 0.2
  done
}
cluster_ok() { for p in $PORTS; do cli "$p" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || return 1; done; }
replicas_synced() {
  local n=0
  for p in $PORTS; do
    if cli "$p" info replication 2>/dev/null | grep -q '^role:slave'; then
      cli "$p" info replication | grep -q '^master_link_status:up' || return 1
      n=$((n + 1))
    fi
  done
  [ $n -eq 3 ]
}

start_node() {
  # The persistence and replication settings docs/OPERATIONS.md recommends, except the node timeout.
  redis-server --port "$1" --bind 127.0.0.1 --dir "$DIR/$1" --daemonize yes \
    --pidfile "$DIR/$1/redis.pid" --logfile "$DIR/$1/redis.log" \
    --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout "$NODE_TIMEOUT" \
    --appendonly yes --appendfsync everysec --save "" --maxmemory-policy noeviction
}

start() {
  command -v redis-server >/dev/null || { echo "redis-cluster: redis-server is not installed (apt-get install redis-server)" >&2; exit 1; }
  if cluster_ok 2>/dev/null; then echo "redis-cluster: already running on $(nodes)"; return; fi
  mkdir -p "$DIR"
  for p in $PORTS; do
    if up "$p"; then echo "redis-cluster: port $p is taken by a server this script did not start" >&2; exit 1; fi
    rm -rf "${DIR:?}/$p" && mkdir -p "$DIR/$p"
    start_node "$p"
  done
  for p in $PORTS; do wait_for 20 "redis on $p" up "$p"; done
  local seeds=()
  for p in $PORTS; do seeds+=("127.0.0.1:$p"); done
  redis-cli --cluster create "${seeds[@]}" --cluster-replicas 1 --cluster-yes >"$DIR/create.log" 2>&1 ||
    { cat "$DIR/create.log" >&2; exit 1; }
  wait_for 30 "every node to report cluster_state:ok" cluster_ok
  wait_for 30 "the replicas to sync" replicas_synced
  echo "redis-cluster: 3 masters + 3 replicas on $(nodes) (data in $DIR)"
}

stop() {
  for p in $PORTS; do
    local pidfile="$DIR/$p/redis.pid"
    if [ -f "$pidfile" ]; then kill -9 "$(cat "$pidfile")" 2>/dev/null || true; fi
  done
  rm -rf "$DIR"
  echo "redis-cluster: stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  nodes) nodes ;;
  start-node)
    [ -d "$DIR/${2:-none}" ] || { echo "usage: $0 start-node PORT (a port of this cluster)" >&2; exit 2; }
    start_node "$2" && wait_for 20 "redis on $2" up "$2" ;;
  *) echo "usage: $0 start|stop|nodes|start-node PORT" >&2; exit 2 ;;
esac
