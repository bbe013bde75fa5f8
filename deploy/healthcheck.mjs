// The image's HEALTHCHECK: a worker's /healthz on WARMPOOL_HEALTH_PORT when set (it fails when the worker stops
// taking jobs), else the api's /readyz (PostgreSQL and Redis answer). WARMPOOL_HEALTHCHECK_URL overrides both.
const env = process.env;
const url =
  env.WARMPOOL_HEALTHCHECK_URL ??
  (env.WARMPOOL_HEALTH_PORT
    ? `http://127.0.0.1:${env.WARMPOOL_HEALTH_PORT}/healthz`
    : `http://127.0.0.1:${env.WARMPOOL_HTTP_PORT ?? '8080'}/readyz`);
try {
  const res = await fetch(url, { signal: AbortSignal.timeout(8000) });
  if (!res.ok) console.error(`${url} answered ${res.status}`);
  process.exit(res.ok ? 0 : 1);
} catch (err) {
  console.error(`${url}: ${err.message}`);
  process.exit(1);
}
