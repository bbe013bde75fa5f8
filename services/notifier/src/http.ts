import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import type { Logger } from '@warmpool/runtime';

/**
 * The notifier's only HTTP surface: `GET /healthz` (200 when the workers run and Redis answers, else 503)
 * and `GET /metrics` (Prometheus text: delivery outcomes plus Node defaults).
 */
export async function startNotifierHttp(port: number, host: string, isHealthy: () => Promise<boolean>, registry: Registry, logger: Logger): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method === 'GET' && path === '/healthz') {
      isHealthy().then(
        (ok) => res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ ok })),
        (err: unknown) => {
          logger.warn({ err }, 'health check failed');
          res.writeHead(503, { 'content-type': 'application/json' }).end('{"ok":false}');
        },
      );
      return;
    }
    if (req.method === 'GET' && path === '/metrics') {
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (err: unknown) => {
          logger.warn({ err }, 'metrics collection failed');
          res.writeHead(500).end();
        },
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not_found"}');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}
