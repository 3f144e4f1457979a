import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadConfig, type Config } from '../../src/config';
import { createLogger } from '../../src/log';
import { startGateway, type Gateway } from '../../src/gateway';
import { freePort } from '../../src/infra/ports';
import type { ProviderRegistry } from '../../src/providers/registry';
import { logFile, recordErrorBody, recordSecret, recordSecretsIn } from './leak-watch';

/**
 * A real gateway for integration tests: real PostgreSQL and Temporal (from `npm test`'s environment),
 * the real Koa app over HTTP, and a worker on a task queue of its own so test files never share one.
 */
export interface TestGateway {
  gateway: Gateway;
  config: Config;
  url: string;
  adminToken: string;
  secret: string;
  taskQueue: string;
  /** Calls the API; `key` is a consumer key, `admin: true` sends the admin token. */
  request(method: string, route: string, opts?: { key?: string; admin?: boolean; body?: unknown; headers?: Record<string, string> }): Promise<{ status: number; body: any; headers: Headers }>;
  admin(method: string, route: string, body?: unknown): Promise<any>;
  stop(): Promise<void>;
}

export function testEnv(): { databaseUrl: string; temporalAddress: string; bundlePath: string; dataDir: string } {
  const { DATABASE_URL, TEMPORAL_ADDRESS, WORKFLOW_BUNDLE_PATH, TEST_DATA_DIR } = process.env;
  if (!DATABASE_URL || !TEMPORAL_ADDRESS || !WORKFLOW_BUNDLE_PATH || !TEST_DATA_DIR) {
    throw new Error('Integration tests run through `npm test`, which starts PostgreSQL and Temporal');
  }
  return { databaseUrl: DATABASE_URL, temporalAddress: TEMPORAL_ADDRESS, bundlePath: WORKFLOW_BUNDLE_PATH, dataDir: TEST_DATA_DIR };
}

export function uniqueId(prefix: string): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}

export async function startTestGateway(opts: {
  env?: Record<string, string>;
  runWorker?: boolean;
  providers?: ProviderRegistry;
  /** PostgreSQL and Temporal of the test's own (already migrated) instead of `npm test`'s shared ones. */
  services?: { databaseUrl: string; temporalAddress: string };
} = {}): Promise<TestGateway> {
  const env = { ...testEnv(), ...opts.services };
  const port = await freePort();
  const taskQueue = uniqueId('tq');
  const adminToken = `admin-${randomBytes(12).toString('hex')}`;
  const secret = randomBytes(32).toString('hex');
  const config = loadConfig({
    PORT: String(port),
    HOST: '127.0.0.1',
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    ADMIN_TOKEN: adminToken,
    DATABASE_URL: env.databaseUrl,
    TEMPORAL_ADDRESS: env.temporalAddress,
    TEMPORAL_TASK_QUEUE: taskQueue,
    WORKFLOW_BUNDLE_PATH: env.bundlePath,
    DATA_DIR: path.join(env.dataDir, 'gateways', taskQueue),
    // Only the address the fakes listen on: 127.0.0.2 stands for a private address no test may reach.
    OUTBOUND_ALLOWLIST: '127.0.0.1/32,::1',
    // Logged to a file at info under `npm test`, for the secret scan at the end of the run.
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? (logFile('gateway') ? 'info' : 'silent'),
    NODE_ENV: 'test',
    ...opts.env,
  });
  const gateway = await startGateway({
    config,
    log: createLogger({ level: config.logLevel, destination: logFile('gateway') ?? undefined }),
    databaseUrl: env.databaseUrl,
    temporalAddress: env.temporalAddress,
    secret,
    runWorker: opts.runWorker ?? true,
    migrate: false,
    providers: opts.providers,
  });

  const request: TestGateway['request'] = async (method, route, o = {}) => {
    const headers: Record<string, string> = { ...(o.headers ?? {}) };
    if (o.key) headers.authorization = `Bearer ${o.key}`;
    if (o.admin) headers.authorization = `Bearer ${adminToken}`;
    let body: string | undefined;
    if (o.body !== undefined) {
      body = typeof o.body === 'string' ? o.body : JSON.stringify(o.body);
      headers['content-type'] ??= 'application/json';
    }
    const response = await fetch(`${gateway.url}${route}`, { method, headers, body });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // not JSON: keep the text, the test will say so
    }
    recordSecretsIn(parsed);
    if (response.status >= 400) recordErrorBody(response.status, `${method} ${route}`, text);
    return { status: response.status, body: parsed, headers: response.headers };
  };
  recordSecret(adminToken);
  recordSecret(secret);

  return {
    gateway, config, url: gateway.url, adminToken, secret, taskQueue, request,
    async admin(method, route, body) {
      const response = await request(method, route, { admin: true, body });
      if (response.status >= 300) throw new Error(`${method} ${route} -> ${response.status} ${JSON.stringify(response.body)}`);
      return response.body;
    },
    stop: () => gateway.stop(),
  };
}

/** An account with `credits`, a key on it, and the ids, through the admin API. */
export async function createCustomer(gw: Pick<TestGateway, 'admin'>, opts: { credits: number; key?: Record<string, unknown> }) {
  const account = await gw.admin('POST', '/admin/accounts', { name: uniqueId('customer'), credits: opts.credits });
  const key = await gw.admin('POST', '/admin/keys', { account_id: account.id, name: 'test', ...(opts.key ?? {}) });
  return { accountId: account.id as string, key: key.key as string, keyId: key.id as string, webhookSecret: key.webhook_secret as string };
}

/** A model of `category` priced by `pricing`, on a mock channel with `settings` (unique ids per call). */
export async function createMockModel(gw: Pick<TestGateway, 'admin'>, opts: { category: 'image' | 'video' | 'music'; pricing: Record<string, number>; settings?: Record<string, unknown>; defaultDuration?: number; deadlineSeconds?: number }) {
  const id = uniqueId(`m-${opts.category}`);
  await gw.admin('POST', '/admin/models', {
    id, category: opts.category, pricing: opts.pricing,
    // A per-second media model must say what it charges without a duration; 5 s unless the test says.
    ...(opts.defaultDuration ? { default_duration: opts.defaultDuration } : opts.pricing.per_second ? { default_duration: 5 } : {}),
    ...(opts.deadlineSeconds ? { deadline_seconds: opts.deadlineSeconds } : {}),
  });
  const channel = await gw.admin('POST', '/admin/channels', { name: `mock for ${id}`, provider: 'mock', models: [id], settings: opts.settings ?? { durationMs: 300 } });
  return { model: id, channelId: channel.id as string };
}

/** Polls GET /v1/tasks/{id} until its status is final (or `until` matches), up to `timeoutMs`. */
export async function waitForTask(gw: TestGateway, key: string, taskId: string, opts: { timeoutMs?: number; until?: (task: any) => boolean } = {}): Promise<any> {
  const until = opts.until ?? ((task: any) => ['succeeded', 'failed', 'cancelled'].includes(task.status));
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  let last: any;
  while (Date.now() < deadline) {
    const response = await gw.request('GET', `/v1/tasks/${taskId}`, { key });
    last = response.body;
    if (response.status === 200 && until(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  throw new Error(`Task ${taskId} did not reach the expected state in time; last seen ${JSON.stringify(last)}`);
}
