/**
 * Child processes of a benchmark run: every piece under test (API, worker, fake upstream, load
 * generators) runs in its own Node process, so no two share an event loop. Each child's output goes to
 * a log file in the run folder; `lines` lets the parent wait for a line it prints (a ready message).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import path from 'node:path';
import { exitsWithin } from '../../src/infra/processes';

export const ROOT = path.resolve(__dirname, '../..');

export interface NodeChild {
  name: string;
  proc: ChildProcess;
  pid: number;
  logPath: string;
  exited: Promise<number | null>;
  /** Resolves with the first stdout line matching `pattern` (rejects when the child exits first or after `timeoutMs`). */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  /** Resident set size in MB, from /proc (null once the process is gone). */
  rssMb(): number | null;
}

export interface SpawnNodeOptions {
  name: string;
  script: string;
  args?: string[];
  env?: NodeJS.ProcessEnv;
  nodeArgs?: string[];
  logDir: string;
  /** CPUs the process (every thread it makes) may run on, as `taskset -c` takes them ("1", "0-1"). */
  cpuList?: string;
}

/** Runs `node [nodeArgs] --import tsx <script> [args]` from the repository root (under `taskset -c` when `cpuList` is set). */
export function spawnNode(opts: SpawnNodeOptions): NodeChild {
  const logPath = path.join(opts.logDir, `${opts.name}.log`);
  const log = createWriteStream(logPath, { flags: 'a' });
  const nodeArgv = [...(opts.nodeArgs ?? []), '--import', 'tsx', opts.script, ...(opts.args ?? [])];
  // taskset execs node in place, so the pid (and /proc/<pid>) is node's own.
  const [command, argv] = opts.cpuList ? ['taskset', ['-c', opts.cpuList, process.execPath, ...nodeArgv]] : [process.execPath, nodeArgv];
  const proc = spawn(command, argv, {
    cwd: ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const listeners = new Set<(line: string) => void>();
  let buffered = '';
  proc.stdout!.on('data', (chunk: Buffer) => {
    log.write(chunk);
    buffered += chunk.toString('utf8');
    let at: number;
    while ((at = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, at);
      buffered = buffered.slice(at + 1);
      lines.push(line);
      for (const listener of listeners) listener(line);
    }
  });
  proc.stderr!.on('data', (chunk: Buffer) => log.write(chunk));
  const exited = new Promise<number | null>((resolve) => {
    proc.once('exit', (code) => resolve(code));
    proc.once('error', () => resolve(-1));
  });
  void exited.then(() => log.end());

  return {
    name: opts.name,
    proc,
    pid: proc.pid ?? -1,
    logPath,
    exited,
    waitForLine(pattern, timeoutMs = 120_000) {
      const seen = lines.find((line) => pattern.test(line));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => fail(new Error(`${opts.name}: no line matching ${pattern} within ${timeoutMs} ms; see ${logPath}`)), timeoutMs);
        const listener = (line: string) => {
          if (!pattern.test(line)) return;
          cleanup();
          resolve(line);
        };
        const fail = (error: Error) => {
          cleanup();
          reject(error);
        };
        const cleanup = () => {
          clearTimeout(timer);
          listeners.delete(listener);
        };
        listeners.add(listener);
        void exited.then((code) => fail(new Error(`${opts.name} exited (${code}) before printing ${pattern}; see ${logPath}\n${tailOf(logPath)}`)));
      });
    },
    async stop(graceMs = 15_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      if (await exitsWithin(exited, graceMs)) return;
      proc.kill('SIGKILL');
      await exited;
    },
    rssMb() {
      try {
        const status = readFileSync(`/proc/${proc.pid}/status`, 'utf8');
        const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
        return Number.isFinite(kb) ? Math.round(kb / 102.4) / 10 : null;
      } catch {
        return null;
      }
    },
  };
}

/** Runs a script to its end and returns the JSON object its last stdout line holds. */
export async function runNodeJson<T>(opts: SpawnNodeOptions & { timeoutMs?: number }): Promise<T> {
  const child = spawnNode(opts);
  const line = await child.waitForLine(/^RESULT /, opts.timeoutMs ?? 300_000);
  await child.exited;
  return JSON.parse(line.slice('RESULT '.length)) as T;
}

function tailOf(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    return '';
  }
}
