/**
 * How task admission scales with processes: POST /v1/videos at max throughput (closed loop, 32
 * concurrent, a mock channel that finishes at submit) through 1 or 2 API processes and 1 or 2 workers,
 * each shape on the same Temporal server and PostgreSQL. For each shape: tasks/s, POST latency, and the
 * CPU seconds each kind of process spent per admitted task (from /proc/<pid>/stat, from the load's start
 * until every task it admitted has finished, so a task's whole workflow is in its cost). Those costs are
 * what bench/lib/report-scaling.ts turns into a prediction for a bigger machine.
 *
 * The API runs as `src/api/main.ts` with API_PROCESSES=1 or 2 (Node's cluster, as `npm run stack` runs
 * it), so both API shapes are the deployed program. Only meaningful on the production pair (`--stack`);
 * on the dev server it runs the same and the report says so.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TEMPORAL_SERVER_VERSION } from '../../src/infra/temporal-server';
import type { BenchEnv } from '../lib/bench-env';
import { admissionRate, KINDS, type Kind, type Topology } from '../lib/report-scaling';
import type { Durations } from '../lib/durations';
import type { LoadResult } from '../lib/load-spec';
import type { NodeChild } from '../lib/procs';
import { isUnder, procTable, TICKS_PER_SECOND } from '../lib/proc-cpu';
import { waitForDrain } from '../lib/tasks';
import { videoSpec } from './admission';

const CONCURRENCY = 32;
/** Serial commits of one account row: the most reservations one account can make per second. */
const ROW_LOCK_COMMITS = 200;

export interface ScalingShape {
  apis: number;
  workers: number;
}

export interface ScalingRun extends ScalingShape {
  /** The measured window of the closed-loop POST load. */
  load: LoadResult;
  /** Task rows created per second after the warm-up (see countTaskRows): the admission rate; null when not measurable. */
  admittedPerS: number | null;
  /** Share of the whole machine's CPU busy while the load ran, every process counted (others' too). */
  machineBusy?: number;
  /** Task rows created from the load's start (warm-up included) to the drain's end. */
  tasks: number;
  /** Load start -> every admitted task finished, s. */
  wallS: number;
  /** Load end -> every admitted task finished, s. */
  drainS: number;
  /** CPU seconds of each kind over wallS (all its processes, all threads). */
  cpuSeconds: Record<Kind, number>;
  /** Cores of each kind while the load ran (the load generator's own from its process). */
  coresUnderLoad: Record<string, number>;
  /** PostgreSQL client connections by database right after the drain. */
  postgresConnections?: Record<string, number>;
  /** Resident memory of each kind right after the drain (at rest, after this load). */
  memory?: Record<Kind, { mb: number; processes: number }>;
}

export interface ScalingResult {
  /** 'server': the Temporal server on PostgreSQL (--stack); 'dev-server': the single-process dev server on SQLite. */
  temporal: 'server' | 'dev-server';
  concurrency: number;
  cpus: number;
  runs: ScalingRun[];
  /** One account's row: serial `update accounts ... where id = $1` commits per second (each its own transaction). */
  accountRowCommitsPerS: number;
}

/**
 * The shapes in the order they run: one API cluster at a time (PostgreSQL's 100 connections hold the
 * Temporal server's pools, the driver's, the idle API's and at most 2 API and 2 worker processes of 20
 * each), the second worker started once.
 */
const ORDER: ScalingShape[] = [
  { apis: 1, workers: 1 },
  { apis: 1, workers: 2 },
  { apis: 2, workers: 2 },
  { apis: 2, workers: 1 },
];
/** POSTs through a shape before it is measured (not counted): a fresh process's first requests compile code and open pools. */
const PRIMING_POSTS = 8;

export async function runScaling(env: BenchEnv, d: Durations, opts: { temporal: ScalingResult['temporal'] }): Promise<ScalingResult> {
  if (opts.temporal === 'dev-server') env.log('scaling: on the dev server (SQLite, one process): the shape of the figures only; run with --stack for the production pair');
  let cluster = null as { processes: number; origin: string; child: NodeChild } | null;
  const extraWorkers: NodeChild[] = [];
  try {
    const accountRowCommitsPerS = await accountRowCommits(env);
    env.log(`scaling: one account row takes ${accountRowCommitsPerS} serial commits/s`);
    const runs: ScalingRun[] = [];
    for (const shape of ORDER) {
      if (cluster?.processes !== shape.apis) {
        await cluster?.child.stop();
        cluster = { processes: shape.apis, ...(await env.startApiCluster(`api-cluster-${shape.apis}`, shape.apis)) };
      }
      while (extraWorkers.length < shape.workers - 1) extraWorkers.push(await env.startWorker(`worker-${extraWorkers.length + 2}`));
      while (extraWorkers.length > shape.workers - 1) await extraWorkers.pop()!.stop();
      const workers = [env.worker.pid, ...extraWorkers.map((w) => w.pid)];
      await prime(env, cluster.origin);
      runs.push(await measureShape(env, d, shape, cluster.origin, { api: [cluster.child.pid], worker: workers }));
    }
    runs.sort((a, b) => a.apis - b.apis || a.workers - b.workers);
    return { temporal: opts.temporal, concurrency: CONCURRENCY, cpus: os.availableParallelism(), runs, accountRowCommitsPerS };
  } finally {
    for (const w of extraWorkers) await w.stop().catch(() => undefined);
    await cluster?.child.stop().catch(() => undefined);
  }
}

async function prime(env: BenchEnv, origin: string): Promise<void> {
  const { body, headers } = videoSpec(env, env.fixture.instantVideo);
  await Promise.all(Array.from({ length: PRIMING_POSTS }, async () => {
    const answer = await fetch(`${origin}/v1/videos`, { method: 'POST', headers, body, signal: AbortSignal.timeout(60_000) });
    await answer.text();
  }));
  await waitForDrain(env.orm, 120_000, env.temporal);
}

/** What ran as Temporal, for the report's header: the server's version and shard count from the config it was started with. */
export function topologyOf(env: BenchEnv, onStack: boolean): Topology {
  if (!onStack) return { temporal: 'dev-server' };
  let historyShards: number | undefined;
  try {
    // startTemporalServer writes its config as JSON (a YAML subset) into the run folder.
    const config = JSON.parse(readFileSync(path.join(env.runDir, 'temporal', 'config', 'stack.yaml'), 'utf8')) as { persistence?: { numHistoryShards?: number } };
    historyShards = config.persistence?.numHistoryShards;
  } catch {
    // not where the server put it: the header leaves the count out
  }
  return { temporal: 'server', version: TEMPORAL_SERVER_VERSION, historyShards };
}

async function measureShape(env: BenchEnv, d: Durations, shape: ScalingShape, origin: string, roots: { api: number[]; worker: number[] }): Promise<ScalingRun> {
  const label = `${shape.apis} API, ${shape.workers} worker${shape.workers > 1 ? 's' : ''}`;
  env.log(`scaling: ${label}, POST /v1/videos at max (${CONCURRENCY} concurrent)`);
  const post = { ...videoSpec(env, env.fixture.instantVideo), origin };
  const tasksBefore = await taskRows(env);
  const before = cpuByKind(roots);
  const machineBefore = machineTicks();
  const started = Date.now();
  const counting = countTaskRows(env);
  // One autocannon run (the processes are primed): its POST latencies cover the whole load, not only the
  // few that fit a second run's window when a POST takes seconds. The rate skips the warm-up (admissionRate).
  const load = await env.load(`scaling-${shape.apis}a${shape.workers}w`, { ...post, mode: 'max', connections: CONCURRENCY, durationS: d.warmupS + d.measureS, warmupS: 0 })
    .finally(() => counting.stop());
  const loadEnded = Date.now();
  const atLoadEnd = cpuByKind(roots);
  const machineAfter = machineTicks();
  const left = await waitForDrain(env.orm, 120_000, env.temporal);
  const drained = Date.now();
  const after = cpuByKind(roots);
  const memory = memoryByKind(roots);
  const tasks = (await taskRows(env)) - tasksBefore;
  const connections = await postgresConnections(env);
  const loadS = (loadEnded - started) / 1000;
  const coresUnderLoad: Record<string, number> = {};
  for (const kind of KINDS) coresUnderLoad[kind] = round((atLoadEnd[kind] - before[kind]) / loadS);
  if (load.selfCpu !== undefined) coresUnderLoad['load generator'] = load.selfCpu;
  const cpuSeconds = {} as Record<Kind, number>;
  for (const kind of KINDS) cpuSeconds[kind] = round(after[kind] - before[kind]);
  const drainS = Math.round((drained - loadEnded) / 100) / 10;
  const rate = admissionRate(await counting.samples, d.warmupS, CONCURRENCY);
  // NaN is not JSON: results.json says null (not measurable), and so does the report.
  const admittedPerS = Number.isNaN(rate) ? null : rate;
  const machineBusy = round((machineAfter.busy - machineBefore.busy) / Math.max(1, machineAfter.total - machineBefore.total));
  env.log(
    `scaling: ${label}: ${admittedPerS ?? 'not measurable (no client got an answer)'} admitted/s (POSTs answered in the window ${load.rps}/s), POST p50 ${load.latency.p50} ms, p99 ${load.latency.p99} ms; ` +
      `${tasks} tasks drained in ${drainS} s${left ? ` (${left} left)` : ''}; machine ${Math.round(machineBusy * 100)}% busy; PostgreSQL connections ${JSON.stringify(connections)}`,
  );
  return {
    ...shape, load, admittedPerS, tasks, wallS: round((drained - started) / 1000), drainS, cpuSeconds, coresUnderLoad, machineBusy,
    postgresConnections: connections, memory,
  };
}

/**
 * Task rows over time while the load runs (every 250 ms). The rate of admission is read from them, not
 * from the POSTs answered inside the load's window: the load's warm-up and measured parts are two
 * autocannon runs, so the second starts with no request in flight and, when a POST takes seconds, its
 * window holds only the few that both began and ended in it. The server meanwhile admits at its own rate.
 */
function countTaskRows(env: BenchEnv): { samples: Promise<{ at: number; n: number }[]>; stop(): void } {
  let stopped = false;
  const samples = (async () => {
    const out: { at: number; n: number }[] = [];
    while (!stopped) {
      out.push({ at: Date.now(), n: await taskRows(env) });
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    out.push({ at: Date.now(), n: await taskRows(env) });
    return out;
  })();
  return { samples, stop: () => void (stopped = true) };
}

/** Busy and total CPU ticks of the whole machine (every process, ours or not), from /proc/stat. */
function machineTicks(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  // user nice system idle iowait irq softirq steal ...: idle and iowait are not busy.
  return { busy: total - (fields[3] ?? 0) - (fields[4] ?? 0), total };
}

/** Client connections open now by database (pools keep theirs a while after the load): the budget of max_connections. */
async function postgresConnections(env: BenchEnv): Promise<Record<string, number>> {
  const rows = await env.orm.em.getKnex().raw("select datname, count(*)::int as n from pg_stat_activity where backend_type = 'client backend' group by datname order by datname");
  return Object.fromEntries((rows.rows as { datname: string; n: number }[]).map((r) => [r.datname, r.n]));
}

async function taskRows(env: BenchEnv): Promise<number> {
  const rows = await env.orm.em.getKnex().raw('select count(*)::int as n from tasks');
  return rows.rows[0].n as number;
}

/**
 * Serial one-statement transactions on the bench account's row, each committed (synced, as a reservation's
 * commit is): the ceiling of one account's reservations, which all update that row under its lock until
 * they commit. A no-op update (`reserved = reserved`) leaves the ledger as it was.
 */
async function accountRowCommits(env: BenchEnv): Promise<number> {
  const knex = env.orm.em.getKnex();
  const started = process.hrtime.bigint();
  for (let i = 0; i < ROW_LOCK_COMMITS; i++) {
    await knex.transaction(async (trx) => {
      await trx.raw('update accounts set reserved = reserved where id = ?', [env.fixture.accountId]);
    });
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return Math.round(ROW_LOCK_COMMITS / seconds);
}

/** Cumulative CPU seconds of each kind now. */
function cpuByKind(roots: { api: number[]; worker: number[] }): Record<Kind, number> {
  const out = Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<Kind, number>;
  for (const p of processesByKind(roots)) out[p.kind] += p.cpuSeconds;
  return out;
}

/**
 * Resident memory of each kind now, MB, and how many processes: private (anonymous) memory of every
 * process, plus file-backed and shared memory once per kind (the same binary's pages and PostgreSQL's
 * shared buffers would otherwise count once per process).
 */
function memoryByKind(roots: { api: number[]; worker: number[] }): Record<Kind, { mb: number; processes: number }> {
  const out = Object.fromEntries(KINDS.map((k) => [k, { mb: 0, processes: 0 }])) as Record<Kind, { mb: number; processes: number }>;
  const once = Object.fromEntries(KINDS.map((k) => [k, { file: 0, shmem: 0 }])) as Record<Kind, { file: number; shmem: number }>;
  for (const p of processesByKind(roots)) {
    try {
      const status = readFileSync(`/proc/${p.pid}/status`, 'utf8');
      const mb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 1024;
      out[p.kind].mb += mb('RssAnon');
      out[p.kind].processes += 1;
      once[p.kind].file = Math.max(once[p.kind].file, mb('RssFile'));
      once[p.kind].shmem = Math.max(once[p.kind].shmem, mb('RssShmem'));
    } catch {
      // gone meanwhile
    }
  }
  for (const kind of KINDS) out[kind].mb = Math.round(out[kind].mb + once[kind].file + once[kind].shmem);
  return out;
}

/** This run's processes of each kind: the given API and worker processes with their children, the Temporal server, PostgreSQL. */
function processesByKind(roots: { api: number[]; worker: number[] }): { pid: number; kind: Kind; cpuSeconds: number }[] {
  const table = procTable();
  const under = (pid: number, ancestors: Set<number>): boolean => isUnder(table, pid, ancestors);
  const apis = new Set(roots.api);
  const workers = new Set(roots.worker);
  const ours = new Set([process.pid]);
  const out: { pid: number; kind: Kind; cpuSeconds: number }[] = [];
  for (const [pid, p] of table) {
    if (!under(pid, ours)) continue;
    let kind: Kind | null = null;
    let ticks = p.ticks;
    if (under(pid, apis)) kind = 'API';
    else if (under(pid, workers)) kind = 'worker';
    else {
      const cmdline = readCmdline(pid);
      if (/temporal-server|server start-dev/.test(cmdline)) kind = 'Temporal server';
      else if (/^postgres:|\/bin\/postgres\b/.test(cmdline)) {
        kind = 'PostgreSQL';
        // The postmaster's reaped children: connections closed meanwhile.
        if (/\/bin\/postgres\b/.test(cmdline)) ticks += p.reapedTicks;
      }
    }
    if (kind) out.push({ pid, kind, cpuSeconds: ticks / TICKS_PER_SECOND });
  }
  return out;
}

function readCmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
  } catch {
    return '';
  }
}

const round = (n: number) => Math.round(n * 1000) / 1000;
