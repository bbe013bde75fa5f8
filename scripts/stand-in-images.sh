#!/usr/bin/env bash
# Builds local stand-ins for the public base images the Dockerfile and docker-compose.yml name (node, postgres,
# redis, prometheus), for machines that reach Debian's package archive but no image registry. Each is a Debian
# bookworm root filesystem made by debootstrap with Debian's own package, turned into an image by `docker import`.
# The Node.js base carries this machine's node binary and npm (the project's `engines` is checked), so nothing is
# downloaded from outside the package archives.
#
# Idempotent and cached by content: an image is rebuilt only when its recipe (this script, the package list, the
# node binary) changes; its tag carries the recipe's hash as a label. Prints the variables that select the stand-ins:
#   eval "$(bash scripts/stand-in-images.sh)"   # sets NODE_IMAGE, POSTGRES_IMAGE, REDIS_IMAGE, PROMETHEUS_IMAGE
# Needs root (debootstrap, chroot) and a Docker Engine (scripts/ensure-docker.sh).
set -euo pipefail
shopt -s inherit_errexit
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
log() { echo "stand-in-images: $*" >&2; }

cache=${WARMPOOL_STAND_IN_CACHE:-/var/cache/warmpool-stand-ins}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
prefix=${WARMPOOL_STAND_IN_PREFIX:-warmpool-stand-in}
as_root mkdir -p "$cache/debs"
command -v debootstrap >/dev/null 2>&1 || {
  log "installing debootstrap with apt-get"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
}

node_bin=$(command -v node)
node_version=$("$node_bin" --version)
required=$(node -p "require(process.argv[1]).engines.node" "$(cd "$(dirname "$0")/.." && pwd)/package.json")
node -e "const [maj,min]=process.versions.node.split('.').map(Number); const m=/(\d+)\.(\d+)/.exec(process.argv[1]); process.exit(maj>+m[1]||(maj===+m[1]&&min>=+m[2])?0:1)" "$required" ||
  { log "node $node_version does not satisfy engines $required"; exit 1; }
npm_dir=$(dirname "$(readlink -f "$(command -v npm)")")/..

# name | Debian packages | docker import changes (one per line)
recipe() {
  case $1 in
    node) echo "libstdc++6 ca-certificates"; printf '%s\n' 'ENV PATH=/usr/local/bin:/usr/bin:/bin' 'CMD ["node"]' ;;
    postgres) echo "postgresql-15"; printf '%s\n' 'ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/bin:/usr/bin:/bin' 'ENV PGDATA=/var/lib/postgresql/data' 'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' 'CMD ["postgres"]' 'EXPOSE 5432' ;;
    redis) echo "redis-server redis-tools"; printf '%s\n' 'CMD ["redis-server", "--protected-mode", "no"]' 'EXPOSE 6379' ;;
    prometheus) echo "prometheus"; printf '%s\n' 'USER nobody' 'ENTRYPOINT ["/usr/bin/prometheus"]' 'CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]' 'EXPOSE 9090' ;;
  esac
}

# The postgres stand-in honours the official image's POSTGRES_USER, POSTGRES_PASSWORD and POSTGRES_DB on first start.
postgres_entrypoint='#!/bin/sh
set -e
if [ "$1" = postgres ]; then
  mkdir -p "$PGDATA" /run/postgresql && chown -R postgres:postgres "$PGDATA" /run/postgresql && chmod 700 "$PGDATA"
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    printf "%s" "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}" > /tmp/pwfile && chown postgres /tmp/pwfile
    su postgres -c "initdb -U ${POSTGRES_USER:-postgres} --pwfile=/tmp/pwfile --auth-host=scram-sha-256 --auth-local=trust" >/dev/null
    rm -f /tmp/pwfile
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    su postgres -c "pg_ctl -w -o \"-c listen_addresses=\" start" >/dev/null
    if [ -n "$POSTGRES_DB" ] && [ "$POSTGRES_DB" != "${POSTGRES_USER:-postgres}" ]; then su postgres -c "createdb -U ${POSTGRES_USER:-postgres} $POSTGRES_DB"; fi
    su postgres -c "pg_ctl -w stop" >/dev/null
  fi
  exec su postgres -c "exec postgres -c listen_addresses=*"
fi
exec "$@"
'

build() {
  local name=$1 packages changes hash tag rootfs
  packages=$(recipe "$name" | head -1)
  changes=$(recipe "$name" | tail -n +2)
  local node_sum=''
  if [ "$name" = node ]; then node_sum=$(sha256sum "$node_bin" | cut -c1-64); fi
  hash=$(printf '%s\n' "$(cat "$0")" "$name $packages" "$node_sum" | sha256sum | cut -c1-16)
  tag="$prefix/$name:$hash"
  if docker image inspect "$tag" >/dev/null 2>&1; then log "$tag is up to date"; echo "$tag"; return; fi
  rootfs=$(as_root mktemp -d "$cache/rootfs-$name.XXXX")
  log "debootstrap bookworm with ${packages// /,} into $rootfs"
  as_root debootstrap --variant=minbase --cache-dir="$cache/debs" --include="${packages// /,}" bookworm "$rootfs" "$mirror" >"$cache/$name.log" 2>&1 ||
    { log "debootstrap failed, see $cache/$name.log"; exit 1; }
  case $name in
    node)
      as_root install -m 0755 "$node_bin" "$rootfs/usr/local/bin/node"
      as_root mkdir -p "$rootfs/usr/local/lib/node_modules"
      as_root cp -a "$npm_dir" "$rootfs/usr/local/lib/node_modules/npm"
      as_root ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
      as_root chroot "$rootfs" sh -c 'groupadd -g 1000 node && useradd -u 1000 -g node -m -s /bin/sh node' ;;
    postgres)
      printf '%s' "$postgres_entrypoint" | as_root tee "$rootfs/usr/local/bin/docker-entrypoint.sh" >/dev/null
      as_root chmod 0755 "$rootfs/usr/local/bin/docker-entrypoint.sh" ;;
    prometheus) as_root mkdir -p "$rootfs/prometheus" && as_root chown nobody "$rootfs/prometheus" ;;
  esac
  # Package caches and docs are not part of an image.
  as_root rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc "$rootfs"/usr/share/man
  local args=()
  while IFS= read -r change; do [ -n "$change" ] && args+=(--change "$change"); done <<<"$changes"
  as_root tar -C "$rootfs" -c . | docker import "${args[@]}" --change "LABEL org.opencontainers.image.description=\"warmpool stand-in for $name\"" - "$tag" >/dev/null
  as_root rm -rf "$rootfs"
  log "built $tag ($(docker image inspect "$tag" --format '{{.Size}}' | awk '{printf "%.0f MB", $1/1e6}'))"
  echo "$tag"
}

for name in ${WARMPOOL_STAND_INS:-node postgres redis prometheus}; do
  tag=$(build "$name")
  echo "export $(echo "$name" | tr a-z A-Z)_IMAGE=$tag"
done
