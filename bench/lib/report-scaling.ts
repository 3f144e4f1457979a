/**
 * The scaling part of BENCHMARKS.md: what ran (the header's process list, dev server or the production
 * pair), how admission scaled from 1 to 2 API processes and workers, and what the measured CPU per task
 * predicts for a bigger machine. Pure functions of the results, so the arithmetic is unit-tested.
 */
import type { ScalingResult, ScalingRun, ScalingShape } from '../scenarios/scaling';

/** The kinds of process a task costs CPU in (the load generator is not one: clients run elsewhere). */
export const KINDS = ['API', 'worker', 'Temporal server', 'PostgreSQL'] as const;
export type Kind = (typeof KINDS)[number];

/** What a run's Temporal was (bench/run.ts fills it in from the services it started). */
export interface Topology {
  temporal: 'server' | 'dev-server';
  /** The Temporal server's version (`server` only). */
  version?: string;
  /** numHistoryShards of the server's config (`server` only). */
  historyShards?: number;
}

/** The bigger machine of the prediction, and the share of its cores the gateway may plan to keep busy. */
export const PREDICTION_CORES = 16;
export const PLANNED_UTILISATION = 0.75;

export interface Prediction {
  /** The shape whose costs the prediction uses. */
  basis: ScalingShape;
  cores: number;
  utilisation: number;
  /** CPU ms per admitted task (its whole workflow included), by kind. */
  msPerTask: Record<Kind, number>;
  totalMsPerTask: number;
  /** Tasks/s that cores x utilisation carry at that cost, if CPU is the only limit. */
  cpuTasksPerS: number;
  /** Cores of each kind at cpuTasksPerS. */
  coresAt: Record<Kind, number>;
  /** The kind that costs most per task. */
  largest: Kind;
  /** The lower of the CPU figure and the measured non-CPU ceilings, and which one it is. */
  limit: { tasksPerS: number; what: string };
}

/** The 2 API, 2 worker shape (the production topology's), else the shape that admitted the most tasks. */
export function basisRun(runs: ScalingRun[]): ScalingRun | undefined {
  return runs.find((r) => r.apis === 2 && r.workers === 2) ?? [...runs].sort((a, b) => b.tasks - a.tasks)[0];
}

/**
 * Tasks admitted per second from `warmupS` after the first admission to the last sample (the load's end).
 * NaN when the load admitted no more than `concurrency` tasks: then no client got an answer and sent
 * again, the rows are only the first burst and say nothing of a rate.
 */
export function admissionRate(samples: { at: number; n: number }[], warmupS: number, concurrency: number): number {
  const first = samples.find((s) => s.n > samples[0]!.n);
  const last = samples[samples.length - 1];
  if (!first || !last || last.n - samples[0]!.n <= concurrency) return NaN;
  const from = samples.find((s) => s.at >= first.at + warmupS * 1000) ?? first;
  const seconds = (last.at - from.at) / 1000;
  return seconds > 0 ? Math.round(((last.n - from.n) / seconds) * 10) / 10 : NaN;
}

/** Admitted tasks/s of a shape as a multiple of 1 API, 1 worker's (NaN when either is missing or not measurable). */
export function speedup(runs: ScalingRun[], shape: ScalingShape): number {
  const base = runs.find((r) => r.apis === 1 && r.workers === 1);
  const run = runs.find((r) => r.apis === shape.apis && r.workers === shape.workers);
  const [from, to] = [base?.admittedPerS ?? null, run?.admittedPerS ?? null];
  return from !== null && to !== null && from > 0 ? to / from : NaN;
}

export function predict(result: ScalingResult, cores = PREDICTION_CORES, utilisation = PLANNED_UTILISATION): Prediction | null {
  const run = basisRun(result.runs);
  if (!run || run.tasks <= 0) return null;
  const msPerTask = {} as Record<Kind, number>;
  for (const kind of KINDS) msPerTask[kind] = (run.cpuSeconds[kind] * 1000) / run.tasks;
  const totalMsPerTask = KINDS.reduce((sum, kind) => sum + msPerTask[kind], 0);
  const cpuTasksPerS = totalMsPerTask > 0 ? (cores * utilisation * 1000) / totalMsPerTask : Infinity;
  const coresAt = {} as Record<Kind, number>;
  for (const kind of KINDS) coresAt[kind] = (cpuTasksPerS * msPerTask[kind]) / 1000;
  const largest = [...KINDS].sort((a, b) => msPerTask[b] - msPerTask[a])[0]!;
  const rowLock = result.accountRowCommitsPerS;
  const limit = rowLock > 0 && rowLock < cpuTasksPerS
    ? { tasksPerS: rowLock, what: `one account's row lock (${rowLock} serial commits/s of its row measured here), before the CPU` }
    : { tasksPerS: cpuTasksPerS, what: `CPU, most of it in the ${largest} (${Math.round((msPerTask[largest] / totalMsPerTask) * 100)}% of the cost)` };
  return { basis: { apis: run.apis, workers: run.workers }, cores, utilisation, msPerTask, totalMsPerTask, cpuTasksPerS, coresAt, largest, limit };
}

const n = (v: number, digits = 1) => (Number.isFinite(v) ? Number(v.toFixed(digits)).toLocaleString('en-US') : '–');
const shapeName = (s: ScalingShape) => `${s.apis} API, ${s.workers} worker${s.workers > 1 ? 's' : ''}`;
const totalCores = (c: Record<string, number>) => Object.values(c).reduce((a, b) => a + b, 0);

/** The paragraph under the report's title that says which processes ran. */
export function setupText(topology: Topology | undefined): string {
  const ours = 'the API (`src/main.ts`, no worker), the worker (`workers/main.ts`), the baselines\' workers (empty workflow, same-shape), the fake OpenAI upstream (test/fakes), and each load generator';
  const shared = 'So the load generator, the servers under test and their databases share the same cores; the "CPU" lines say how many cores each used.';
  if (topology?.temporal !== 'server') {
    return `Every piece runs in its own process on this one machine: PostgreSQL (embedded), the Temporal dev server (SQLite), ${ours}. ${shared}`;
  }
  const shards = topology.historyShards ? `, ${topology.historyShards} history shards` : '';
  return [
    `Run with \`--stack\`: the production pair of services instead of the dev server. Every piece runs in its own process on this one machine:`,
    `PostgreSQL (embedded; one server holding the gateway's database and Temporal's \`temporal\` and \`temporal_visibility\`),`,
    `the Temporal server v${topology.version ?? '?'} (\`go.temporal.io/server/cmd/server\`: one process running the frontend, history, matching and worker services, persistence and visibility on that PostgreSQL${shards}),`,
    `${ours}. The scaling scenario adds \`src/api/main.ts\` with API_PROCESSES=1 and 2 (Node's cluster, as \`npm run stack\` runs the API) and a second worker.`,
    `Assets are on local disk (DATA_DIR), not S3. ${shared}`,
  ].join(' ');
}

/** The "Scaling" section: a row per shape, then the prediction and its assumptions. */
export function scalingSection(s: ScalingResult, ctx: { bareStartsPerS?: number; historyShards?: number } = {}): string[] {
  const out: string[] = ['## Scaling: API processes and workers', ''];
  if (s.temporal === 'dev-server') {
    out.push('**On the Temporal dev server** (SQLite, one process): the figures show the shape only. Scaling and the prediction are meant for the production pair: `npm run bench -- --stack`.', '');
  }
  out.push(`\`POST /v1/videos\` at max throughput (closed loop, ${s.concurrency} concurrent, a mock channel that finishes at submit) through ${s.runs.map(shapeName).join('; ')}, on the same Temporal server and PostgreSQL, on ${s.cpus} cores. The API is \`src/api/main.ts\` with API_PROCESSES=1 or 2 (Node's cluster, as \`npm run stack\` runs it). *Admitted/s* counts task rows created after the warm-up (a task row is the admission), *POST p50 / p99* cover every POST answered during the load (one closed-loop run, warm-up included, after 8 POSTs that primed the processes). CPU per task is each kind's CPU seconds (/proc/<pid>/stat, all threads, children included) from the load's start until every task it admitted had finished, divided by the tasks admitted (warm-up included): a task's whole workflow is in it. *Busy* is our processes' cores under load, then the whole machine's busy share (other processes included).`, '');
  out.push(`| Shape | admitted/s | vs 1 API, 1 worker | POST p50 / p99 ms | failed | tasks | drain s | ${KINDS.map((k) => `${k} ms/task`).join(' | ')} | total ms/task | busy |`);
  out.push(`|---|---|---|---|---|---|---|${KINDS.map(() => '---|').join('')}---|---|`);
  for (const r of s.runs) {
    const failed = Object.values(r.load.failed).reduce((a, b) => a + b, 0);
    const ms = KINDS.map((k) => (r.tasks > 0 ? (r.cpuSeconds[k] * 1000) / r.tasks : NaN));
    const x = speedup(s.runs, r);
    const machine = r.machineBusy === undefined ? '' : `; machine ${n(r.machineBusy * 100, 0)}%`;
    out.push(`| ${shapeName(r)} | ${n(r.admittedPerS ?? NaN)} | ${n(x, 2)}x | ${n(r.load.latency.p50, 0)} / ${n(r.load.latency.p99, 0)} | ${failed} | ${r.tasks} | ${n(r.drainS)} | ${ms.map((v) => n(v)).join(' | ')} | ${n(ms.reduce((a, b) => a + b, 0))} | ${n(totalCores(r.coresUnderLoad), 2)} of ${s.cpus}${machine} |`);
  }
  out.push('');
  const one = s.runs.find((r) => r.apis === 1 && r.workers === 1);
  if (one) {
    const ours = totalCores(one.coresUnderLoad);
    const machineBusy = one.machineBusy ?? ours / s.cpus;
    const others = machineBusy * s.cpus - ours;
    const why = machineBusy < 0.85
      ? `the machine was ${n(machineBusy * 100, 0)}% busy: the limit here is not the machine's CPU but a single process (the kind near 1.0 core) or a wait.`
      : others > 0.25 * s.cpus
        ? `the machine was ${n(machineBusy * 100, 0)}% busy, ${n(others, 1)} of its ${s.cpus} cores with processes that are not this run's: **a loaded machine**, these figures show the shape, not what the topology carries.`
        : `our processes kept ${n(ours, 2)} of ${s.cpus} cores busy: the machine's CPU is the limit, so a second process of a kind can only take cores from the others, and what scales is the CPU per task, not the process count.`;
    out.push(`From 1 to 2 workers: ${n(speedup(s.runs, { apis: 1, workers: 2 }), 2)}x; from 1 to 2 API processes: ${n(speedup(s.runs, { apis: 2, workers: 1 }), 2)}x; both: ${n(speedup(s.runs, { apis: 2, workers: 2 }), 2)}x. With 1 API and 1 worker ${why}`, '');
  }
  const both = s.runs.find((r) => r.apis === 2 && r.workers === 2);
  if (both?.memory) {
    const m = both.memory;
    out.push(`Memory after the 2 API, 2 worker load (private memory of each process, file-backed and shared memory once per kind): ${KINDS.filter((k) => m[k].processes > 0).map((k) => `${k} ${n(m[k].mb, 0)} MB in ${m[k].processes} process${m[k].processes > 1 ? 'es' : ''}`).join('; ')}.`, '');
  }
  if (both?.postgresConnections) {
    const c = both.postgresConnections;
    const total = Object.values(c).reduce((a, b) => a + b, 0);
    out.push(`PostgreSQL client connections after it: ${total} (${Object.entries(c).map(([db, k]) => `${db} ${k}`).join(', ')}), against PostgreSQL's default max_connections of 100 (the bench's server allows 300; each API and worker process pools up to 20).`, '');
  }
  const p = predict(s);
  if (p) {
    out.push(`### What this predicts for a ${p.cores}-core machine`, '');
    out.push(`From the ${shapeName(p.basis)} run's CPU per task (${n(p.totalMsPerTask)} ms in all), with these assumptions: every process of the topology on the one machine as here (PostgreSQL and the Temporal server included, the load generators elsewhere); the CPU per task stays what it was here (no gain from less contention, no loss from more coordination); ${Math.round(p.utilisation * 100)}% of the ${p.cores} cores planned busy, the rest headroom; enough API processes and workers for their share (one core each at most for an API process's event loop); tasks spread over many accounts.`, '');
    out.push('| Kind | CPU ms per task | share | cores at the predicted rate |', '|---|---|---|---|');
    for (const kind of KINDS) out.push(`| ${kind} | ${n(p.msPerTask[kind])} | ${n((p.msPerTask[kind] / p.totalMsPerTask) * 100, 0)}% | ${n(p.coresAt[kind])} |`);
    out.push(`| **all** | ${n(p.totalMsPerTask)} | 100% | ${n(p.cores * p.utilisation)} |`, '');
    out.push(`**If CPU is the limit: about ${n(p.cpuTasksPerS, 0)} tasks/s** (${p.cores} x ${p.utilisation} cores / ${n(p.totalMsPerTask)} ms per task). The limit this run names: ${p.limit.what}, so **about ${n(p.limit.tasksPerS, 0)} tasks/s**.`, '');
    const share = (kind: Kind) => n((p.msPerTask[kind] / p.totalMsPerTask) * 100, 0);
    const notes = [
      `One account's reservations all update its row under lock until they commit: ${s.accountRowCommitsPerS} serial commits/s of that row here (an upper bound; a reservation holds the lock longer than a one-statement transaction), so one account alone stays below that whatever the cores.`,
      `The Temporal server is ${share('Temporal server')}% of the cost per task and PostgreSQL (Temporal's persistence and the gateway's tables in one server here) ${share('PostgreSQL')}%: past one machine that part goes to a Temporal cluster with its own database (its history shard count is fixed when its database is created${ctx.historyShards ? `; ${ctx.historyShards} here` : ''}).`,
    ];
    if (ctx.bareStartsPerS) notes.push(`Bare \`workflow.start\` of an empty workflow in this run (the admission scenario): ${n(ctx.bareStartsPerS)}/s on ${s.cpus} cores, the Temporal server's own ceiling here.`);
    out.push(...notes.map((line) => `- ${line}`), '');
  }
  return out;
}

/** What sizingSection reads of the other scenarios (their result fields, kept loose on purpose). */
export interface SizingInputs {
  chat?: Partial<Record<'json' | 'stream', { paced: { rate: number; gateway?: { rps: number }; cpu: Record<string, number> } }>>;
  carrying?: { peakInFlight: number; workerRssMb: { before: number; peak: number }; cpuInFlight: Record<string, number> };
  scaling?: ScalingResult;
}

/** Cores (or MB) per `per` units of load, from `value` measured at `at` units. */
export function perUnits(value: number | undefined, at: number, per: number): number | undefined {
  return value === undefined || !(at > 0) ? undefined : (value / at) * per;
}

/**
 * "Sizing from this run": the figures docs/operations.md's sizing table is written from, each a measured
 * CPU (cores) or memory divided by the load it carried, scaled to a round load.
 */
export function sizingSection(r: SizingInputs): string[] {
  const rows: string[] = [];
  const cell = (v: number | undefined, unit: string, digits = 2) => (v === undefined ? '-' : `${n(v, digits)} ${unit}`);
  for (const variant of ['json', 'stream'] as const) {
    const c = r.chat?.[variant]?.paced;
    if (!c) continue;
    // Per request answered, not offered: a loaded machine answers fewer than the rate asked for.
    const answered = c.gateway?.rps ?? c.rate;
    const cores = KINDS.map((k) => cell(perUnits(c.cpu[k], answered, 100), 'core', 3));
    rows.push(`| 100 chat req/s, ${variant === 'json' ? 'non-streaming' : 'streaming'} (measured at ${n(answered, 0)}/s answered) | ${cores.join(' | ')} |`);
  }
  const k = r.carrying;
  if (k && k.peakInFlight > 0) {
    const cores = KINDS.map((kind) => perUnits(k.cpuInFlight[kind], k.peakInFlight, 1000));
    const workerMb = perUnits(k.workerRssMb.peak - k.workerRssMb.before, k.peakInFlight, 1000);
    rows.push(`| 1,000 tasks in flight (waiting on 60 s jobs; measured at ${k.peakInFlight}) | ${cell(cores[0], 'core')} | ${cell(cores[1], 'core')}, +${n(workerMb ?? NaN, 0)} MB | ${cell(cores[2], 'core')} | ${cell(cores[3], 'core')} |`);
  }
  const p = r.scaling ? predict(r.scaling) : null;
  if (p) {
    const ms = (kinds: Kind[]) => kinds.reduce((sum, kind) => sum + p.msPerTask[kind], 0);
    const per10 = KINDS.map((kind) => cell((ms([kind]) * 10) / 1000, 'core'));
    rows.push(`| 10 task admissions/s, each run to its end (${shapeName(p.basis)}) | ${per10.join(' | ')} |`);
  }
  const both = r.scaling ? basisRun(r.scaling.runs) : undefined;
  if (both?.memory) {
    const m = both.memory;
    const each = (kinds: Kind[]) => {
      const mb = kinds.reduce((sum, kind) => sum + m[kind].mb, 0);
      const processes = kinds.reduce((sum, kind) => sum + m[kind].processes, 0);
      return processes > 0 ? `${n(mb, 0)} MB in ${processes}` : '-';
    };
    rows.push(`| memory after the scaling load (resident, ${shapeName(both)}) | ${KINDS.map((kind) => each([kind])).join(' | ')} |`);
  }
  if (rows.length === 0) return [];
  return [
    '## Sizing from this run', '',
    'Each figure is a process kind\'s measured CPU (cores) or memory divided by the load it carried, scaled to a round load; docs/operations.md\'s sizing table is written from these. On a machine other processes load, they are trial figures.', '',
    `| Load | ${KINDS.join(' | ')} |`, `|---|${KINDS.map(() => '---|').join('')}`,
    ...rows, '',
  ];
}
