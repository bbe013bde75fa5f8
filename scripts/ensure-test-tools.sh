#!/usr/bin/env bash
# Installs the system tools some tests use, when missing: Chromium (browser test of the queue dashboard),
# promtool (Prometheus metrics lint), pgbouncer (scripts/test-ha.sh), and (ensure-docker.sh) a Docker Engine.
# Debian packages; needs root (or sudo).
set -euo pipefail
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || missing+=(pgbouncer)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} with apt-get"
  as_root apt-get update -qq
  # policy-rc.d keeps the prometheus package from starting a server: only its promtool binary is used.
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The Docker provisioner's tests need a Docker Engine and busybox for the local test image.
bash "$(dirname "$0")/ensure-docker.sh"
