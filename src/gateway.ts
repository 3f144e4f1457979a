import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { Config } from './config';
import { createApp } from './app';
import type { Logger } from './log';
import { initOrm, migrateUp, type Orm } from './db/orm';
import { createOutboundGuard } from './net/outbound-guard';
import { useProviderOutboundGuard } from './providers/transport';
import { createDefaultProviders } from './providers';
import type { ProviderRegistry } from './providers/registry';
import { createSecretBox, type SecretBox } from './security/secrets';
import { createAssetStore } from './storage/create-asset-store';
import { createMediaWorker, installRuntimeLogging } from '../workers/media-worker';
import { createMetrics, type Metrics } from './metrics/metrics';
import { releaseStaleRequestHolds } from './billing/stale-holds';
import { sweepUnstartedTasks, UNSTARTED_SWEEP_INTERVAL_MS } from './modules/tasks/unstarted-tasks';
import { createCreditLeases, type CreditLeases } from './billing/credit-lease';
import { installProtocolErrorAnswers } from './http/protocol-errors';
import { startCacheInvalidation, type CacheInvalidation } from './cache/invalidation';
import { createSharedLimits } from './limits/shared-buckets';
import { startMetricsServer } from './metrics/metrics-endpoint';
import { startJobPoller, wakeByClient, type JobPoller } from './providers/job-poller/job-poller';

/** A running gateway: the API server and, when asked, the worker in the same process. */
export interface Gateway {
  url: string;
  orm: Orm;
  temporal: Client;
  box: SecretBox;
  worker: Worker | null;
  server: http.Server;
  metrics: Metrics;
  /** The chat and embeddings routes' credit leases: tests flush() them before reading usage rows directly. */
  leases: CreditLeases;
  /** The key and route caches' cross-replica invalidation (tests count the notifications received). */
  invalidation: CacheInvalidation;
  /** The port of the /metrics listener when METRICS_PORT is set. */
  metricsPort: number | null;
  stop(): Promise<void>;
}

/**
 * Wires every piece from the config and listens. Used by `npm start`, the tests and the benchmarks,
 * so they all run the same code.
 */
export async function startGateway(opts: {
  config: Config;
  log: Logger;
  databaseUrl: string;
  temporalAddress: string;
  secret: string;
  runWorker: boolean;
  migrate?: boolean;
  workflowBundle?: WorkflowBundleWithSourceMap | { codePath: string };
  providers?: ProviderRegistry;
}): Promise<Gateway> {
  const { config, log } = opts;
  const orm = await initOrm({ url: opts.databaseUrl, poolMax: 20 });
  if (opts.migrate ?? true) await migrateUp(orm);
  const box = createSecretBox([opts.secret, ...config.previousSecrets]);
  const store = createAssetStore(config);
  const outbound = createOutboundGuard({ allowlist: config.outboundAllowlist });
  // The console's channel test calls providers from the API process: their redirects get the same guard.
  useProviderOutboundGuard(outbound);
  const metrics = createMetrics();
  metrics.observeDatabase(() => orm.em.getKnex());
  const connection = await Connection.connect({ address: opts.temporalAddress });
  const temporal = new Client({ connection, namespace: config.temporal.namespace });

  const providers = opts.providers ?? createDefaultProviders();
  let worker: Worker | null = null;
  let workerRun: Promise<void> | null = null;
  let nativeConnection: NativeConnection | null = null;
  let poller: JobPoller | null = null;
  if (opts.runWorker) {
    installRuntimeLogging(log);
    nativeConnection = await NativeConnection.connect({ address: opts.temporalAddress });
    worker = await createMediaWorker({
      connection: nativeConnection,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      workflowBundle: opts.workflowBundle ?? (config.temporal.workflowBundlePath ? { codePath: config.temporal.workflowBundlePath } : undefined),
      activities: {
        orm, providers, store, box, log: log.child({ component: 'worker' }),
        publicUrl: config.http.publicUrl, providerCallbacks: config.http.publicUrlGiven, outbound, metrics,
        maxAssetBytes: config.assets.maxBytes, assetDownloadTimeoutMs: config.assets.downloadTimeoutMs,
        providerPoller: config.tasks.providerPoller,
      },
    });
    if (config.tasks.providerPoller === 'shared') {
      poller = startJobPoller({ orm, providers, box, log: log.child({ component: 'job-poller' }), queue: config.temporal.taskQueue, wake: wakeByClient(temporal) });
    }
    const running = worker;
    metrics.observeWorker(() => running.getStatus());
    workerRun = worker.run();
    workerRun.catch((error) => log.error({ err: error }, 'worker stopped with an error'));
  }

  const leases = createCreditLeases({ knex: () => orm.em.getKnex(), log: log.child({ component: 'credit-lease' }) });
  const invalidation = await startCacheInvalidation({ databaseUrl: opts.databaseUrl, knex: () => orm.em.getKnex(), log: log.child({ component: 'cache-invalidation' }) });
  const limits = createSharedLimits({ knex: () => orm.em.getKnex(), log: log.child({ component: 'rate-limits' }) });
  // A key changed on any replica (budget lowered, revoked...): this process's lease blocks for it stop
  // lending and go back, so the next request holds again under the new settings.
  invalidation.subscribe((change) => {
    if (change?.kind !== 'key') return;
    leases.quiesce({ apiKeyId: change.keyId }).catch((error) => log.warn({ err: error, keyId: change.keyId }, 'could not end a changed key\'s credit lease'));
  });
  const app = createApp({ config, orm, temporal, log, store, box, outbound, metrics, leases, providers, invalidation, limits });
  const handle = app.callback();
  let draining = false;
  const server = http.createServer(
    {
      headersTimeout: config.http.headersTimeoutMs,
      requestTimeout: config.http.requestTimeoutMs,
      // node enforces both timeouts only when it sweeps its connections, every 30 s by default: a slow
      // client would keep its socket up to 30 s past the limit.
      connectionsCheckingInterval: Math.min(1000, config.http.headersTimeoutMs),
    },
    (req, res) => {
      // While draining, every answer closes its connection: a keep-alive client that keeps sending would
      // otherwise hold server.close() open for as long as it has requests to send.
      if (draining) res.setHeader('connection', 'close');
      void handle(req, res);
    },
  );
  installProtocolErrorAnswers(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.http.port, config.http.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const metricsServer = config.metrics.port === undefined
    ? null
    : await startMetricsServer({ metrics, token: config.metrics.token, port: config.metrics.port, host: config.http.host });

  // Crash recovery for synchronous requests: a chat hold whose API process died is released later.
  const sweeper = setInterval(() => {
    releaseStaleRequestHolds(orm.em.getKnex())
      .then((released) => released > 0 && log.warn({ released }, 'released stale request holds'))
      .catch((error) => log.warn({ err: error }, 'stale hold sweep failed'));
  }, 5 * 60 * 1000);
  sweeper.unref();
  // Crash recovery for task admission: a task whose API reserved it and died before starting its workflow
  // is started (or refunded) here. In the API rather than the worker: it repairs what an API left half
  // done, it needs only the database and a Temporal client (no worker slot), and a deployment always runs
  // an API, while workers may be scaled to none for a while; the advisory lock keeps replicas apart.
  let unstartedSweep: Promise<void> | null = null;
  const unstartedSweeper = setInterval(() => {
    unstartedSweep ??= sweepUnstartedTasks({ orm, temporal, metrics, log: log.child({ component: 'unstarted-tasks' }) })
      .then(() => undefined, (error) => log.warn({ err: error }, 'unstarted task sweep failed'))
      .finally(() => (unstartedSweep = null));
  }, UNSTARTED_SWEEP_INTERVAL_MS);
  unstartedSweeper.unref();

  let stopping: Promise<void> | null = null;
  return {
    url: `http://${localHostFor(config.http.host)}:${port}`,
    orm, temporal, box, worker, server, metrics, leases, invalidation,
    metricsPort: metricsServer?.port ?? null,
    stop() {
      stopping ??= (async () => {
        clearInterval(sweeper);
        clearInterval(unstartedSweeper);
        await unstartedSweep;
        // Stop taking requests and let in-flight ones finish, then hand activities back, then close.
        draining = true;
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
        });
        // Every request has ended: write their settlements and give the leased credits back.
        await leases.close();
        await limits.close();
        await invalidation.close();
        await metricsServer?.close();
        metrics.close();
        await poller?.stop();
        if (worker && workerRun) {
          // Only ours: the SDK's own signal handling is off (installRuntimeLogging), so nothing else
          // starts the shutdown; the state check keeps a second stop() from throwing anyway.
          if (worker.getState() === 'RUNNING') worker.shutdown();
          await workerRun.catch(() => undefined);
        }
        await nativeConnection?.close();
        await connection.close();
        await orm.close();
      })();
      return stopping;
    },
  };
}

/** An address to reach a server listening on `host` from this machine. */
function localHostFor(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}
