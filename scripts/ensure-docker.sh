#!/usr/bin/env bash
# Makes sure a Docker Engine answers for the Docker provisioner's tests and `npm start -- --provisioner docker`:
# installs Debian's docker.io and busybox-static (the test image is imported from busybox, no registry needed)
# when missing, and starts dockerd when nothing answers on the socket (log: $WARMPOOL_DOCKERD_LOG). Idempotent;
# never stops or restarts a running engine. With --compose (npm run test:deploy) it also installs Debian's
# docker-compose (1.29) when neither `docker compose` (Compose v2) nor `docker-compose` answers.
set -euo pipefail
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
log=${WARMPOOL_DOCKERD_LOG:-/tmp/warmpool-dockerd.log}

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
[ -x /bin/busybox ] || missing+=(busybox-static)
if [ "${1:-}" = --compose ] && ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null 2>&1; then
  missing+=(docker-compose)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} with apt-get"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

engine_up() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }
if ! engine_up; then
  if [ -n "${DOCKER_HOST:-}" ]; then
    echo "DOCKER_HOST=$DOCKER_HOST does not answer; not starting a local dockerd" >&2
    exit 1
  fi
  echo "starting dockerd (log: $log)"
  as_root sh -c "nohup dockerd >>'$log' 2>&1 &"
  for _ in $(seq 1 60); do engine_up && break; sleep 0.5; done
fi
engine_up || { echo "Docker Engine does not answer; see $log" >&2; exit 1; }
echo "Docker Engine is up"
