/**
 * CPU time of one process, all its threads (the SDK's workflow threads, the Rust core's, libuv's): utime
 * + stime from /proc/<pid>/stat, which the kernel sums over the thread group. A difference over a run
 * divided by the tasks completed in it is the process's CPU per task, independent of machine load.
 */
import { readFileSync } from 'node:fs';

const MS_PER_TICK = 10;

/** CPU ms the process has used so far, or null once it is gone. */
export function processCpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * MS_PER_TICK;
  } catch {
    return null;
  }
}

/** CPU ms per completed task between two readings (null when a reading is missing or nothing completed). */
export function cpuMsPerTask(before: number | null, after: number | null, completed: number): number | null {
  if (before === null || after === null || completed <= 0) return null;
  return Math.round(((after - before) / completed) * 100) / 100;
}
