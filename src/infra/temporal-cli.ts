import { execFile, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { promisify } from 'node:util';
import { isAlive, sleep } from './processes';

/** Later CLI versions carry a `replace` directive in go.mod, which `go install pkg@version` refuses. */
export const TEMPORAL_CLI_VERSION = '1.5.1';
const GO_PACKAGE = `github.com/temporalio/cli/cmd/temporal@v${TEMPORAL_CLI_VERSION}`;
const EXE = process.platform === 'win32' ? '.exe' : '';
const ANSWER_TIMEOUT_MS = 10_000; // no answer this fast usually means no internet: move on to go install
const DOWNLOAD_TIMEOUT_MS = 5 * 60_000;
const LOCK_STALE_MS = 60_000;
const LOCK_HEARTBEAT_MS = 10_000;
const LOCK_WAIT_MS = 30 * 60_000; // a cold go build takes minutes; waiting longer means something hangs

const execFileAsync = promisify(execFile);

/** Options of findOrInstallTemporalCli. */
export interface TemporalCliOptions {
  /** Source of TEMPORAL_CLI, PATH and GATEWAY_CACHE_DIR (the cache root); default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Folder that keeps a downloaded or built binary; default <GATEWAY_CACHE_DIR or ~/.cache/media-gateway>/bin. */
  cacheDir?: string;
  log?: (msg: string) => void;
}

/**
 * Path of a `temporal` binary: TEMPORAL_CLI, else `temporal` on PATH, else one cached by an earlier
 * run, else the official archive, else `go install` into the cache. Concurrent callers share one install.
 */
export async function findOrInstallTemporalCli(opts: TemporalCliOptions = {}): Promise<string> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? (() => undefined);

  if (env.TEMPORAL_CLI) {
    // Set on purpose, so a wrong value is an error rather than a reason to go and install another one.
    if (await isExecutableFile(env.TEMPORAL_CLI)) return env.TEMPORAL_CLI;
    throw new Error(`TEMPORAL_CLI=${env.TEMPORAL_CLI} is not an executable file.`);
  }
  const onPath = await findOnPath(`temporal${EXE}`, env.PATH);
  if (onPath) return onPath;

  const cacheRoot = env.GATEWAY_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'media-gateway');
  const cacheDir = path.resolve(opts.cacheDir ?? path.join(cacheRoot, 'bin'));
  const target = path.join(cacheDir, `temporal${EXE}`);
  if (await works(target)) return target;

  await fs.mkdir(cacheDir, { recursive: true });
  return withInstallLock(path.join(cacheDir, '.temporal-install.lock'), log, async () => {
    if (await works(target)) return target; // installed by the caller we waited for
    const tried = [
      'TEMPORAL_CLI: unset',
      `PATH: no temporal${EXE}`,
      `cache: no working ${target}`,
    ];
    for (const [what, install] of [
      [`download ${archiveUrl() ?? `(no archive for ${process.platform}/${process.arch})`}`, () => download(cacheDir, target, log)],
      [`go install ${GO_PACKAGE}`, () => goInstall(cacheDir, target, env, log)],
    ] as const) {
      try {
        await install();
        log(`Temporal CLI ready at ${target}`);
        return target;
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        log(`Temporal CLI: ${what} failed: ${reason}`);
        tried.push(`${what}: ${reason}`);
      }
    }
    throw new Error(
      `Could not find or install the Temporal CLI. Tried:\n${tried.map((line) => `  - ${line}`).join('\n')}\n` +
        'Install it (https://docs.temporal.io/cli) and set TEMPORAL_CLI to its path, or install Go and run again.',
    );
  });
}

function archiveUrl(): string | undefined {
  const platform = ({ linux: 'linux', darwin: 'darwin' } as Partial<Record<NodeJS.Platform, string>>)[process.platform];
  const arch = ({ x64: 'amd64', arm64: 'arm64' } as Partial<Record<string, string>>)[process.arch];
  if (!platform || !arch) return undefined;
  return `https://temporal.download/cli/archive/v${TEMPORAL_CLI_VERSION}?platform=${platform}&arch=${arch}`;
}

async function download(cacheDir: string, target: string, log: (msg: string) => void): Promise<void> {
  const url = archiveUrl();
  if (!url) throw new Error('no official archive for this platform');
  log(`Downloading the Temporal CLI from ${url}`);
  // Staged in the cache folder (same file system) so the final rename is atomic: a half-written
  // binary never sits at the path the next run trusts.
  const staging = await fs.mkdtemp(path.join(cacheDir, '.download-'));
  const controller = new AbortController();
  let timer = setTimeout(() => controller.abort(new Error(`no answer within ${ANSWER_TIMEOUT_MS / 1000}s`)), ANSWER_TIMEOUT_MS);
  try {
    const res = await fetch(url, { signal: controller.signal });
    if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
    clearTimeout(timer);
    timer = setTimeout(() => controller.abort(new Error('download too slow')), DOWNLOAD_TIMEOUT_MS);
    const archive = path.join(staging, 'temporal.tar.gz');
    await pipeline(Readable.fromWeb(res.body as NodeReadableStream), createWriteStream(archive));
    await execFileAsync('tar', ['-xzf', archive, '-C', staging]);
    await publish(path.join(staging, `temporal${EXE}`), target);
  } catch (err) {
    // fetch hides the real cause (DNS, refused, timeout) one level down
    const cause = (err as { cause?: unknown }).cause;
    throw new Error(cause instanceof Error ? `${(err as Error).message}: ${cause.message}` : (err as Error).message);
  } finally {
    clearTimeout(timer);
    await fs.rm(staging, { recursive: true, force: true });
  }
}

async function goInstall(cacheDir: string, target: string, env: NodeJS.ProcessEnv, log: (msg: string) => void): Promise<void> {
  const go = await findOnPath(`go${EXE}`, env.PATH);
  if (!go) throw new Error('go is not on PATH');
  log(`Building the Temporal CLI with go install ${GO_PACKAGE}; the first build takes a few minutes, later runs reuse ${cacheDir}`);
  const staging = await fs.mkdtemp(path.join(cacheDir, '.build-'));
  const started = Date.now();
  try {
    // cwd outside any Go module, so a go.mod around the caller cannot change what gets built.
    await new Promise<void>((resolve, reject) => {
      const child = spawn(go, ['install', GO_PACKAGE], {
        cwd: staging,
        env: { ...env, GOBIN: staging },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let text = '';
      const collect = (chunk: Buffer) => {
        text += chunk.toString();
        for (const line of chunk.toString().split('\n')) if (line.trim()) log(`go: ${line.trim()}`);
      };
      child.stdout.on('data', collect);
      child.stderr.on('data', collect);
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`exit ${code}: ${lastLines(text)}`))));
    });
    await publish(path.join(staging, `temporal${EXE}`), target);
    log(`go install finished in ${Math.round((Date.now() - started) / 1000)}s`);
  } finally {
    await fs.rm(staging, { recursive: true, force: true });
  }
}

async function publish(built: string, target: string): Promise<void> {
  await fs.chmod(built, 0o755);
  if (!(await works(built))) throw new Error(`${built} does not run`);
  await fs.rename(built, target);
}

/**
 * An exclusive lock file, so concurrent starters do one install, not several. Its holder refreshes
 * the mtime; a lock whose holder is dead (same host) or silent for LOCK_STALE_MS is taken over. Two
 * installers racing through a takeover is harmless: each stages its own copy and renames atomically.
 */
async function withInstallLock<T>(lockPath: string, log: (msg: string) => void, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  let announced = false;
  for (;;) {
    try {
      const handle = await fs.open(lockPath, 'wx');
      await handle.writeFile(JSON.stringify({ pid: process.pid, host: os.hostname() }));
      await handle.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (await isStaleLock(lockPath)) {
      log(`Taking over the stale lock ${lockPath}`);
      await fs.rm(lockPath, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`Gave up waiting for ${lockPath}; delete it if no install is running.`);
    if (!announced) log(`Another process is installing the Temporal CLI; waiting for it (${lockPath})`);
    announced = true;
    await sleep(1000);
  }
  const heartbeat = setInterval(() => {
    const now = new Date();
    fs.utimes(lockPath, now, now).catch(() => undefined);
  }, LOCK_HEARTBEAT_MS);
  heartbeat.unref();
  try {
    return await fn();
  } finally {
    clearInterval(heartbeat);
    await fs.rm(lockPath, { force: true });
  }
}

async function isStaleLock(lockPath: string): Promise<boolean> {
  try {
    const [text, stat] = await Promise.all([fs.readFile(lockPath, 'utf8'), fs.stat(lockPath)]);
    if (Date.now() - stat.mtimeMs > LOCK_STALE_MS) return true;
    const holder = JSON.parse(text) as { pid?: number; host?: string };
    return holder.host === os.hostname() && typeof holder.pid === 'number' && !isAlive(holder.pid);
  } catch {
    return false; // gone (retry at once) or still being written (judge it next round)
  }
}

async function findOnPath(name: string, searchPath: string | undefined): Promise<string | undefined> {
  for (const dir of (searchPath ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (await isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

async function isExecutableFile(file: string): Promise<boolean> {
  try {
    await fs.access(file, fs.constants.X_OK);
    return (await fs.stat(file)).isFile();
  } catch {
    return false;
  }
}

/** A truncated or foreign binary is not worth returning: callers would fail later and less clearly. */
async function works(file: string): Promise<boolean> {
  if (!(await isExecutableFile(file))) return false;
  try {
    await execFileAsync(file, ['--version'], { timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}


function lastLines(text: string, count = 15): string {
  return text.trimEnd().split('\n').slice(-count).join('\n');
}

