/**
 * CPU time of one process, all its threads (the SDK's workflow threads, the Rust core's, libuv's): utime
 * + stime from /proc/<pid>/stat, which the kernel sums over the thread group. A difference over a run
 * divided by the tasks completed in it is the process's CPU per task, independent of machine load.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's CPU times (USER_HZ). */
export const TICKS_PER_SECOND = 100;
const MS_PER_TICK = 1000 / TICKS_PER_SECOND;

/** One process's line of /proc/<pid>/stat: its parent, its own CPU ticks and those of its reaped children. */
export interface ProcStat {
  ppid: number;
  /** utime + stime, over all its threads. */
  ticks: number;
  /** cutime + cstime: children it has waited for. */
  reapedTicks: number;
}

/** The stat of one process, or null once it is gone. */
export function readProcStat(pid: number): ProcStat | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // From the state field on: [1] ppid, [11] utime, [12] stime, [13] cutime, [14] cstime (stat fields 4, 14-17).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]), reapedTicks: Number(fields[13]) + Number(fields[14]) };
  } catch {
    return null;
  }
}

/** Every process's stat, read once. */
export function procTable(): Map<number, ProcStat> {
  const table = new Map<number, ProcStat>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const stat = readProcStat(pid);
    if (stat) table.set(pid, stat);
  }
  return table;
}

/** Whether `pid` is one of `ancestors` or below one of them in `table`. */
export function isUnder(table: Map<number, ProcStat>, pid: number, ancestors: ReadonlySet<number>): boolean {
  for (let at = pid, hops = 0; at > 1 && hops < 32; hops++) {
    if (ancestors.has(at)) return true;
    at = table.get(at)?.ppid ?? 0;
  }
  return false;
}

/** CPU ms the process has used so far, or null once it is gone. */
export function processCpuMs(pid: number): number | null {
  const stat = readProcStat(pid);
  return stat ? stat.ticks * MS_PER_TICK : null;
}

/** CPU ms per completed task between two readings (null when a reading is missing or nothing completed). */
export function cpuMsPerTask(before: number | null, after: number | null, completed: number): number | null {
  if (before === null || after === null || completed <= 0) return null;
  return Math.round(((after - before) / completed) * 100) / 100;
}
