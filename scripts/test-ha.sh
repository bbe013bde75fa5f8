#!/usr/bin/env bash
# The scale-out rerun (CI, after `npm test`): the integration tests of the pipeline, the outbox, the claims, the
# provisioner protocol and the migrations again, on a local Redis Cluster (3 masters + 3 replicas) and through
# PgBouncer (transaction pooling), plus the tests that only make sense there (API replicas, key slots).
# Starts both servers and stops them on exit.
# Arguments narrow the files (default: the list below).
set -euo pipefail
cd "$(dirname "$0")/.."

FILES=(packages/db packages/provisioner-kit test/bus test/pipeline test/outbox test/results test/api/api.test.ts test/api/replicas.test.ts test/ops/session-state.test.ts)
[ $# -gt 0 ] && FILES=("$@")

bash scripts/ensure-test-tools.sh
stop_all() { bash scripts/pgbouncer.sh stop >/dev/null 2>&1 || true; bash scripts/redis-cluster.sh stop >/dev/null 2>&1 || true; }
trap stop_all EXIT
bash scripts/redis-cluster.sh start
bash scripts/pgbouncer.sh start

WARMPOOL_TEST_REDIS_URL=$(bash scripts/redis-cluster.sh nodes) \
WARMPOOL_TEST_POOLER_URL=$(bash scripts/pgbouncer.sh url) \
  node scripts/test.mjs "${FILES[@]}"
