import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/infra/embedded-postgres';
import { freePort, isPortOpen } from '../../src/infra/ports';
import { findOrInstallS3Server, startS3Server, type S3Server } from '../../src/infra/s3-server';
import {
  findOrInstallTemporalServer, findOrInstallTemporalSqlTool, pickTemporalServerPorts, setupTemporalSchema, startTemporalServer,
  type TemporalDatabase, type TemporalServer, type TemporalServerPorts,
} from '../../src/infra/temporal-server';
import { searchAttributeRegistrations } from '../../src/temporal/search-attributes';
import { bundleWorkflows } from '../../workers/media-worker';
import { logSays, startGatewayProcess, type GatewayProcess } from './gateway-process';
import { ASSET_BUCKET, GATEWAY_SETTINGS, SERVICES, maxConnections } from './topology';
import { startTemporalUi, type TemporalUi } from './temporal-ui';

/** Options of startStack. */
export interface StackOptions {
  /** Keeps every service's data and logs; reused by the next start. */
  dataDir: string;
  /** Processes of the API cluster; default SERVICES.api's API_PROCESSES (2). */
  apiProcesses?: number;
  /** Worker processes; default SERVICES.worker.replicas (2). */
  workers?: number;
  /** Public port of the API; default a free one. */
  port?: number;
  /** Web UI port; 0 or undefined with headless: no UI. */
  uiPort?: number;
  headless?: boolean;
  /** Extra settings for every gateway process (tests: OUTBOUND_ALLOWLIST, LOG_LEVEL). */
  env?: Record<string, string>;
  log?: (msg: string) => void;
}

/** What stays the same across starts of one data dir: secrets, and ports a restarted server needs again. */
interface StackState {
  gatewaySecret: string;
  adminToken: string;
  s3: { accessKeyId: string; secretAccessKey: string };
  ports: { postgres: number; s3: number; temporal: TemporalServerPorts };
}

/** A running production topology on this machine. */
export interface Stack {
  url: string;
  adminToken: string;
  gatewaySecret: string;
  temporalAddress: string;
  temporalUiUrl: string | null;
  databaseUrl: string;
  s3: S3Server;
  /** The API cluster's primary (its API processes are its children). */
  api: GatewayProcess;
  workers: GatewayProcess[];
  /** The settings every gateway process got. */
  gatewayEnv: Record<string, string>;
  /** Stop and start the Temporal server (same ports, same database) or PostgreSQL. */
  restartTemporal(opts?: { downMs?: number }): Promise<void>;
  restartPostgres(opts?: { downMs?: number }): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts PostgreSQL, the Temporal server on it (schema set up, namespace and search attributes
 * registered), its Web UI, the S3 server with the assets bucket, the API cluster and the workers, in
 * that order, and stops them in the reverse order (API and workers drain first).
 */
export async function startStack(opts: StackOptions): Promise<Stack> {
  const log = opts.log ?? (() => undefined);
  const dataDir = path.resolve(opts.dataDir);
  const logs = path.join(dataDir, 'logs');
  await fs.mkdir(logs, { recursive: true });
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) await stop().catch((error) => log(`stop failed: ${String(error)}`));
  };
  try {
    log('Finding or building the Temporal server, its SQL tool and the S3 server (the first build takes minutes)');
    const [temporalBin, sqlTool, s3Bin] = await Promise.all([
      findOrInstallTemporalServer({ log }), findOrInstallTemporalSqlTool({ log }), findOrInstallS3Server({ log }),
    ]);
    const state = await loadState(dataDir);

    const apiProcesses = opts.apiProcesses ?? Number(SERVICES.api!.settings!.API_PROCESSES);
    const workerCount = opts.workers ?? SERVICES.worker!.replicas!;
    const pgOpts = {
      dataDir: path.join(dataDir, 'postgres'), port: state.ports.postgres, database: 'gateway', log, ownProcessGroup: true,
      settings: { max_connections: String(maxConnections(apiProcesses, workerCount)) },
    };
    let postgres: EmbeddedPostgres | null = await startEmbeddedPostgres(pgOpts);
    stops.push(async () => void (await postgres?.stop()));
    const databaseUrl = postgres.url;
    const db: TemporalDatabase = { host: '127.0.0.1', port: state.ports.postgres, user: 'postgres', password: 'postgres' };
    await setupTemporalSchema({ sqlTool, db, log });

    const temporalOpts = {
      binary: temporalBin, dataDir: path.join(dataDir, 'temporal'), db, ports: state.ports.temporal, searchAttributes: searchAttributeRegistrations, log,
    };
    let temporal: TemporalServer | null = await startTemporalServer(temporalOpts);
    stops.push(async () => void (await temporal?.stop()));

    let ui: TemporalUi | null = null;
    if (!opts.headless) {
      ui = await startTemporalUi({ dataDir: path.join(dataDir, 'temporal-ui'), port: opts.uiPort ?? 8233, temporalAddress: temporal.address, log });
      stops.push(() => ui!.stop());
    }

    const s3 = await startS3Server({
      binary: s3Bin, dataDir: path.join(dataDir, 's3'), port: state.ports.s3, buckets: [ASSET_BUCKET], ...state.s3, log,
    });
    stops.push(() => s3.stop());

    const bundlePath = path.join(dataDir, 'workflow-bundle.js');
    await fs.writeFile(bundlePath, (await bundleWorkflows()).code);

    const port = opts.port ?? (await freePort());
    if (await isPortOpen('127.0.0.1', port)) throw new Error(`Port ${port} (the API) is already in use.`);
    const url = `http://127.0.0.1:${port}`;
    const fixed = Object.fromEntries(Object.entries(GATEWAY_SETTINGS).filter((entry): entry is [string, string] => entry[1] !== null));
    const gatewayEnv: Record<string, string> = {
      ...fixed,
      DATABASE_URL: databaseUrl,
      TEMPORAL_ADDRESS: temporal.address,
      GATEWAY_SECRET: state.gatewaySecret,
      ADMIN_TOKEN: state.adminToken,
      PUBLIC_URL: url,
      // One host: the API processes share this port through the cluster module; workers serve none.
      METRICS_PORT: String(await freePort()),
      OUTBOUND_ALLOWLIST: '',
      S3_ENDPOINT: s3.endpoint,
      S3_ACCESS_KEY_ID: s3.accessKeyId,
      S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
      WORKFLOW_BUNDLE_PATH: bundlePath,
      DATA_DIR: dataDir,
      ...opts.env,
    };
    const childEnv = (extra: Record<string, string>) => ({ PATH: process.env.PATH, HOME: process.env.HOME, ...gatewayEnv, ...extra });

    const api = await startGatewayProcess({
      name: 'api', entry: 'src/api/main.ts', logPath: path.join(logs, 'api.log'),
      env: childEnv({ ...SERVICES.api!.settings, API_PROCESSES: String(apiProcesses), PORT: String(port), HOST: '127.0.0.1' }),
      // The primary says so once every API process listens (one process: once it does).
      ready: async (file) => (await logSays(file, apiProcesses > 1 ? '"API cluster ready"' : '"API listening"')) && readyz(url),
    });
    stops.push(() => api.stop());

    const workers = await Promise.all(
      Array.from({ length: workerCount }, (_, i) => startGatewayProcess({
        name: `worker-${i + 1}`, entry: 'workers/main.ts', logPath: path.join(logs, `worker-${i + 1}.log`), env: childEnv({}),
        ready: (file) => logSays(file, '"worker running"'),
      })),
    );
    // Workers stop before the API's primary in stopAll's reverse order: they were pushed after it.
    for (const worker of workers) stops.push(() => worker.stop());
    log(`Stack ready: API ${url} (${apiProcesses} processes), ${workerCount} workers, Temporal ${temporal.address}, S3 ${s3.endpoint}`);

    return {
      url, adminToken: state.adminToken, gatewaySecret: state.gatewaySecret, temporalAddress: temporal.address,
      temporalUiUrl: ui?.url ?? null, databaseUrl, s3, api, workers, gatewayEnv,
      async restartTemporal(o = {}) {
        await temporal?.stop();
        temporal = null;
        await new Promise((resolve) => setTimeout(resolve, o.downMs ?? 0));
        temporal = await startTemporalServer(temporalOpts);
      },
      async restartPostgres(o = {}) {
        await postgres?.stop();
        postgres = null;
        await new Promise((resolve) => setTimeout(resolve, o.downMs ?? 0));
        postgres = await startEmbeddedPostgres(pgOpts);
      },
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

async function readyz(url: string): Promise<boolean> {
  const answer = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) });
  return answer.ok;
}

/** Secrets and ports, made once per data dir (mode 0600) so restarts keep links, sealed secrets and addresses. */
async function loadState(dataDir: string): Promise<StackState> {
  const file = path.join(dataDir, 'stack-state.json');
  if (existsSync(file)) return JSON.parse(await fs.readFile(file, 'utf8')) as StackState;
  const state: StackState = {
    gatewaySecret: randomBytes(32).toString('base64url'),
    adminToken: `adm_${randomBytes(16).toString('hex')}`,
    s3: { accessKeyId: `gw${randomBytes(8).toString('hex')}`, secretAccessKey: randomBytes(24).toString('base64url') },
    ports: { postgres: await freePort(), s3: await freePort(), temporal: await pickTemporalServerPorts() },
  };
  await fs.writeFile(file, JSON.stringify(state, null, 2), { mode: 0o600 });
  return state;
}
