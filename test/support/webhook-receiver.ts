import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One POST a receiver got: the raw body (as signed) and the headers. */
export interface ReceivedHook {
  path: string;
  body: string;
  headers: Record<string, string>;
  answeredWith: number;
  /** Date.now() on arrival: signatures are judged against the time they were received. */
  receivedAt: number;
}

/**
 * A webhook receiver on 127.0.0.1 (port 0). `answer` picks the status for each delivery (default 200);
 * every delivery is recorded whatever the answer.
 */
export async function startWebhookReceiver(answer: (hook: Omit<ReceivedHook, 'answeredWith'>, index: number) => number = () => 200) {
  const received: ReceivedHook[] = [];
  const waiters: (() => void)[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string') headers[name] = value;
      const hook = { path: req.url ?? '/', body: Buffer.concat(chunks).toString('utf8'), headers, receivedAt: Date.now() };
      const status = answer(hook, received.length);
      received.push({ ...hook, answeredWith: status });
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'not now');
      for (const wake of waiters.splice(0)) wake();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: (path = '/hook') => `http://127.0.0.1:${port}${path}`,
    received,
    /** Resolves once `count` deliveries matching `filter` arrived, or rejects after `timeoutMs`. */
    async waitFor(count: number, filter: (hook: ReceivedHook) => boolean = () => true, timeoutMs = 30_000): Promise<ReceivedHook[]> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const matching = received.filter(filter);
        if (matching.length >= count) return matching;
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`Expected ${count} deliveries, got ${matching.length} in ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(left, 500));
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
    /** Closes the port (deliveries meet a refused connection) until comeBack(); what was received stays. */
    async goDown(): Promise<void> {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    /** Listens again on the same port after goDown(). */
    async comeBack(): Promise<void> {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => {
          server.off('error', reject);
          resolve();
        });
      });
    },
    async stop(): Promise<void> {
      server.closeAllConnections();
      if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type WebhookReceiver = Awaited<ReturnType<typeof startWebhookReceiver>>;
