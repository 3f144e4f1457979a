/**
 * CPU pinning for the one-core chat measurement: the API under test alone on one core, everything else
 * of this run (load generator, fake upstream, PostgreSQL, Temporal, the other workers) on the other, so
 * its tail is its own and not the machine's. Uses util-linux `taskset`; without it (or with one CPU)
 * nothing is pinned and the report says so.
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { cpuSnapshot } from './cpu';

/** The core of the process under test and the core of everything else, or null when pinning is not possible here. */
export function pinningCores(): { test: string; rest: string } | null {
  if (os.availableParallelism() < 2) return null;
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
  } catch {
    return null;
  }
  return { test: '1', rest: '0' };
}

/** Sets the CPUs of every thread of `pid`; false when the process is gone or refuses. */
function setAffinity(pid: number, cpuList: string): boolean {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', cpuList, String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Moves every process of this run (the driver included) except `except` onto `cpuList`, and returns
 * how to put them back on every CPU. Processes started meanwhile inherit from their parent.
 */
export function pinRunProcesses(cpuList: string, except: number[]): { pinned: number; restore(): void } {
  const all = `0-${os.availableParallelism() - 1}`;
  const pids = [process.pid, ...cpuSnapshot().byPid.keys()].filter((pid, i, list) => !except.includes(pid) && list.indexOf(pid) === i);
  const pinned = pids.filter((pid) => setAffinity(pid, cpuList));
  return {
    pinned: pinned.length,
    restore() {
      for (const pid of [process.pid, ...cpuSnapshot().byPid.keys()]) if (!except.includes(pid)) setAffinity(pid, all);
    },
  };
}
