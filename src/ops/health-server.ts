import { createServer, type Server } from 'node:http';
import type { Metrics } from '../shared/metrics.js';
import { DeskgateError } from '../shared/errors.js';

export interface HealthCheck {
  /** Each part's state; the daemon is ready when all are true. */
  check(): Promise<Record<string, boolean>> | Record<string, boolean>;
  /** Extra facts shown beside the checks (this node, what it leads), never deciding the status. */
  info?(): Record<string, unknown>;
}

/** GET /metrics (Prometheus text) and GET /healthz (200 ready, 503 not) on metrics.listen. */
export async function startHealthServer(listen: string, metrics: Metrics, health: HealthCheck): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const at = listen.lastIndexOf(':');
  const host = listen.slice(0, at).replace(/^\[|\]$/g, '') || '127.0.0.1';
  const port = Number(listen.slice(at + 1));
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405).end();
      return;
    }
    if (path === '/metrics') {
      metrics.render().then(
        (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        (err: unknown) => res.writeHead(500).end(String(err)),
      );
      return;
    }
    if (path === '/healthz') {
      void (async () => {
        let parts: Record<string, boolean>;
        try { parts = await health.check(); } catch { parts = { check: false }; }
        const ok = Object.values(parts).every(Boolean);
        res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: ok ? 'ok' : 'unavailable', ...parts, ...health.info?.() }));
      })();
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new DeskgateError('OPS_LISTEN', `cannot listen on ${listen} (metrics.listen): ${err.message}`)));
    server.listen(port, host, () => resolve());
  });
  const bound = server.address();
  return {
    server,
    port: typeof bound === 'object' && bound ? bound.port : port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
