/**
 * Where the machine's CPU went during a run: user+system time of every process, grouped by role from
 * its command line, read from /proc before and after. On a 2-core machine this is what shows the limit
 * (a role near 1.0 core is saturated; all roles adding up to ~2.0 means the machine is).
 */
import { readFileSync } from 'node:fs';
import { isUnder, procTable, TICKS_PER_SECOND } from './proc-cpu';

const ROLES: [string, RegExp][] = [
  ['load generator', /bench\/procs\/(load|bare-starts)\.ts/],
  ['fake upstream', /bench\/procs\/fake-upstream\.ts/],
  ['empty-workflow worker', /bench\/procs\/empty-worker\.ts/],
  ['same-shape worker', /bench\/procs\/same-shape-worker\.ts/],
  ['API', /src\/main\.ts/],
  ['worker', /workers\/main\.ts/],
  // The dev server (`temporal server start-dev`) or the Temporal server binary of --stack.
  ['Temporal server', /temporal\b.*server start-dev|temporal-server-[\d.]+ /],
  ['PostgreSQL', /postgres/],
  ['bench driver', /bench\/run\.ts/],
];

export type CpuSnapshot = { at: number; byPid: Map<number, { role: string; ticks: number }> };

function roleOf(cmdline: string): string | null {
  for (const [role, pattern] of ROLES) if (pattern.test(cmdline)) return role;
  return null;
}

export function cpuSnapshot(): CpuSnapshot {
  // Only this run's processes: other suites may run the same scripts on the same machine meanwhile.
  const stats = procTable();
  const self = new Set([process.pid]);
  const ours = (pid: number): boolean => isUnder(stats, pid, self);
  const byPid = new Map<number, { role: string; ticks: number }>();
  for (const [pid, { ticks }] of stats) {
    if (!ours(pid)) continue;
    try {
      const role = roleOf(readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' '));
      if (role) byPid.set(pid, { role, ticks });
    } catch {
      // gone meanwhile
    }
  }
  return { at: Date.now(), byPid };
}

/** Cores used per role between two snapshots (1.0 = one core busy the whole time). */
export function cpuBetween(before: CpuSnapshot, after: CpuSnapshot): Record<string, number> {
  const seconds = (after.at - before.at) / 1000;
  const used: Record<string, number> = {};
  for (const [pid, now] of after.byPid) {
    const then = before.byPid.get(pid)?.ticks ?? 0;
    used[now.role] = (used[now.role] ?? 0) + (now.ticks - then) / TICKS_PER_SECOND;
  }
  const out: Record<string, number> = {};
  for (const [role, cpuSeconds] of Object.entries(used).sort((a, b) => b[1] - a[1])) {
    if (cpuSeconds > 0) out[role] = Math.round((cpuSeconds / seconds) * 100) / 100;
  }
  return out;
}

/** Runs `work` and reports the cores each role used meanwhile. */
export async function withCpu<T>(work: () => Promise<T>): Promise<{ value: T; cpu: Record<string, number> }> {
  const before = cpuSnapshot();
  const value = await work();
  return { value, cpu: cpuBetween(before, cpuSnapshot()) };
}
