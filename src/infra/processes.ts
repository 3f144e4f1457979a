import type { ChildProcess } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';

/** Helpers shared by the services we run as child processes (PostgreSQL, the Temporal dev server). */

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Alive and, where /proc tells us, really `name` (pids are reused after a reboot). */
export function isRunning(pid: number, name: string): boolean {
  if (!isAlive(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(name);
  } catch {
    return process.platform !== 'linux';
  }
}

/** Resolves when the child exits; a spawn error is written to its log (shown by the caller's readiness check). */
export function exitOf(child: ChildProcess, logPath: string, what: string): Promise<void> {
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', (err) => {
      appendFileSync(logPath, `could not run ${what}: ${err.message}\n`);
      resolve();
    });
  });
}

/** Sends each signal in turn, waiting its time for the exit, until the child is gone. */
export async function terminate(child: ChildProcess, exited: Promise<unknown>, steps: readonly (readonly [NodeJS.Signals, number])[]): Promise<void> {
  for (const [signal, waitMs] of steps) {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    if (await exitsWithin(exited, waitMs)) return;
  }
}

/** Clears its timer: a pending 10 s timer would keep the process (or jest) alive after stop(). */
export async function exitsWithin(exited: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([exited.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The current run's last lines: the log is appended to across runs, each run opening with a `---` line. */
export async function tail(file: string, lines = 20): Promise<string> {
  const text = await fs.readFile(file, 'utf8').catch(() => '');
  const run = text.slice(Math.max(0, text.lastIndexOf('\n--- ') + 1));
  return run.trimEnd().split('\n').slice(-lines).join('\n');
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
