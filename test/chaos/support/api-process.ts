import { testEnv, type TestGateway } from '../../support/harness';
import { spawnTsx, type WorkerProcess } from '../../support/worker-process';
import { until } from './chaos';

/** The API (`src/main.ts`, no worker) in a child process on a fixed port, so it can be SIGKILLed. */
export interface ApiProcess extends WorkerProcess {
  url: string;
}

/**
 * Starts an API process serving `gw`'s database, Temporal and task queue (the worker stays in `gw`), with
 * the same secret so keys and webhook secrets open the same; resolves once /healthz answers. `extraEnv`
 * adds or overrides variables.
 */
export async function spawnApi(gw: TestGateway, port: number, extraEnv: Record<string, string> = {}): Promise<ApiProcess> {
  const env = testEnv();
  const url = `http://127.0.0.1:${port}`;
  const child = spawnTsx('src/main.ts', 'api', {
    PORT: String(port),
    HOST: '127.0.0.1',
    PUBLIC_URL: url,
    ADMIN_TOKEN: gw.adminToken,
    DATABASE_URL: gw.config.database.url ?? env.databaseUrl,
    TEMPORAL_ADDRESS: gw.config.temporal.address ?? env.temporalAddress,
    TEMPORAL_TASK_QUEUE: gw.taskQueue,
    WORKFLOW_BUNDLE_PATH: env.bundlePath,
    GATEWAY_SECRET: gw.secret,
    DATA_DIR: gw.config.dataDir,
    ASSET_DIR: gw.config.assetDir,
    OUTBOUND_ALLOWLIST: gw.config.outboundAllowlist.join(','),
    RUN_WORKER: 'false',
    SEED_DEMO: 'false',
    LOG_LEVEL: 'info',
    NODE_ENV: 'test',
    ...extraEnv,
  });
  let gone = false;
  void child.exited.then(() => (gone = true));
  try {
    await until('the API process answering /healthz', async () => {
      if (gone) throw new Error(`the API process exited:\n${child.output()}`);
      const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) });
      return response.status === 200;
    }, 90_000, 200);
  } catch (error) {
    await child.kill();
    throw error;
  }
  return { ...child, url };
}
