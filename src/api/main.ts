import cluster from 'node:cluster';
import { existsSync } from 'node:fs';
import { loadConfig, type Config } from '../config';
import { initOrm, migrateUp } from '../db/orm';
import { seedDemo } from '../db/seed';
import { startGateway } from '../gateway';
import { createLogger, type Logger } from '../log';
import { resolveGatewaySecret } from '../security/gateway-secret';
import { createSecretBox } from '../security/secrets';

/**
 * The API on its own: no worker and no embedded services (DATABASE_URL and TEMPORAL_ADDRESS are
 * required). This is what every API replica of the production topology runs (`npm run stack`,
 * docker-compose's `api`). With API_PROCESSES=N the process is a cluster primary: it migrates and
 * seeds once, then forks N API processes that share PORT (Node hands out connections round-robin) and
 * replaces any that exits, so a rolling restart is a SIGTERM to each in turn. SIGTERM or SIGINT to the
 * primary drains them all.
 */
async function main(): Promise<void> {
  if (existsSync('.env')) process.loadEnvFile('.env');
  const config = loadConfig(process.env);
  const log = createLogger({ level: config.logLevel, name: cluster.isPrimary ? 'api' : `api-${cluster.worker?.id}` });
  if (!config.database.url || !config.temporal.address) throw new Error('The API needs DATABASE_URL and TEMPORAL_ADDRESS (npm start runs embedded services)');
  const secret = await resolveGatewaySecret({ configured: config.secret, env: config.env, dataDir: config.dataDir });
  if (cluster.isPrimary) await prepareDatabase(config, secret, log);
  if (cluster.isPrimary && config.cluster.apiProcesses > 1) return runPrimary(config.cluster.apiProcesses, log);
  await runApi(config, secret, log);
}

/** Migrations and demo data, once, before any API process takes a request. */
async function prepareDatabase(config: Config, secret: string, log: Logger): Promise<void> {
  const orm = await initOrm({ url: config.database.url! });
  try {
    await migrateUp(orm);
    if (config.seedDemo) {
      const demo = await seedDemo(orm.em.fork(), createSecretBox(secret));
      if (demo.created) log.info('seeded the demo account, key and mock models');
    }
  } finally {
    await orm.close();
  }
}

async function runApi(config: Config, secret: string, log: Logger): Promise<void> {
  if (!config.adminToken && config.env !== 'production') config.adminToken = `adm_${createSecretBox(secret).sign('admin-token').slice(0, 32)}`;
  const gateway = await startGateway({
    config, log, databaseUrl: config.database.url!, temporalAddress: config.temporal.address!, secret, runWorker: false, migrate: false,
  });
  const stop = async (signal: string) => {
    log.info({ signal }, 'draining');
    await gateway.stop().catch((error) => log.error({ err: error }, 'API stop failed'));
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
  log.info({ url: gateway.url, pid: process.pid }, 'API listening');
}

const RESTART_DELAY_MS = 1000;

function runPrimary(processes: number, log: Logger): void {
  let stopping = false;
  const fork = () => cluster.fork();
  for (let i = 0; i < processes; i++) fork();
  let listening = 0;
  cluster.on('listening', () => {
    listening += 1;
    if (listening === processes) log.info({ processes }, 'API cluster ready');
  });
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    log.warn({ pid: worker.process.pid, code, signal }, 'API process exited; starting a replacement');
    // A pause, so a process that dies at start (database unreachable) does not turn into a fork loop.
    setTimeout(() => !stopping && fork(), RESTART_DELAY_MS);
  });
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping every API process');
    // Ctrl-C reaches the whole process group anyway; a SIGTERM to the primary alone must reach them too.
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
    const check = setInterval(() => {
      if (Object.keys(cluster.workers ?? {}).length === 0) {
        clearInterval(check);
        process.exit(0);
      }
    }, 100);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  log.info({ processes, pid: process.pid }, 'API cluster primary running');
}

main().catch((error) => {
  process.stderr.write(`API failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exit(1);
});
