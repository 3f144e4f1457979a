import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import type { Metrics } from './metrics';

/**
 * Serves the Prometheus text of `metrics`. With a token, a scrape must send `Authorization: Bearer
 * <token>` (Prometheus' `authorization` setting); without one, whoever reaches the listener may read
 * it, so it belongs on a private port (METRICS_PORT), which production requires unless a token is set.
 */
export async function answerMetrics(metrics: Metrics, token: string | undefined, authorization: string | undefined): Promise<{ status: number; type: string; body: string }> {
  if (token && !bearerMatches(authorization, token)) {
    return { status: 401, type: 'text/plain; charset=utf-8', body: 'metrics need Authorization: Bearer <METRICS_TOKEN>\n' };
  }
  return { status: 200, type: metrics.registry.contentType, body: await metrics.registry.metrics() };
}

function bearerMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(/^Bearer\s+(.+)$/i.exec(header ?? '')?.[1]?.trim() ?? '');
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** /metrics on a listener of its own (METRICS_PORT): every other path is a 404. */
export async function startMetricsServer(opts: { metrics: Metrics; token: string | undefined; port: number; host: string }): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
      return;
    }
    answerMetrics(opts.metrics, opts.token, req.headers.authorization).then(
      (answer) => res.writeHead(answer.status, { 'content-type': answer.type }).end(answer.body),
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
