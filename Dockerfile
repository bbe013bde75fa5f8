# One image for every Warmpool service; the compose file picks the command. The base is selected by NODE_IMAGE
# (default: the public node:20-bookworm-slim; scripts/stand-in-images.sh builds a local stand-in where no registry
# answers). Nothing secret is built in: every credential comes from the environment at run time.
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# The manifests first, so `npm ci` is cached until a dependency changes (not on every source change).
COPY package.json package-lock.json ./
COPY packages/contracts/package.json packages/contracts/
COPY packages/core/package.json packages/core/
COPY packages/bus/package.json packages/bus/
COPY packages/runtime/package.json packages/runtime/
COPY packages/db/package.json packages/db/
COPY packages/operations/package.json packages/operations/
COPY packages/provisioner-kit/package.json packages/provisioner-kit/
COPY packages/service/package.json packages/service/
COPY packages/cli/package.json packages/cli/
COPY services/scheduler/package.json services/scheduler/
COPY services/reconciler/package.json services/reconciler/
COPY services/notifier/package.json services/notifier/
COPY services/provisioner-sim/package.json services/provisioner-sim/
COPY services/provisioner-docker/package.json services/provisioner-docker/
COPY services/api/package.json services/api/
# Where the npm registry is reached through a TLS-inspecting proxy: its CA certificates (PEM), for this stage only.
ARG BUILD_CA_CERTS=""
RUN if [ -n "$BUILD_CA_CERTS" ]; then printf '%s\n' "$BUILD_CA_CERTS" > /tmp/build-ca.pem && export NODE_EXTRA_CA_CERTS=/tmp/build-ca.pem; fi \
 && npm ci --no-audit --no-fund --ignore-scripts && npm cache clean --force && rm -f /tmp/build-ca.pem
COPY tsconfig.base.json tsconfig.build.json ./
COPY packages ./packages
COPY services ./services
# Build, then keep only what runs: production dependencies, compiled output, migrations, the console bundle.
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund --ignore-scripts \
 && rm -rf packages/*/src services/*/src services/api/console \
 && find packages services \( -name '*.tsbuildinfo' -o -name tsconfig.json -o -name '*.d.ts' -o -name '*.map' \) -delete

FROM ${NODE_IMAGE}
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE=unknown
LABEL org.opencontainers.image.title="warmpool" \
      org.opencontainers.image.description="Keeps pools of prebuilt workspaces warm: api, scheduler, reconciler, notifier, provisioners" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}"
ENV NODE_ENV=production
WORKDIR /app
# Owned by root and read-only to the `node` user the services run as.
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/packages ./packages
COPY --from=build /app/services ./services
COPY examples ./examples
COPY deploy/healthcheck.mjs ./deploy/healthcheck.mjs
USER node
EXPOSE 8080
# The api's /readyz, or a worker's /healthz when WARMPOOL_HEALTH_PORT is set (deploy/healthcheck.mjs).
HEALTHCHECK --interval=10s --timeout=10s --start-period=60s --retries=5 CMD ["node", "deploy/healthcheck.mjs"]
CMD ["node", "services/api"]
