/**
 * Summarises a V8 .cpuprofile (node --cpu-prof): self time per function and per area (our code, each
 * npm package, node internals, GC, idle), so BENCHMARKS.md can say where an API process spends its CPU.
 */
import { readFile } from 'node:fs/promises';
import { ROOT } from './procs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  /** Wall time profiled from the first request served, ms. */
  wallMs: number;
  /** Share of the wall time the process was busy (not idle). */
  busyShare: number;
  areas: { area: string; selfMs: number; share: number }[];
  functions: { fn: string; where: string; area: string; selfMs: number; share: number }[];
}

function areaOf(url: string, fn: string): string {
  if (!url) {
    if (fn === '(garbage collector)') return 'GC';
    if (fn === '(idle)') return 'idle';
    if (fn === '(program)') return 'V8/native (program)';
    return 'native';
  }
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules) return modules[1]!;
  if (url.startsWith('node:')) return 'node internals';
  const local = url.replace(/^file:\/\//, '');
  if (local.startsWith(ROOT)) return `ours: ${local.slice(ROOT.length + 1).split('/').slice(0, 2).join('/')}`;
  return 'other';
}

function whereOf(url: string, line: number): string {
  if (!url) return '';
  const local = url.replace(/^file:\/\//, '');
  const short = local.includes('node_modules/') ? local.slice(local.lastIndexOf('node_modules/') + 13) : local.startsWith(ROOT) ? local.slice(ROOT.length + 1) : local;
  return `${short}:${line + 1}`;
}

export async function summarizeProfile(file: string, top = 20): Promise<ProfileSummary> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const serving = (id: number | undefined): boolean => {
    for (let at = id; at !== undefined; at = parent.get(at)) if (byId.get(at)?.callFrame.functionName === 'handleRequest') return true;
    return false;
  };
  // The profile starts with the process: module loading and setup are not the load. Count from the first
  // request served (the readiness probe, a moment before the load); with none, count everything.
  let first = profile.samples.findIndex((id) => serving(id));
  if (first < 0) first = 0;
  const self = new Map<number, number>();
  let wallMs = 0;
  for (let i = first; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    wallMs += ms;
    self.set(id, (self.get(id) ?? 0) + ms);
  }
  const areas = new Map<string, number>();
  const fns = new Map<string, { fn: string; where: string; area: string; selfMs: number }>();
  for (const [id, ms] of self) {
    const node = byId.get(id)!;
    const { functionName, url, lineNumber } = node.callFrame;
    const fn = functionName || '(anonymous)';
    const area = areaOf(url, fn);
    areas.set(area, (areas.get(area) ?? 0) + ms);
    const key = `${fn}@${url}:${lineNumber}`;
    const entry = fns.get(key) ?? { fn, where: whereOf(url, lineNumber), area, selfMs: 0 };
    entry.selfMs += ms;
    fns.set(key, entry);
  }
  const idle = areas.get('idle') ?? 0;
  const busy = wallMs - idle;
  const share = (ms: number) => Math.round((ms / busy) * 1000) / 10;
  return {
    wallMs: Math.round(wallMs),
    busyShare: Math.round((busy / wallMs) * 1000) / 10,
    areas: [...areas.entries()].filter(([a]) => a !== 'idle').sort((a, b) => b[1] - a[1]).slice(0, 15)
      .map(([area, ms]) => ({ area, selfMs: Math.round(ms), share: share(ms) })),
    functions: [...fns.values()].filter((f) => f.area !== 'idle').sort((a, b) => b.selfMs - a.selfMs).slice(0, top)
      .map((f) => ({ ...f, selfMs: Math.round(f.selfMs), share: share(f.selfMs) })),
  };
}
