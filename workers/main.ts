import { existsSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { ConfigError, loadConfig } from '../src/config';
import { createLogger } from '../src/log';
import { initOrm } from '../src/db/orm';
import { createOutboundGuard } from '../src/net/outbound-guard';
import { createDefaultProviders } from '../src/providers';
import { startJobPoller, wakeByClient } from '../src/providers/job-poller/job-poller';
import { resolveGatewaySecret } from '../src/security/gateway-secret';
import { createSecretBox } from '../src/security/secrets';
import { createAssetStore } from '../src/storage/create-asset-store';
import { createMediaWorker, installRuntimeLogging } from './media-worker';

/**
 * `npm run worker`: a worker process on its own, for scaling out (and for tests that kill one).
 * Needs DATABASE_URL and TEMPORAL_ADDRESS; the API process runs migrations.
 */
async function main(): Promise<void> {
  if (existsSync('.env')) process.loadEnvFile('.env');
  const config = loadConfig(process.env);
  const log = createLogger({ level: config.logLevel, name: 'worker' });
  if (!config.database.url || !config.temporal.address) throw new ConfigError('The worker needs DATABASE_URL and TEMPORAL_ADDRESS');
  const secret = await resolveGatewaySecret({ configured: config.secret, env: config.env, dataDir: config.dataDir });
  const box = createSecretBox([secret, ...config.previousSecrets]);
  const orm = await initOrm({ url: config.database.url, poolMax: 20 });
  installRuntimeLogging(log);
  const connection = await NativeConnection.connect({ address: config.temporal.address });
  const bundlePath = config.temporal.workflowBundlePath;
  const providers = createDefaultProviders();
  const worker = await createMediaWorker({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    workflowBundle: bundlePath ? { codePath: bundlePath } : undefined,
    activities: {
      orm, providers, store: createAssetStore(config), box, log,
      publicUrl: config.http.publicUrl, providerCallbacks: config.http.publicUrlGiven, outbound: createOutboundGuard({ allowlist: config.outboundAllowlist }),
      maxAssetBytes: config.assets.maxBytes, assetDownloadTimeoutMs: config.assets.downloadTimeoutMs,
      providerPoller: config.tasks.providerPoller,
    },
  });
  // The shared poller signals workflows through a client connection of its own.
  const clientConnection = config.tasks.providerPoller === 'shared' ? await Connection.connect({ address: config.temporal.address }) : null;
  const poller = clientConnection
    ? startJobPoller({
      orm, providers, box, log: log.child({ component: 'job-poller' }), queue: config.temporal.taskQueue,
      wake: wakeByClient(new Client({ connection: clientConnection, namespace: config.temporal.namespace })),
    })
    : null;
  // Ours alone (the SDK's signal handling is off, see installRuntimeLogging), and once.
  const stop = () => {
    void poller?.stop();
    if (worker.getState() === 'RUNNING') worker.shutdown();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  log.info({ taskQueue: config.temporal.taskQueue }, 'worker running');
  await worker.run();
  await poller?.stop();
  await clientConnection?.close();
  await connection.close();
  await orm.close();
}

main().catch((error) => {
  const text = error instanceof ConfigError ? error.message : error instanceof Error ? error.stack ?? error.message : String(error);
  process.stderr.write(`Worker failed: ${text}\n`);
  process.exit(1);
});
