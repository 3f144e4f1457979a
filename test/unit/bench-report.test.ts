import type { BenchResults } from '../../bench/lib/report';
import { renderReport } from '../../bench/lib/report';
import { evaluateTargets, ROW_IDS, TARGETS, type RowId } from '../../bench/lib/targets';
import { CHANGES, limitsFor } from '../../bench/lib/limits';
import { eventLoopDelayBetween } from '../../bench/lib/event-loop';
import { cpuMsPerTask } from '../../bench/lib/proc-cpu';
import type { LoadResult } from '../../bench/lib/load-spec';
import { added, type LatencySummary } from '../../bench/lib/stats';

const latency = (p50: number, p99 = p50 * 2): LatencySummary => ({ count: 100, mean: p50, p50, p90: (p50 + p99) / 2, p99, max: p99 * 1.5 });
const load = (rps: number, p50: number, p99 = p50 * 2, extra: Partial<LoadResult> = {}): LoadResult => ({
  mode: 'paced', ok: Math.round(rps * 8), failed: {}, durationS: 8, rps, latency: latency(p50, p99), ...extra,
});
const chatVariant = (addedP50: number, addedP99: number) => ({
  paced: { gateway: load(500, 1 + addedP50, 3 + addedP99), added: { p50: addedP50, p90: addedP99 / 2, p99: addedP99 }, cpu: { API: 0.6 }, eventLoop: { source: 'x', p50Ms: 10, p99Ms: 12, maxMs: 20 } },
});

/** A full run whose every figure meets its target exactly at the limit (where a limit is inclusive). */
function passingRun(): BenchResults {
  return {
    machine: { cpus: 2, cpuModel: 'test', memoryGb: 4, node: 'v20', os: 'Linux', commit: 'abc1234', dirty: false, date: '2026-12-05T00:00:00Z' },
    durations: { warmupS: 2, measureS: 8, quick: false },
    errors: {},
    scenarioS: {},
    totalS: 600,
    scenarios: {
      chat: {
        rate: 500, pinning: { api: '1', rest: '0' },
        direct: { json: load(500, 1, 3), stream: load(500, 1.2, 4) },
        shipped: { json: chatVariant(1, 10), stream: chatVariant(0.5, 9) },
        apiOnly: { json: chatVariant(0.2, 2), stream: chatVariant(0.3, 3) },
      },
      admission: {
        max: {
          bare: load(100, 200), sameShape: load(60, 300), gateway: load(35, 500), ratio: 0.35, ratioSameShape: 0.583,
          cpuBare: { 'Temporal server': 1.1 }, cpuSameShape: { 'Temporal server': 0.9 }, cpuGateway: { 'Temporal server': 0.7, worker: 0.5 }, drainS: 1,
        },
        workerCpu: { gateway: { msPerTask: 15, tasks: 300 }, sameShape: { msPerTask: 10, tasks: 500 }, empty: { msPerTask: 2, tasks: 900 } },
        paced: { rate: 20, taskS: 60, bare: load(20, 5, 10), sameShape: load(20, 20, 60), gateway: load(20, 40, 150), cpu: { API: 0.1 } },
      },
      polling: {
        tasks: 200,
        max: { static: load(4000, 5), task: load(2400, 8), cpu: { API: 0.9 } },
        paced: { rate: 1000, targetRate: 1000, static: load(1000, 1, 3), task: load(1000, 2, 10), cpu: { API: 0.4 } },
      },
      e2e: {
        tasks: 50, rate: 5, post: latency(20), final: latency(250), callback: latency(400), historyEvents: { ...latency(24, 24), max: 24 },
        steps: [{ step: 'workflow task', count: 3, queuedMs: 5, ranMs: 10 }, { step: 'sendCallback', count: 1, queuedMs: 50, ranMs: 20 }],
        workflowMs: 200, workflowTasks: 3, historyByType: { WORKFLOW_TASK_COMPLETED: 3 },
        sameShape: { load: load(5, 10, 20, { resultLatency: latency(150) }), historyEvents: 22, workflowTasks: 3 },
        bare: { load: load(5, 5, 10, { resultLatency: latency(30) }), historyEvents: 5, workflowTasks: 1 },
      },
      carrying: {
        tasks: 2000, admitted: 2000, admissionS: 90, peakInFlight: 2000,
        workerRssMb: { before: 200, peak: 400, after: 250 }, apiRssMb: { peak: 150 },
        statusLagMs: latency(500, 2000), historyEvents: latency(30, 30), historyByType: { WORKFLOW_TASK_COMPLETED: 3 }, outcome: { succeeded: 2000 },
        cpuAdmission: { worker: 0.5 }, cpuInFlight: { worker: 0.1 }, cpuTotal: { worker: 0.3 }, samples: [],
      },
    },
  };
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] extends object ? Mutable<T[K]> : T[K] };
const metOf = (results: BenchResults) => Object.fromEntries(evaluateTargets(results).map((r) => [r.id, r.met])) as Record<RowId, boolean | null>;

describe('bench targets', () => {
  it('has one row per figure of the issue, in order, whether or not its scenario ran', () => {
    expect(evaluateTargets(passingRun()).map((r) => r.id)).toEqual([...ROW_IDS]);
    const empty = { ...passingRun(), scenarios: {} };
    const rows = evaluateTargets(empty);
    expect(rows.map((r) => r.id)).toEqual([...ROW_IDS]);
    expect(rows.every((r) => r.met === null && r.measured === 'not measured in this run')).toBe(true);
    expect(limitsFor(empty)).toEqual([]);
  });

  it('counts a figure exactly at its limit as met, and shows every baseline beside it', () => {
    const rows = evaluateTargets(passingRun());
    expect(rows.filter((r) => r.met !== true).map((r) => r.id)).toEqual([]);
    const byId = Object.fromEntries(rows.map((r) => [r.id, r]));
    expect(byId['worker-cpu']!.sameShape).toContain('10');
    expect(byId['worker-cpu']!.baseline).toContain('empty-workflow worker 2');
    expect(byId['admission-share']!.baseline).toContain('bare start 100');
    expect(byId['admission-share']!.measured).toContain('of same-shape');
    expect(byId['chat-shipped-json']!.baseline).toContain('fake directly');
  });

  it.each<[RowId, (r: Mutable<BenchResults>) => void]>([
    ['worker-cpu', (r) => { r.scenarios.admission!.workerCpu.gateway.msPerTask = 15.01; }],
    ['worker-cpu', (r) => { r.scenarios.admission!.workerCpu.gateway.msPerTask = null; }],
    ['workflow-tasks', (r) => { r.scenarios.e2e!.workflowTasks = 3.2; }],
    ['history-events', (r) => { r.scenarios.e2e!.historyEvents.max = 25; }],
    ['post-latency', (r) => { r.scenarios.admission!.paced.gateway.latency.p99 = 151; }],
    ['post-latency', (r) => { r.scenarios.admission!.paced.gateway.latency.p50 = 41; }],
    ['post-latency', (r) => { r.scenarios.admission!.paced.gateway.rps = 15; }],
    ['admission-share', (r) => { r.scenarios.admission!.max.ratio = 0.349; }],
    ['e2e-final', (r) => { r.scenarios.e2e!.final.p50 = 251; }],
    ['e2e-callback', (r) => { r.scenarios.e2e!.callback.p50 = 401; }],
    ['carrying-admitted', (r) => { r.scenarios.carrying!.admitted = 1999; }],
    ['carrying-admitted', (r) => { r.scenarios.carrying!.admissionS = 90.5; }],
    ['carrying-admitted', (r) => { r.scenarios.carrying!.tasks = 400; r.scenarios.carrying!.admitted = 400; }],
    ['carrying-lag', (r) => { r.scenarios.carrying!.statusLagMs.p99 = 2001; }],
    ['carrying-rss', (r) => { r.scenarios.carrying!.workerRssMb.peak = 401; }],
    ['carrying-rss', (r) => { r.scenarios.carrying!.peakInFlight = 564; }],
    ['poll-max', (r) => { r.scenarios.polling!.max.task.rps = 2399; }],
    ['poll-p99', (r) => { r.scenarios.polling!.paced.task.latency.p99 = 10.5; }],
    ['poll-p99', (r) => { r.scenarios.polling!.paced.rate = 800; }],
    ['chat-shipped-json', (r) => { r.scenarios.chat!.shipped.json.paced.added.p99 = 10.1; }],
    ['chat-shipped-stream', (r) => { r.scenarios.chat!.shipped.stream.paced.added.p50 = 1.1; }],
    ['chat-api-only-json', (r) => { r.scenarios.chat!.apiOnly.json.paced.gateway.rps = 450; }],
    ['chat-api-only-stream', (r) => { r.scenarios.chat!.apiOnly.stream.paced.added.p99 = 124; }],
  ])('misses %s (and only it) when its figure is past the limit', (id, spoil) => {
    const run = passingRun();
    spoil(run as Mutable<BenchResults>);
    const met = metOf(run);
    expect(met[id]).toBe(false);
    expect(Object.entries(met).filter(([, v]) => v !== true).map(([k]) => k)).toEqual([id]);
    const limits = limitsFor(run);
    expect(limits.flatMap((l) => l.ids)).toEqual([id]);
    expect(limits[0]!.limit.length).toBeGreaterThan(40);
  });
});

describe('bench limits', () => {
  it('names the largest part of the worker CPU per task as its limit', () => {
    const run = passingRun();
    run.scenarios.admission!.workerCpu = { gateway: { msPerTask: 130, tasks: 100 }, sameShape: { msPerTask: 100, tasks: 100 }, empty: { msPerTask: 5, tasks: 100 } };
    expect(limitsFor(run)[0]!.limit).toMatch(/and so the limit: our workflow's shape/);
    run.scenarios.admission!.workerCpu.gateway.msPerTask = 300;
    expect(limitsFor(run)[0]!.limit).toMatch(/and so the limit: our activities/);
  });

  it('says when the same-shape baseline alone is below the admission target', () => {
    const run = passingRun();
    run.scenarios.admission!.max.sameShape.rps = 30;
    run.scenarios.admission!.max.gateway.rps = 20;
    run.scenarios.admission!.max.ratio = 0.2;
    expect(limitsFor(run)[0]!.limit).toContain('the shape alone is below the target');
  });

  it('tells the shipped process\'s chat tail from the API-only one', () => {
    const run = passingRun();
    run.scenarios.chat!.shipped.json.paced.added.p99 = 124;
    const [limit] = limitsFor(run);
    expect(limit!.limit).toContain('The API-only process had added p99 +2 ms at the same rate: the worker in the process adds 122 ms at p99.');
    expect(limit!.limit).toContain('event-loop delay');
  });
});

describe('BENCHMARKS.md', () => {
  /** Every target missed at once: the most repetition a report could have. */
  function failingRun(): BenchResults {
    const run = passingRun();
    const s = run.scenarios;
    s.admission!.workerCpu.gateway.msPerTask = 130;
    s.admission!.max.ratio = 0.046;
    s.admission!.paced.gateway.latency.p99 = 400;
    s.e2e!.workflowTasks = 4;
    s.e2e!.historyEvents.max = 35;
    s.e2e!.final.p50 = 857;
    s.e2e!.callback.p50 = 1003;
    s.carrying!.admitted = 828;
    s.carrying!.statusLagMs.p99 = 9400;
    s.carrying!.workerRssMb.peak = 585;
    s.polling!.max.task.rps = 793;
    s.polling!.paced.task.latency.p99 = 90;
    for (const which of ['shipped', 'apiOnly'] as const) for (const v of ['json', 'stream'] as const) s.chat![which][v].paced.added.p99 = 124;
    return run;
  }

  const count = (text: string, part: string) => text.split(part).length - 1;

  it('says each explanation once, however many targets of a scenario are missed', () => {
    const run = failingRun();
    expect(evaluateTargets(run).every((r) => r.met === false)).toBe(true);
    const text = renderReport(run);
    for (const paragraphs of Object.values(CHANGES)) for (const p of paragraphs) expect(count(text, p)).toBe(1);
    const limits = limitsFor(run);
    expect(limits.flatMap((l) => l.ids)).toEqual([...ROW_IDS]);
    // Workflow tasks and history events have one limit (the workflow's shape): said once for both.
    expect(limits.find((l) => l.ids.includes('workflow-tasks'))!.ids).toEqual(['workflow-tasks', 'history-events']);
    for (const l of limits) expect(count(text, l.limit)).toBe(1);
    expect(count(text, 'Mean per task:')).toBe(1);
    expect(count(text, 'Two baselines run in the same run')).toBe(1);
    expect(count(text, '## What limits each missed target')).toBe(1);
  });

  it('has a target row for every figure with its verdict', () => {
    const text = renderReport(failingRun());
    const table = text.slice(text.indexOf('## Targets'), text.indexOf('## What limits'));
    for (const row of evaluateTargets(failingRun())) expect(count(table, `| ${row.figure} | ${row.target} |`)).toBe(1);
    expect(count(table, '**missed**')).toBe(ROW_IDS.length);
    expect(renderReport(passingRun())).not.toContain('## What limits each missed target');
  });

  it('leaves out the sections (and their history of changes) of scenarios that did not run', () => {
    const run = passingRun();
    delete run.scenarios.chat;
    const text = renderReport(run);
    expect(text).not.toContain('## Chat');
    expect(text).not.toContain(CHANGES.chat[0]!);
    expect(text).toContain(CHANGES.admission[0]!);
    expect(count(text, 'not measured in this run')).toBe(4);
  });
});

describe('bench measurements', () => {
  it('reads the event-loop delay from prom-client gauges, or from a histogram over the window', () => {
    const gauges = ['# HELP x', 'gateway_nodejs_eventloop_lag_p50_seconds 0.0101', 'gateway_nodejs_eventloop_lag_p99_seconds 0.0123', 'gateway_nodejs_eventloop_lag_max_seconds 0.05'].join('\n');
    expect(eventLoopDelayBetween('', gauges)).toEqual({ source: 'gateway_nodejs_eventloop_lag', p50Ms: 10.1, p99Ms: 12.3, maxMs: 50 });
    const hist = (a: number, b: number, c: number) => [
      `gateway_event_loop_delay_seconds_bucket{le="0.001"} ${a}`, `gateway_event_loop_delay_seconds_bucket{le="0.01"} ${b}`, `gateway_event_loop_delay_seconds_bucket{le="+Inf"} ${c}`,
      'gateway_nodejs_eventloop_lag_p99_seconds 0.5',
    ].join('\n');
    // Before: 10 samples all under 1 ms; over the window: 100 more, 98 under 1 ms and 2 between 1 and 10 ms.
    expect(eventLoopDelayBetween(hist(10, 10, 10), hist(108, 110, 110))).toEqual({ source: 'gateway_event_loop_delay_seconds (histogram)', p50Ms: 1, p99Ms: 10, maxMs: 10 });
    expect(eventLoopDelayBetween('', 'gateway_http_requests_total 5')).toBeNull();
  });

  it('divides a worker\'s CPU by the tasks it completed', () => {
    expect(cpuMsPerTask(1000, 2300, 10)).toBe(130);
    expect(cpuMsPerTask(null, 2300, 10)).toBeNull();
    expect(cpuMsPerTask(1000, 2300, 0)).toBeNull();
  });

  it('keeps the thresholds of the issue', () => {
    expect(TARGETS).toMatchObject({ workerCpuMsPerTask: 15, workflowTasksPerTask: 3, historyEventsPerTask: 24, postP50Ms: 40, postP99Ms: 150, admissionShareOfBare: 0.35, e2eFinalP50Ms: 250, e2eCallbackP50Ms: 400, carryingAdmitS: 90, carryingLagP99Ms: 2000, carryingRssMb: 400, pollShareOfStatic: 0.6, pollP99Ms: 10, chatAddedP99Ms: 10 });
  });
});

describe('bench added latency', () => {
  it('has no figure, not a negative one, when the gateway answered nothing', () => {
    // A load with no answer reports null percentiles in its JSON.
    const none = JSON.parse(JSON.stringify({ count: 0, mean: NaN, p50: NaN, p90: NaN, p99: NaN, max: NaN })) as LatencySummary;
    const got = added(none, latency(17.71, 1214.9));
    expect(Number.isNaN(got.p50) && Number.isNaN(got.p99)).toBe(true);
    expect(added(latency(20, 40), latency(17.5, 30))).toEqual({ p50: 2.5, p90: 6.25, p99: 10 });
  });
});
