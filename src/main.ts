import { existsSync } from 'node:fs';
import { loadConfig } from './config';
import { createLogger } from './log';
import { startLocalStack } from './local-stack';
import { startGateway } from './gateway';
import { resolveGatewaySecret } from './security/gateway-secret';
import { createSecretBox } from './security/secrets';
import { seedDemo } from './db/seed';

/**
 * `npm start`: the embedded services where no address is configured, migrations, the API and the
 * worker in one process, demo data on first run. Ctrl-C stops everything cleanly.
 */
async function main(): Promise<void> {
  if (existsSync('.env')) process.loadEnvFile('.env');
  const config = loadConfig(process.env);
  const log = createLogger({ level: config.logLevel });
  const secret = await resolveGatewaySecret({ configured: config.secret, env: config.env, dataDir: config.dataDir });
  const box = createSecretBox(secret);
  if (!config.adminToken && config.env !== 'production') config.adminToken = `adm_${box.sign('admin-token').slice(0, 32)}`;

  const stack = await startLocalStack({
    databaseUrl: config.database.url, temporalAddress: config.temporal.address, dataDir: config.dataDir, env: process.env,
    log: (msg) => log.info(msg),
  });
  let gateway: Awaited<ReturnType<typeof startGateway>> | undefined;
  const shutdown = async (signal: string) => {
    log.info({ signal }, 'shutting down');
    await gateway?.stop().catch((error) => log.error({ err: error }, 'gateway stop failed'));
    await stack.stop();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));

  // The console links tasks to the dev server's Temporal UI when no other UI is configured.
  config.console.temporalUiUrl ??= stack.temporalUiUrl ?? undefined;
  gateway = await startGateway({
    config, log, databaseUrl: stack.databaseUrl, temporalAddress: stack.temporalAddress, secret, runWorker: config.runWorker,
  });
  const demo = config.seedDemo ? await seedDemo(gateway.orm.em.fork(), box) : null;

  const lines = [
    '',
    `  Gateway API     ${config.http.publicUrl}`,
    `  Web console     ${config.http.publicUrl}/console`,
    `  Temporal UI     ${stack.temporalUiUrl ?? '(external Temporal: ' + stack.temporalAddress + ')'}`,
    ...(demo ? [`  Demo API key    ${demo.key}`] : []),
    `  Admin token     ${config.adminToken ? (process.env.ADMIN_TOKEN ? '(from ADMIN_TOKEN)' : config.adminToken) : '(unset: admin routes disabled)'}`,
    '',
    `  Try: curl -s ${config.http.publicUrl}/v1/videos -H "Authorization: Bearer ${demo?.key ?? '<key>'}" \\`,
    `         -H 'content-type: application/json' -d '{"model":"mock-video","prompt":"a red fox","duration":5}'`,
    '',
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

main().catch((error) => {
  process.stderr.write(`Gateway failed to start: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exit(1);
});
