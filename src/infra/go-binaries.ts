import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { isAlive, sleep } from './processes';

/**
 * Find-or-install for the Go programs we run beside the gateway (the Temporal CLI, the Temporal server and
 * its SQL tool, the S3 server): an explicit path from the environment, else PATH, else the cache, else
 * an optional download, else `go install` into the cache. Concurrent callers share one install.
 */

const EXE = process.platform === 'win32' ? '.exe' : '';
const LOCK_STALE_MS = 60_000;
const LOCK_HEARTBEAT_MS = 10_000;
const LOCK_WAIT_MS = 30 * 60_000; // a cold go build takes minutes; waiting longer means something hangs

const execFileAsync = promisify(execFile);

/** One Go program and where it comes from. */
export interface GoBinarySpec {
  /** Human name for logs and errors, e.g. "the Temporal CLI". */
  title: string;
  /** File name in the cache (without .exe); a version in it keeps an upgrade from reusing an older build. */
  cacheName: string;
  /** Environment variable naming an installed binary; a wrong value is an error, not a reason to install. */
  envVar: string;
  /** Also accepted from PATH under this name (only for binaries whose name is unambiguous). */
  pathName?: string;
  /** `module/cmd/x@vX.Y.Z` for `go install`. */
  goPackage: string;
  /** Arguments that make a healthy binary exit 0 at once (e.g. ['--version']). */
  probeArgs: string[];
  /** Tried before go install: writes a working binary to the given path or throws. */
  download?: { what: string; run: (stagingDir: string, log: (msg: string) => void) => Promise<string> };
}

/** Options of findOrInstallGoBinary. */
export interface GoBinaryOptions {
  /** Source of the spec's envVar, PATH and GATEWAY_CACHE_DIR (the cache root); default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Folder that keeps a downloaded or built binary; default <GATEWAY_CACHE_DIR or ~/.cache/media-gateway>/bin. */
  cacheDir?: string;
  log?: (msg: string) => void;
}

export async function findOrInstallGoBinary(spec: GoBinarySpec, opts: GoBinaryOptions = {}): Promise<string> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? (() => undefined);

  const configured = env[spec.envVar];
  if (configured) {
    if (await isExecutableFile(configured)) return configured;
    throw new Error(`${spec.envVar}=${configured} is not an executable file.`);
  }
  if (spec.pathName) {
    const onPath = await findOnPath(`${spec.pathName}${EXE}`, env.PATH);
    if (onPath) return onPath;
  }

  const cacheRoot = env.GATEWAY_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'media-gateway');
  const cacheDir = path.resolve(opts.cacheDir ?? path.join(cacheRoot, 'bin'));
  const target = path.join(cacheDir, `${spec.cacheName}${EXE}`);
  const probe = (file: string) => works(file, spec.probeArgs);
  if (await probe(target)) return target;

  await fs.mkdir(cacheDir, { recursive: true });
  return withInstallLock(path.join(cacheDir, `.${spec.cacheName}-install.lock`), spec.title, log, async () => {
    if (await probe(target)) return target; // installed by the caller we waited for
    const tried = [`${spec.envVar}: unset`, ...(spec.pathName ? [`PATH: no ${spec.pathName}${EXE}`] : []), `cache: no working ${target}`];
    const ways: [string, (staging: string) => Promise<string>][] = [];
    if (spec.download) ways.push([spec.download.what, (staging) => spec.download!.run(staging, log)]);
    ways.push([`go install ${spec.goPackage}`, (staging) => goInstall(spec, staging, env, log)]);
    for (const [what, install] of ways) {
      // Staged in the cache folder (same file system) so the final rename is atomic: a half-written
      // binary never sits at the path the next run trusts.
      const staging = await fs.mkdtemp(path.join(cacheDir, '.staging-'));
      try {
        const built = await install(staging);
        await fs.chmod(built, 0o755);
        if (!(await probe(built))) throw new Error(`${built} does not run`);
        await fs.rename(built, target);
        log(`${spec.title} ready at ${target}`);
        return target;
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        log(`${spec.title}: ${what} failed: ${reason}`);
        tried.push(`${what}: ${reason}`);
      } finally {
        await fs.rm(staging, { recursive: true, force: true });
      }
    }
    throw new Error(
      `Could not find or install ${spec.title}. Tried:\n${tried.map((line) => `  - ${line}`).join('\n')}\n` +
        `Install it and set ${spec.envVar} to its path, or install Go and run again.`,
    );
  });
}

/** Builds into `staging` and returns the built file's path. */
async function goInstall(spec: GoBinarySpec, staging: string, env: NodeJS.ProcessEnv, log: (msg: string) => void): Promise<string> {
  const go = await findOnPath(`go${EXE}`, env.PATH);
  if (!go) throw new Error('go is not on PATH');
  log(`Building ${spec.title} with go install ${spec.goPackage}; the first build takes a few minutes, later runs reuse the cache`);
  const started = Date.now();
  // cwd outside any Go module, so a go.mod around the caller cannot change what gets built.
  await new Promise<void>((resolve, reject) => {
    const child = spawn(go, ['install', spec.goPackage], { cwd: staging, env: { ...env, GOBIN: staging }, stdio: ['ignore', 'pipe', 'pipe'] });
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
  log(`go install finished in ${Math.round((Date.now() - started) / 1000)}s`);
  // go install names the binary after the package's last path element.
  const built = spec.goPackage.replace(/@.*$/, '').split('/').pop()!;
  return path.join(staging, `${built}${EXE}`);
}

/**
 * An exclusive lock file, so concurrent starters do one install, not several. Its holder refreshes
 * the mtime; a lock whose holder is dead (same host) or silent for LOCK_STALE_MS is taken over. Two
 * installers racing through a takeover is harmless: each stages its own copy and renames atomically.
 */
async function withInstallLock<T>(lockPath: string, title: string, log: (msg: string) => void, fn: () => Promise<T>): Promise<T> {
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
    if (!announced) log(`Another process is installing ${title}; waiting for it (${lockPath})`);
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
async function works(file: string, probeArgs: string[]): Promise<boolean> {
  if (!(await isExecutableFile(file))) return false;
  try {
    await execFileAsync(file, probeArgs, { timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

function lastLines(text: string, count = 15): string {
  return text.trimEnd().split('\n').slice(-count).join('\n');
}
