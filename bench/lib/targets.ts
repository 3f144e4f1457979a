/**
 * The targets of issue 13, judged against a run's figures: one row per figure, each with the gateway's
 * measurement beside its same-run baselines (the same-shape workflow: the engine + our workflow's shape;
 * and the engine alone, or the route/upstream the figure is compared with). Pure: the report prints the
 * rows, bench/lib/limits.ts explains the missed ones, the unit tests check the judgement.
 */
import type { BenchResults } from './report';
import { atLeast, atMost } from './stats';

/** The thresholds, as the issue states them. */
export const TARGETS = {
  workerCpuMsPerTask: 15,
  workflowTasksPerTask: 3,
  historyEventsPerTask: 24,
  postRate: 20,
  postP50Ms: 40,
  postP99Ms: 150,
  admissionShareOfBare: 0.35,
  e2eFinalP50Ms: 250,
  e2eCallbackP50Ms: 400,
  carryingTasks: 2000,
  carryingAdmitS: 90,
  carryingLagP99Ms: 2000,
  carryingRssMb: 400,
  pollShareOfStatic: 0.6,
  pollRate: 1000,
  pollP99Ms: 10,
  chatRate: 500,
  chatAddedP99Ms: 10,
  /** "p50 unchanged": no more than this added at the median. */
  chatAddedP50Ms: 1,
  /** A fixed-rate load counts only if (nearly) all of the offered rate was answered. */
  answeredShare: 0.95,
} as const;

export type Scenario = 'admission' | 'e2e' | 'carrying' | 'polling' | 'chat';

/** Every row of the table, in its order (the chat row is one per process and variant). */
export const ROW_IDS = [
  'worker-cpu',
  'workflow-tasks',
  'history-events',
  'post-latency',
  'admission-share',
  'e2e-final',
  'e2e-callback',
  'carrying-admitted',
  'carrying-lag',
  'carrying-rss',
  'poll-max',
  'poll-p99',
  'chat-shipped-json',
  'chat-shipped-stream',
  'chat-api-only-json',
  'chat-api-only-stream',
] as const;
export type RowId = (typeof ROW_IDS)[number];

export interface TargetRow {
  id: RowId;
  /** The scenario that measures it (its section in the report). */
  scenario: Scenario;
  figure: string;
  target: string;
  /** The gateway's figure; "not measured in this run" when its scenario did not run. */
  measured: string;
  /** The same-shape workflow's figure, where one applies. */
  sameShape: string;
  /** The other baseline: bare starts (the engine), the static route, the fake upstream, an idle worker. */
  baseline: string;
  /** null: not measured in this run. */
  met: boolean | null;
}

export const num = (value: number | null | undefined, digits = 0): string =>
  value === undefined || value === null || Number.isNaN(value) ? '–' : Number(value.toFixed(digits)).toLocaleString('en-US');
/** A difference with its sign: +2 or -3. */
export const signed = (value: number | null | undefined, digits = 0): string => (typeof value === 'number' && value >= 0 ? `+${num(value, digits)}` : num(value, digits));
const pct = (share: number | null | undefined) => (share === undefined || share === null || Number.isNaN(share) ? '–' : `${num(share * 100, 1)}%`);

const NOT_RUN = 'not measured in this run';

/** Rows of every figure of the issue, judged on this run (rows of scenarios that did not run have met = null). */
export function evaluateTargets(results: BenchResults): TargetRow[] {
  const s = results.scenarios;
  const a = s.admission;
  const e = s.e2e;
  const c = s.carrying;
  const p = s.polling;
  const t = TARGETS;
  const row = (id: RowId, scenario: Scenario, figure: string, target: string, measuredIn: unknown, fill: () => Pick<TargetRow, 'measured' | 'sameShape' | 'baseline' | 'met'>): TargetRow =>
    measuredIn ? { id, scenario, figure, target, ...fill() } : { id, scenario, figure, target, measured: NOT_RUN, sameShape: '', baseline: '', met: null };

  const rows: TargetRow[] = [
    row('worker-cpu', 'admission', 'Worker CPU per task (instant mock task, all threads)', `<= ${t.workerCpuMsPerTask} ms`, a?.workerCpu, () => ({
      measured: `${num(a!.workerCpu.gateway.msPerTask, 1)} ms (${num(a!.workerCpu.gateway.tasks)} tasks)`,
      sameShape: `${num(a!.workerCpu.sameShape.msPerTask, 1)} ms`,
      baseline: `empty-workflow worker ${num(a!.workerCpu.empty.msPerTask, 1)} ms`,
      met: atMost(a!.workerCpu.gateway.msPerTask, t.workerCpuMsPerTask),
    })),
    row('workflow-tasks', 'e2e', 'Workflow tasks per instant task', `<= ${t.workflowTasksPerTask}`, e, () => ({
      measured: num(e!.workflowTasks, 1),
      sameShape: num(e!.sameShape?.workflowTasks, 1),
      baseline: `empty workflow ${num(e!.bare?.workflowTasks, 1)}`,
      met: atMost(e!.workflowTasks, t.workflowTasksPerTask),
    })),
    row('history-events', 'e2e', 'History events per instant task (with callback)', `<= ${t.historyEventsPerTask}`, e, () => ({
      measured: `p50 ${num(e!.historyEvents.p50)}, max ${num(e!.historyEvents.max)}`,
      sameShape: num(e!.sameShape?.historyEvents, 1),
      baseline: `empty workflow ${num(e!.bare?.historyEvents, 1)}`,
      met: atMost(e!.historyEvents.max, t.historyEventsPerTask),
    })),
    row('post-latency', 'admission', `POST p50 / p99 at ${t.postRate} tasks/s offered (60 s tasks)`, `<= ${t.postP50Ms} / <= ${t.postP99Ms} ms`, a?.paced, () => ({
      measured: `${num(a!.paced.gateway.latency.p50, 1)} / ${num(a!.paced.gateway.latency.p99, 1)} ms (${num(a!.paced.gateway.rps, 1)}/s answered)`,
      sameShape: `${num(a!.paced.sameShape.latency.p50, 1)} / ${num(a!.paced.sameShape.latency.p99, 1)} ms`,
      baseline: `bare start ${num(a!.paced.bare.latency.p50, 1)} / ${num(a!.paced.bare.latency.p99, 1)} ms`,
      met: answered(a!.paced.gateway.rps, a!.paced.rate) && atMost(a!.paced.gateway.latency.p50, t.postP50Ms) && atMost(a!.paced.gateway.latency.p99, t.postP99Ms),
    })),
    row('admission-share', 'admission', 'Max admission rate, as a share of bare starts', `>= ${pct(t.admissionShareOfBare)}`, a?.max, () => ({
      measured: `${num(a!.max.gateway.rps, 1)} tasks/s = ${pct(a!.max.ratio)} of bare, ${pct(a!.max.ratioSameShape)} of same-shape`,
      sameShape: `${num(a!.max.sameShape.rps, 1)}/s = ${pct(a!.max.sameShape.rps / a!.max.bare.rps)} of bare`,
      baseline: `bare start ${num(a!.max.bare.rps, 1)}/s`,
      met: atLeast(a!.max.ratio, t.admissionShareOfBare),
    })),
    row('e2e-final', 'e2e', 'End to end, instant provider: final status p50', `<= ${t.e2eFinalP50Ms} ms`, e, () => ({
      measured: `${num(e!.final.p50)} ms`,
      sameShape: `start -> result ${num(e!.sameShape?.load.resultLatency?.p50)} ms`,
      baseline: `empty workflow start -> result ${num(e!.bare?.load.resultLatency?.p50)} ms`,
      met: atMost(e!.final.p50, t.e2eFinalP50Ms),
    })),
    row('e2e-callback', 'e2e', 'End to end, instant provider: callback p50', `<= ${t.e2eCallbackP50Ms} ms`, e, () => ({
      measured: `${num(e!.callback.p50)} ms`,
      sameShape: `start -> result (callback step included) ${num(e!.sameShape?.load.resultLatency?.p50)} ms`,
      baseline: `empty workflow start -> result ${num(e!.bare?.load.resultLatency?.p50)} ms`,
      met: atMost(e!.callback.p50, t.e2eCallbackP50Ms),
    })),
    row('carrying-admitted', 'carrying', `Carrying ${num(t.carryingTasks)} tasks of 60 s: all admitted within`, `${num(t.carryingTasks)} in <= ${t.carryingAdmitS} s`, c, () => ({
      measured: `${num(c!.admitted)} of ${num(c!.tasks)} in ${num(c!.admissionS, 1)} s`,
      sameShape: a ? `at its max rate: ${num(c!.tasks / a.max.sameShape.rps, 1)} s` : '–',
      baseline: a ? `at the bare-start rate: ${num(c!.tasks / a.max.bare.rps, 1)} s` : '–',
      met: c!.tasks >= t.carryingTasks && c!.admitted >= c!.tasks && atMost(c!.admissionS, t.carryingAdmitS),
    })),
    row('carrying-lag', 'carrying', 'Carrying: status lag p99', `<= ${num(t.carryingLagP99Ms / 1000)} s`, c, () => ({
      measured: `${num(c!.statusLagMs.p99 / 1000, 2)} s (p50 ${num(c!.statusLagMs.p50 / 1000, 2)} s)`,
      sameShape: '–',
      baseline: 'the mock job\'s own end (lag counts from it)',
      met: atMost(c!.statusLagMs.p99, t.carryingLagP99Ms),
    })),
    row('carrying-rss', 'carrying', `Carrying: worker RSS at ${num(t.carryingTasks)} in flight`, `<= ${t.carryingRssMb} MB`, c, () => ({
      measured: `${num(c!.workerRssMb.peak)} MB with ${num(c!.peakInFlight)} in flight`,
      sameShape: '–',
      baseline: `the same worker idle: ${num(c!.workerRssMb.before)} MB`,
      met: c!.peakInFlight >= t.carryingTasks && atMost(c!.workerRssMb.peak, t.carryingRssMb),
    })),
    row('poll-max', 'polling', 'Task poll: max', `>= ${pct(t.pollShareOfStatic)} of the static route`, p, () => ({
      measured: `${num(p!.max.task.rps)} req/s = ${pct(p!.max.task.rps / p!.max.static.rps)}`,
      sameShape: '–',
      baseline: `static route ${num(p!.max.static.rps)} req/s`,
      met: atLeast(p!.max.task.rps / p!.max.static.rps, t.pollShareOfStatic),
    })),
    row('poll-p99', 'polling', `Task poll: p99 at ${num(t.pollRate)} req/s`, `<= ${t.pollP99Ms} ms`, p, () => ({
      measured: `${num(p!.paced.task.latency.p99, 1)} ms at ${num(p!.paced.rate)} req/s offered (${num(p!.paced.task.rps)} answered/s)`,
      sameShape: '–',
      baseline: `static route ${num(p!.paced.static.latency.p99, 1)} ms`,
      met: atLeast(p!.paced.rate, t.pollRate) && answered(p!.paced.task.rps, p!.paced.rate) && atMost(p!.paced.task.latency.p99, t.pollP99Ms),
    })),
  ];
  for (const [which, label] of [['shipped', '`npm start` as shipped (API + worker)'], ['apiOnly', 'API only (RUN_WORKER=0)']] as const) {
    for (const variant of ['json', 'stream'] as const) {
      const id = `chat-${which === 'shipped' ? 'shipped' : 'api-only'}-${variant}` as RowId;
      const v = s.chat?.[which]?.[variant];
      const direct = s.chat?.direct[variant];
      rows.push(row(id, 'chat', `Chat on one core, ${label}, ${variant === 'json' ? 'non-streaming' : 'streaming'}: added p50 / p99 at ${t.chatRate} req/s`,
        `p50 <= +${t.chatAddedP50Ms} ms (unchanged), p99 <= +${t.chatAddedP99Ms} ms`, v && direct, () => ({
          measured: `${signed(v!.paced.added.p50, 2)} / ${signed(v!.paced.added.p99, 1)} ms (${num(v!.paced.gateway.rps)} answered/s)`,
          sameShape: '–',
          baseline: `fake directly ${num(direct!.latency.p50, 2)} / ${num(direct!.latency.p99, 1)} ms`,
          met: answered(v!.paced.gateway.rps, s.chat!.rate) && atMost(v!.paced.added.p50, t.chatAddedP50Ms) && atMost(v!.paced.added.p99, t.chatAddedP99Ms),
        })));
    }
  }
  return rows;
}

/** A fixed-rate load whose answers kept up with the offered rate. */
function answered(rps: number, rate: number): boolean {
  return atLeast(rps, rate * TARGETS.answeredShare);
}
