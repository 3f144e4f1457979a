import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { Client as PgClient } from 'pg';
import { ensureSearchAttributes, type SearchAttributeKind } from './dev-temporal';
import { findOrInstallGoBinary, type GoBinaryOptions } from './go-binaries';
import { freePort, isPortOpen } from './ports';
import { sleep } from './processes';
import { startServiceProcess } from './service-process';

/**
 * The Temporal server itself (not the CLI's dev server) with PostgreSQL persistence, as production runs
 * it: `go.temporal.io/server/cmd/server` and its schema tool `cmd/tools/sql`, the same version as the
 * docker image the compose file names (temporalio/auto-setup:1.29.1).
 */
export const TEMPORAL_SERVER_VERSION = '1.29.1';
const execFileAsync = promisify(execFile);
/** The history shard count is fixed when the database is created; 4 suits one to a few machines. */
const HISTORY_SHARDS = 4;

export function findOrInstallTemporalServer(opts: GoBinaryOptions = {}): Promise<string> {
  return findOrInstallGoBinary({
    title: 'the Temporal server', cacheName: `temporal-server-${TEMPORAL_SERVER_VERSION}`, envVar: 'TEMPORAL_SERVER_BIN',
    goPackage: `go.temporal.io/server/cmd/server@v${TEMPORAL_SERVER_VERSION}`, probeArgs: ['--version'],
  }, opts);
}

export function findOrInstallTemporalSqlTool(opts: GoBinaryOptions = {}): Promise<string> {
  return findOrInstallGoBinary({
    title: 'the Temporal SQL schema tool', cacheName: `temporal-sql-tool-${TEMPORAL_SERVER_VERSION}`, envVar: 'TEMPORAL_SQL_TOOL_BIN',
    goPackage: `go.temporal.io/server/cmd/tools/sql@v${TEMPORAL_SERVER_VERSION}`, probeArgs: ['--version'],
  }, opts);
}

/** A PostgreSQL server and the role Temporal connects as. */
export interface TemporalDatabase {
  host: string;
  port: number;
  user: string;
  password: string;
  /** Default `temporal` and `temporal_visibility`, as auto-setup names them. */
  database?: string;
  visibilityDatabase?: string;
}

function databasesOf(db: TemporalDatabase): { name: string; schema: string }[] {
  return [
    { name: db.database ?? 'temporal', schema: 'postgresql/v12/temporal' },
    { name: db.visibilityDatabase ?? 'temporal_visibility', schema: 'postgresql/v12/visibility' },
  ];
}

/**
 * Creates both databases and their versioning tables on first use, then brings their schema to this
 * server version with the schema tool's embedded files (update-schema applies only what is missing, so
 * this is also the upgrade step after a version bump). What auto-setup does in the container.
 */
export async function setupTemporalSchema(opts: { sqlTool: string; db: TemporalDatabase; log?: (msg: string) => void }): Promise<void> {
  const { db } = opts;
  const env = { ...process.env, SQL_PASSWORD: db.password }; // not in argv, which `ps` shows everyone
  const base = ['--plugin', 'postgres12', '--ep', db.host, '-p', String(db.port), '-u', db.user];
  const run = async (args: string[]) => {
    try {
      await execFileAsync(opts.sqlTool, [...base, ...args], { env, timeout: 120_000 });
    } catch (error) {
      const output = `${(error as { stdout?: string }).stdout ?? ''}${(error as { stderr?: string }).stderr ?? ''}`.trim();
      throw new Error(`temporal-sql-tool ${args.join(' ')} failed: ${output.split('\n').slice(-5).join('\n') || String(error)}`);
    }
  };
  for (const { name, schema } of databasesOf(db)) {
    if (!(await databaseExists(db, name))) {
      opts.log?.(`Creating the Temporal database ${name}`);
      await run(['--db', name, 'create-database']);
      // Version tables at 0.0 only on a new database: on an existing one it would reset the recorded version.
      await run(['--db', name, 'setup-schema', '-v', '0.0']);
    }
    await run(['--db', name, 'update-schema', '--schema-name', schema]);
  }
}

async function databaseExists(db: TemporalDatabase, name: string): Promise<boolean> {
  const client = new PgClient({ host: db.host, port: db.port, user: db.user, password: db.password, database: 'postgres' });
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [name]);
    return (found.rowCount ?? 0) > 0;
  } finally {
    await client.end();
  }
}

/** Ports of one server: the frontend's stays fixed across restarts; the others are internal. */
export interface TemporalServerPorts {
  frontend: number;
  history: number;
  matching: number;
  worker: number;
  membership: [number, number, number, number];
}

export async function pickTemporalServerPorts(frontend?: number): Promise<TemporalServerPorts> {
  const ports: number[] = [];
  while (ports.length < 8) {
    // The cluster_membership table keeps ports as smallint: anything from 32768 up (the OS's ephemeral
    // range, which freePort hands out) makes the server die at start, so these come from below.
    const port = ports.length < 4 ? await freePort() : await freePortBelow(32_768);
    if (!ports.includes(port) && port !== frontend) ports.push(port);
  }
  return { frontend: frontend ?? ports[3]!, history: ports[0]!, matching: ports[1]!, worker: ports[2]!, membership: [ports[4]!, ports[5]!, ports[6]!, ports[7]!] };
}

async function freePortBelow(limit: number): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * (limit - 20_000));
    if (await canListen(port)) return port;
  }
  throw new Error(`No free port below ${limit} for the Temporal server's membership`);
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** The server's config file (JSON is YAML), the same shape as the server's development-postgres12.yaml. */
export function temporalServerConfig(db: TemporalDatabase, ports: TemporalServerPorts): Record<string, unknown> {
  const [defaultDb, visibilityDb] = databasesOf(db);
  const sql = (databaseName: string, maxConns: number) => ({
    sql: {
      pluginName: 'postgres12', databaseName, connectAddr: `${db.host}:${db.port}`, connectProtocol: 'tcp',
      user: db.user, password: db.password, maxConns, maxIdleConns: maxConns, maxConnLifetime: '1h',
    },
  });
  const service = (grpcPort: number, membershipPort: number) => ({ rpc: { grpcPort, membershipPort, bindOnLocalHost: true } });
  return {
    log: { stdout: true, level: 'warn' },
    persistence: {
      defaultStore: 'postgres-default', visibilityStore: 'postgres-visibility', numHistoryShards: HISTORY_SHARDS,
      datastores: { 'postgres-default': sql(defaultDb!.name, 20), 'postgres-visibility': sql(visibilityDb!.name, 10) },
    },
    global: { membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' } },
    services: {
      frontend: service(ports.frontend, ports.membership[0]),
      history: service(ports.history, ports.membership[1]),
      matching: service(ports.matching, ports.membership[2]),
      worker: service(ports.worker, ports.membership[3]),
    },
    clusterMetadata: {
      enableGlobalNamespace: false, failoverVersionIncrement: 10, masterClusterName: 'active', currentClusterName: 'active',
      clusterInformation: { active: { enabled: true, initialFailoverVersion: 1, rpcName: 'frontend', rpcAddress: `127.0.0.1:${ports.frontend}` } },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    archival: { history: { state: 'disabled' }, visibility: { state: 'disabled' } },
    namespaceDefaults: { archival: { history: { state: 'disabled' }, visibility: { state: 'disabled' } } },
  };
}

/** A running Temporal server. */
export interface TemporalServer {
  address: string;
  pid: number;
  stop(): Promise<void>;
}

/**
 * Starts the server on an already set-up database, creates the namespace if missing and registers the
 * search attributes. Restarting it with the same ports and database keeps every workflow.
 */
export async function startTemporalServer(opts: {
  binary: string;
  /** Keeps config/ and temporal-server.log. */
  dataDir: string;
  db: TemporalDatabase;
  ports: TemporalServerPorts;
  namespace?: string;
  /** Days a closed workflow's history is kept. */
  retentionDays?: number;
  searchAttributes: Record<string, SearchAttributeKind>;
  log?: (msg: string) => void;
}): Promise<TemporalServer> {
  const log = opts.log ?? (() => undefined);
  const namespace = opts.namespace ?? 'default';
  const dataDir = path.resolve(opts.dataDir);
  const address = `127.0.0.1:${opts.ports.frontend}`;
  await fs.mkdir(path.join(dataDir, 'config'), { recursive: true });
  await fs.writeFile(path.join(dataDir, 'config', 'stack.yaml'), JSON.stringify(temporalServerConfig(opts.db, opts.ports), null, 2), { mode: 0o600 });
  if (await isPortOpen('127.0.0.1', opts.ports.frontend)) throw new Error(`Port ${opts.ports.frontend} (Temporal frontend) is already in use.`);

  const server = await startServiceProcess({
    title: 'The Temporal server',
    command: opts.binary,
    args: ['--root', dataDir, '--config', 'config', '--env', 'stack', '--allow-no-auth', 'start'],
    logPath: path.join(dataDir, 'temporal-server.log'),
    ownProcessGroup: true,
    ready: () => answers(address),
    readyTimeoutMs: 120_000,
  });
  try {
    const connection = await Connection.connect({ address });
    try {
      await ensureNamespace(connection, namespace, opts.retentionDays ?? 3, log);
      await retry(() => ensureSearchAttributes(connection, namespace, opts.searchAttributes, log), 30_000);
    } finally {
      await connection.close();
    }
  } catch (error) {
    await server.stop();
    throw error;
  }
  log(`Temporal server ready at ${address} (PostgreSQL ${opts.db.host}:${opts.db.port}, log ${path.join(dataDir, 'temporal-server.log')})`);
  return { address, pid: server.pid, stop: server.stop };
}

async function answers(address: string): Promise<boolean> {
  const [host, port] = address.split(':');
  if (!(await isPortOpen(host!, Number(port), 500))) return false;
  const connection = await Connection.connect({ address, connectTimeout: 1000 });
  try {
    // A server still starting may accept the call and not answer it: never wait more than 2 s.
    await connection.withDeadline(Date.now() + 2000, () => connection.workflowService.getSystemInfo({}));
    return true;
  } finally {
    await connection.close();
  }
}

async function ensureNamespace(connection: Connection, namespace: string, retentionDays: number, log: (msg: string) => void): Promise<void> {
  try {
    await connection.workflowService.describeNamespace({ namespace });
    return;
  } catch (error) {
    if ((error as { code?: number }).code !== 5) throw error; // 5 = NOT_FOUND
  }
  log(`Creating the Temporal namespace ${namespace}`);
  try {
    await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs(retentionDays * 86_400_000) });
  } catch (error) {
    if ((error as { code?: number }).code !== 6) throw error; // 6 = ALREADY_EXISTS: another starter won
  }
  // Every service learns of a new namespace from its cache, refreshed every 2 s.
  await retry(() => connection.workflowService.describeNamespace({ namespace }), 30_000);
}

async function retry<T>(fn: () => Promise<T>, withinMs: number): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    try {
      return await fn();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(500);
    }
  }
}
