import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, openSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { isPortOpen } from './ports';
import { exitOf, isAlive, isRunning, sleep, tail, terminate } from './processes';

/** Search attribute types, spelled as `temporal server start-dev --search-attribute Name=Type` wants them. */
export type SearchAttributeKind = 'Keyword' | 'Text' | 'Int' | 'Double' | 'Bool' | 'Datetime' | 'KeywordList';

// temporal.api.enums.v1.IndexedValueType, which the operator service speaks.
const INDEXED_VALUE_TYPE: Record<SearchAttributeKind, number> = {
  Text: 1,
  Keyword: 2,
  Int: 3,
  Double: 4,
  Bool: 5,
  Datetime: 6,
  KeywordList: 7,
};

const READY_TIMEOUT_MS = 60_000;
/** SIGTERM, then SIGKILL. */
const STOP_STEPS = [['SIGTERM', 10_000], ['SIGKILL', 5_000]] as const;
const LOG_FILE = 'temporal.log';
/** Server pid and our pid, so a later run can tell a server orphaned by a killed parent from one in use. */
const PID_FILE = 'temporal.pid';

/** Options of startDevTemporal. */
export interface DevTemporalOptions {
  /** The `temporal` binary, e.g. from findOrInstallTemporalCli. */
  cliPath: string;
  /** Keeps temporal.db (SQLite; workflows survive restarts), temporal.log and temporal.pid. */
  dataDir: string;
  /** gRPC frontend port on 127.0.0.1; default 7233. */
  port?: number;
  /** Web UI port; default port + 1000 (8233), as the CLI does. */
  uiPort?: number;
  /** Namespace created at launch and checked for readiness; default `default` (always created). */
  namespace?: string;
  /** Registered at launch, and added if an older temporal.db lacks them. */
  searchAttributes: Record<string, SearchAttributeKind>;
  log?: (msg: string) => void;
  /** No Web UI (tests). */
  headless?: boolean;
  /**
   * SQLite pragmas for temporal.db, e.g. `{journal_mode: 'wal', synchronous: 'off'}` (benchmarks: the
   * default rollback journal syncs every write and caps the dev server at a few dozen starts a second).
   */
  sqlitePragmas?: Record<string, string>;
}

/** A running `temporal server start-dev`. */
export interface DevTemporal {
  /** host:port for Connection.connect / NativeConnection.connect. */
  address: string;
  /** Web UI, or null when headless. */
  uiUrl: string | null;
  /** SIGTERM, then SIGKILL after 10 s; resolves once the server has exited. Idempotent. */
  stop(): Promise<void>;
}

/** Starts the Temporal dev server (SQLite in dataDir) and resolves once its namespace answers. */
export async function startDevTemporal(opts: DevTemporalOptions): Promise<DevTemporal> {
  const log = opts.log ?? (() => undefined);
  const port = opts.port ?? 7233;
  const uiPort = opts.uiPort ?? port + 1000;
  const namespace = opts.namespace ?? 'default';
  const dataDir = path.resolve(opts.dataDir);
  const address = `127.0.0.1:${port}`;
  for (const name of Object.keys(opts.searchAttributes)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`Search attribute name "${name}" is not an identifier.`);
  }

  await fs.mkdir(dataDir, { recursive: true });
  await reclaimOrphan(dataDir, log);
  await assertPortFree(port, 'gRPC');
  if (!opts.headless) await assertPortFree(uiPort, 'Web UI');

  const args = ['server', 'start-dev', '--db-filename', path.join(dataDir, 'temporal.db')];
  args.push('--ip', '127.0.0.1', '--port', String(port), '--log-level', 'warn');
  args.push(...(opts.headless ? ['--headless'] : ['--ui-port', String(uiPort)]));
  if (namespace !== 'default') args.push('--namespace', namespace);
  for (const [name, kind] of Object.entries(opts.searchAttributes)) args.push('--search-attribute', `${name}=${kind}`);
  for (const [pragma, value] of Object.entries(opts.sqlitePragmas ?? {})) args.push('--sqlite-pragma', `${pragma}=${value}`);

  const logPath = path.join(dataDir, LOG_FILE);
  appendFileSync(logPath, `--- ${new Date().toISOString()} ${opts.cliPath} ${args.join(' ')}\n`);
  const logFd = openSync(logPath, 'a');
  let child: ChildProcess;
  try {
    child = spawn(opts.cliPath, args, { detached: false, stdio: ['ignore', logFd, logFd] });
  } finally {
    closeSync(logFd);
  }
  const exited = exitOf(child, logPath, 'the Temporal CLI');
  // 'exit' handlers cannot wait, and a server still shutting down would hold the port for the next run.
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);
  const pidFile = path.join(dataDir, PID_FILE);
  if (child.pid !== undefined) await fs.writeFile(pidFile, JSON.stringify({ server: child.pid, owner: process.pid }));

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      process.off('exit', killOnExit);
      await terminate(child, exited, STOP_STEPS);
      await fs.rm(pidFile, { force: true });
    })();
    return stopping;
  };

  try {
    const connection = await waitUntilReady(port, namespace, exited, logPath);
    try {
      await ensureSearchAttributes(connection, namespace, opts.searchAttributes, log);
    } finally {
      await connection.close();
    }
  } catch (err) {
    await stop();
    throw err;
  }
  const uiUrl = opts.headless ? null : `http://127.0.0.1:${uiPort}`;
  log(`Temporal dev server ready at ${address}${uiUrl ? `, Web UI ${uiUrl}` : ''} (log ${logPath})`);
  return { address, uiUrl, stop };
}

async function assertPortFree(port: number, what: string): Promise<void> {
  if (!(await isPortOpen('127.0.0.1', port))) return;
  const address = `127.0.0.1:${port}`;
  if (what === 'gRPC' && (await answersAsTemporal(address))) {
    throw new Error(
      `A Temporal server already listens on ${address}. Stop it, or set TEMPORAL_ADDRESS=${address} to use it ` +
        'instead of starting a dev server.',
    );
  }
  throw new Error(`Port ${port} (Temporal ${what}) is already in use by another program; choose another port.`);
}

async function answersAsTemporal(address: string): Promise<boolean> {
  try {
    const connection = await Connection.connect({ address, connectTimeout: 1000 });
    try {
      await connection.workflowService.getSystemInfo({});
      return true;
    } finally {
      await connection.close();
    }
  } catch {
    return false;
  }
}

/** Resolves with an open connection once the frontend answers and the namespace exists. */
async function waitUntilReady(port: number, namespace: string, exited: Promise<unknown>, logPath: string): Promise<Connection> {
  const address = `127.0.0.1:${port}`;
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (gone) throw new Error(`The Temporal dev server exited during start-up. Last lines of ${logPath}:\n${await tail(logPath)}`);
    // A plain TCP probe first: Connection.connect to a closed port waits out its whole connectTimeout.
    if (!(await isPortOpen('127.0.0.1', port, 500))) {
      await sleep(100);
      continue;
    }
    let connection: Connection | undefined;
    try {
      connection = await Connection.connect({ address, connectTimeout: 1000 });
      await connection.workflowService.getSystemInfo({});
      await connection.workflowService.describeNamespace({ namespace });
      return connection;
    } catch (err) {
      lastError = err;
      await connection?.close().catch(() => undefined);
      await sleep(250);
    }
  }
  throw new Error(`The Temporal dev server did not answer on ${address} within ${READY_TIMEOUT_MS / 1000}s (${String(lastError)}). See ${logPath}.`);
}

/**
 * Adds the missing search attributes (the PostgreSQL-backed server in temporal-server.ts uses it too).
 * start-dev applies --search-attribute only when it creates a namespace (CLI v1.5.1, sqlite setup's
 * createNamespaceIfNotExists), so a temporal.db from an older run keeps its old set: add what is
 * missing, and refuse a name registered with another type.
 */
export async function ensureSearchAttributes(
  connection: Connection,
  namespace: string,
  wanted: Record<string, SearchAttributeKind>,
  log: (msg: string) => void,
): Promise<void> {
  const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
  const existing: Record<string, number> = { ...(customAttributes ?? {}) };
  const missing: Record<string, number> = {};
  for (const [name, kind] of Object.entries(wanted)) {
    const have = existing[name];
    if (have === undefined) missing[name] = INDEXED_VALUE_TYPE[kind];
    else if (have !== INDEXED_VALUE_TYPE[kind]) {
      const haveKind = Object.entries(INDEXED_VALUE_TYPE).find(([, value]) => value === have)?.[0] ?? String(have);
      throw new Error(`Search attribute ${name} is registered as ${haveKind}, not ${kind}; a type cannot change. Delete temporal.db to start over.`);
    }
  }
  if (Object.keys(missing).length === 0) return;
  log(`Registering search attributes ${Object.keys(missing).join(', ')} in namespace ${namespace}`);
  await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: missing });
}

/**
 * Our PID_FILE names a live server whose starter is gone: the starter was killed before it could stop
 * it, so stop it now instead of failing on a busy port. A live starter means the dir is in use: refuse.
 */
async function reclaimOrphan(dataDir: string, log: (msg: string) => void): Promise<void> {
  const pidFile = path.join(dataDir, PID_FILE);
  let recorded: { server?: number; owner?: number };
  try {
    recorded = JSON.parse(await fs.readFile(pidFile, 'utf8')) as typeof recorded;
  } catch {
    return;
  }
  const { server, owner } = recorded;
  if (typeof server === 'number' && isRunning(server, 'temporal')) {
    if (typeof owner !== 'number' || isAlive(owner)) {
      const by = typeof owner === 'number' ? (owner === process.pid ? ' by this process' : ` by process ${owner}`) : '';
      throw new Error(`A Temporal dev server (pid ${server}) started${by} is already using ${dataDir}.`);
    }
    log(`Stopping Temporal dev server pid ${server}, left running by process ${owner} which is gone`);
    process.kill(server, 'SIGKILL'); // it is not ours to wait on, and SQLite survives a kill
    const deadline = Date.now() + 5000;
    while (isAlive(server) && Date.now() < deadline) await sleep(100);
  }
  await fs.rm(pidFile, { force: true });
}







