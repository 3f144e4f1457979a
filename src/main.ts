import { existsSync } from 'node:fs';
import { ConfigError, loadConfig } from './config';
import { createLogger } from './log';
import { startLocalStack } from './local-stack';
import { startGateway } from './gateway';
import { resolveGatewaySecret } from './security/gateway-secret';
import { createSecretBox } from './security/secrets';
import { seedDemo } from './db/seed';

/**
 * `npm start`: the embedded services where no address is configured (outside production, or with
 * EMBEDDED_SERVICES=1), migrations, the API and the worker in one process, demo data on first run
 * outside production. Ctrl-C stops everything cleanly, once.
 */
async function main(): Promise<void> {
  if (existsSync('.env')) process.loadEnvFile('.env');
  const config = loadConfig(process.env);
  const production = config.env === 'production';
  const log = createLogger({ level: config.logLevel });
  const secret = await resolveGatewaySecret({ configured: config.secret, env: config.env, dataDir: config.dataDir });
  const box = createSecretBox([secret, ...config.previousSecrets]);
  const derivedAdminToken = !config.adminToken && !production;
  if (derivedAdminToken) config.adminToken = `adm_${box.sign('admin-token').slice(0, 32)}`;

  const stack = await startLocalStack({
    databaseUrl: config.database.url, temporalAddress: config.temporal.address, dataDir: config.dataDir, env: process.env,
    log: (msg) => log.info(msg),
  });
  let gateway: Awaited<ReturnType<typeof startGateway>> | undefined;
  let stopping: Promise<void> | null = null;
  // One shutdown, whatever arrives: a second Ctrl-C (or SIGTERM after SIGINT) waits for the first.
  const shutdown = (signal: string) => {
    if (stopping) return;
    log.info({ signal }, 'shutting down');
    stopping = (async () => {
      await gateway?.stop().catch((error) => log.error({ err: error }, 'gateway stop failed'));
      await stack.stop();
      process.exit(0);
    })();
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));

  // The console links tasks to the dev server's Temporal UI when no other UI is configured.
  config.console.temporalUiUrl ??= stack.temporalUiUrl ?? undefined;
  gateway = await startGateway({
    config, log, databaseUrl: stack.databaseUrl, temporalAddress: stack.temporalAddress, secret, runWorker: config.runWorker,
  });
  const demo = config.seedDemo ? await seedDemo(gateway.orm.em.fork(), box) : null;

  // Production prints no secret: the operator set them, and logs are collected.
  const adminLine = !config.adminToken ? '(unset: admin routes disabled)' : derivedAdminToken ? config.adminToken : '(from ADMIN_TOKEN)';
  const lines = [
    '',
    `  Gateway API     ${config.http.publicUrl}`,
    `  Web console     ${config.http.publicUrl}/console`,
    `  Temporal UI     ${stack.temporalUiUrl ?? '(external Temporal: ' + stack.temporalAddress + ')'}`,
    ...(demo ? [`  Demo API key    ${demo.key}`] : []),
    `  Admin token     ${adminLine}`,
    ...(gateway.metricsPort !== null ? [`  Metrics         port ${gateway.metricsPort}, path /metrics`] : []),
    '',
    ...(demo
      ? [
          `  Try: curl -s ${config.http.publicUrl}/v1/videos -H "Authorization: Bearer ${demo.key}" \\`,
          `         -H 'content-type: application/json' -d '{"model":"mock-video","prompt":"a red fox","duration":5}'`,
          '',
        ]
      : []),
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

main().catch((error) => {
  // A bad configuration is the operator's to fix: one line, no stack. Anything else keeps its stack.
  const text = error instanceof ConfigError ? error.message : error instanceof Error ? error.stack ?? error.message : String(error);
  process.stderr.write(`Gateway failed to start: ${text}\n`);
  process.exit(1);
});
