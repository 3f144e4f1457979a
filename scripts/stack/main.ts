/**
 * `npm run stack`: the production topology on this machine, from what npm and the Go module proxy
 * provide: PostgreSQL, the Temporal server on it with its Web UI, an S3 server, the API cluster and the
 * workers (see scripts/stack/topology.ts and docs/operations.md). Data in .data/stack (kept across
 * runs). Ctrl-C drains the API and the workers, then stops the services.
 *
 * STACK_PORT (3000), STACK_UI_PORT (8233), STACK_API_PROCESSES (2), STACK_WORKERS (2), STACK_DIR (.data/stack).
 */
import path from 'node:path';
import { createSecretBox } from '../../src/security/secrets';
import { initOrm } from '../../src/db/orm';
import { seedDemo } from '../../src/db/seed';
import { startStack } from './stack';

async function main(): Promise<void> {
  const log = (msg: string) => process.stdout.write(`[stack] ${msg}\n`);
  const env = process.env;
  const dataDir = env.STACK_DIR ?? path.join('.data', 'stack');
  const stack = await startStack({
    dataDir,
    port: Number(env.STACK_PORT ?? 3000),
    uiPort: Number(env.STACK_UI_PORT ?? 8233),
    apiProcesses: env.STACK_API_PROCESSES ? Number(env.STACK_API_PROCESSES) : undefined,
    workers: env.STACK_WORKERS ? Number(env.STACK_WORKERS) : undefined,
    log,
  });
  // The API runs in production mode, which never seeds: this local trial seeds the demo account, key,
  // models and mock channel itself (once; a second start finds them), through its own connection.
  const orm = await initOrm({ url: stack.databaseUrl, poolMax: 1 });
  const demo = await seedDemo(orm.em.fork(), createSecretBox(stack.gatewaySecret)).finally(() => orm.close());
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: draining the API and the workers, then stopping the services`);
    await stack.stop();
    log('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.stdout.write([
    '',
    `  Gateway API     ${stack.url}  (${stack.workers.length} workers)`,
    `  Temporal UI     ${stack.temporalUiUrl ?? '(not started)'}`,
    `  Temporal        ${stack.temporalAddress} (PostgreSQL persistence)`,
    `  S3              ${stack.s3.endpoint}`,
    `  Demo API key    ${demo.key}`,
    `  Admin token     ${stack.adminToken}`,
    '',
    `  Logs in ${path.join(dataDir, 'logs')}; Ctrl-C stops everything.`,
    '',
  ].join('\n') + '\n');
}

main().catch((error) => {
  process.stderr.write(`Stack failed to start: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exit(1);
});
