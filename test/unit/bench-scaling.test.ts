import { admissionRate, KINDS, perUnits, predict, sizingSection, scalingSection, setupText, speedup, type Kind } from '../../bench/lib/report-scaling';
import type { ScalingResult, ScalingRun } from '../../bench/scenarios/scaling';
import type { LoadResult } from '../../bench/lib/load-spec';

const load = (rps: number, p50: number, p99: number): LoadResult => ({
  mode: 'max', ok: Math.round(rps * 5), failed: {}, durationS: 5, rps,
  latency: { count: Math.round(rps * 5), mean: p50, p50, p90: p99, p99, max: p99 },
});

const cpu = (api: number, worker: number, temporal: number, postgres: number): Record<Kind, number> => ({ API: api, worker, 'Temporal server': temporal, PostgreSQL: postgres });

const run = (apis: number, workers: number, rps: number, tasks: number, cpuSeconds: Record<Kind, number>): ScalingRun => ({
  apis, workers, load: load(rps / 2, 900, 2400), admittedPerS: rps, tasks, wallS: 10, drainS: 1.5, cpuSeconds,
  coresUnderLoad: { API: 0.2, worker: 0.8, 'Temporal server': 0.7, 'load generator': 0.2 }, machineBusy: 0.97,
});

/** 100 tasks at (2 API, 2 workers) costing 10 + 40 + 30 + 20 = 100 ms of CPU each. */
const result = (accountRowCommitsPerS = 500): ScalingResult => ({
  temporal: 'server', concurrency: 32, cpus: 2, accountRowCommitsPerS,
  runs: [
    run(1, 1, 10, 80, cpu(2, 2, 2, 4)),
    run(1, 2, 12, 90, cpu(2, 2, 2, 4)),
    run(2, 1, 9, 70, cpu(2, 2, 2, 4)),
    run(2, 2, 11, 100, cpu(1, 4, 3, 2)),
  ],
});

describe('the 16-core prediction', () => {
  it('takes CPU ms per task of each kind from the 2 API, 2 worker run and divides the planned cores by their sum', () => {
    const p = predict(result())!;
    expect(p.basis).toEqual({ apis: 2, workers: 2 });
    expect(p.msPerTask).toEqual({ API: 10, worker: 40, 'Temporal server': 30, PostgreSQL: 20 });
    expect(p.totalMsPerTask).toBe(100);
    // 16 cores x 0.75 = 12 cores of CPU; 12 / 0.1 s per task = 120 tasks/s.
    expect(p.cpuTasksPerS).toBeCloseTo(120, 6);
    expect(p.coresAt.worker).toBeCloseTo(4.8, 6);
    expect(p.coresAt['Temporal server']).toBeCloseTo(3.6, 6);
    expect(KINDS.reduce((sum, k) => sum + p.coresAt[k], 0)).toBeCloseTo(12, 6);
    expect(p.largest).toBe('worker');
    expect(p.limit.tasksPerS).toBeCloseTo(120, 6);
    expect(p.limit.what).toMatch(/^CPU, most of it in the worker \(40%/);
  });

  it('names one account\'s row lock as the limit when its measured commit rate is below the CPU figure', () => {
    const p = predict(result(80))!;
    expect(p.limit.tasksPerS).toBe(80);
    expect(p.limit.what).toMatch(/one account's row lock \(80 serial commits\/s/);
  });

  it('scales with the cores and utilisation it is given', () => {
    expect(predict(result(), 32, 0.5)!.cpuTasksPerS).toBeCloseTo(160, 6);
  });

  it('falls back to the run with the most tasks without a 2 API, 2 worker run, and gives nothing without tasks', () => {
    const r = result();
    r.runs = r.runs.filter((x) => !(x.apis === 2 && x.workers === 2));
    expect(predict(r)!.basis).toEqual({ apis: 1, workers: 2 });
    r.runs = r.runs.map((x) => ({ ...x, tasks: 0 }));
    expect(predict({ ...r, runs: [r.runs[0]!] })).toBeNull();
  });

  it('states speed-ups against 1 API, 1 worker', () => {
    expect(speedup(result().runs, { apis: 1, workers: 2 })).toBeCloseTo(1.2, 6);
    expect(speedup(result().runs, { apis: 2, workers: 1 })).toBeCloseTo(0.9, 6);
    expect(speedup([], { apis: 2, workers: 2 })).toBeNaN();
  });
});

describe('the scaling section of the report', () => {
  const text = scalingSection(result(), { bareStartsPerS: 150.4, historyShards: 4 }).join('\n');

  it('has a row per shape with tasks/s, speed-up, POST p50 / p99 and CPU ms per task of each kind', () => {
    expect(text).toContain('| 1 API, 1 worker | 10 | 1x | 900 / 2,400 | 0 | 80 | 1.5 | 25 | 25 | 25 | 50 | 125 | 1.9 of 2; machine 97% |');
    expect(text).toContain('| 1 API, 2 workers | 12 | 1.2x |');
    expect(text).toContain('| 2 API, 1 worker | 9 | 0.9x |');
    expect(text).toContain('| 2 API, 2 workers | 11 | 1.1x | 900 / 2,400 | 0 | 100 | 1.5 | 10 | 40 | 30 | 20 | 100 |');
    expect(text).toContain('From 1 to 2 workers: 1.2x; from 1 to 2 API processes: 0.9x; both: 1.1x.');
    expect(text).toContain("our processes kept 1.9 of 2 cores busy: the machine's CPU is the limit");
  });

  it('has the prediction per kind, its total, its assumptions and the limits it names', () => {
    expect(text).toContain('### What this predicts for a 16-core machine');
    expect(text).toContain('| worker | 40 | 40% | 4.8 |');
    expect(text).toContain('| Temporal server | 30 | 30% | 3.6 |');
    expect(text).toContain('| **all** | 100 | 100% | 12 |');
    expect(text).toContain('**If CPU is the limit: about 120 tasks/s** (16 x 0.75 cores / 100 ms per task)');
    expect(text).toContain('75% of the 16 cores planned busy');
    expect(text).toContain('500 serial commits/s of that row');
    expect(text).toContain('The Temporal server is 30% of the cost per task and PostgreSQL');
    expect(text).toContain('| PostgreSQL | 20 | 20% | 2.4 |');
    expect(text).toContain('4 here');
    expect(text).toContain('150.4/s');
    expect(text).not.toContain('dev server');
  });

  it('calls a machine busy with other processes loaded instead of naming its CPU the limit', () => {
    const r = result();
    r.runs[0] = { ...r.runs[0]!, coresUnderLoad: { API: 0.3, worker: 0.4 }, machineBusy: 1 };
    const loaded = scalingSection(r).join('\n');
    expect(loaded).toContain('1.3 of its 2 cores with processes that are not this run\'s: **a loaded machine**');
    expect(loaded).not.toContain("the machine's CPU is the limit");
  });

  it('lists memory and PostgreSQL connections of the 2 API, 2 worker shape', () => {
    const r = result();
    const mem = (mb: number, processes: number) => ({ mb, processes });
    r.runs[3] = {
      ...r.runs[3]!, postgresConnections: { gateway: 45, temporal: 30, temporal_visibility: 6 },
      memory: { API: mem(900, 3), worker: mem(700, 2), 'Temporal server': mem(250, 1), PostgreSQL: mem(120, 36) },
    };
    const text = scalingSection(r).join('\n');
    expect(text).toContain("API 900 MB in 3 processes; worker 700 MB in 2 processes; Temporal server 250 MB in 1 process; PostgreSQL 120 MB in 36 processes.");
    expect(text).toContain('PostgreSQL client connections after it: 81 (gateway 45, temporal 30, temporal_visibility 6)');
  });

  it('says when it ran on the dev server', () => {
    expect(scalingSection({ ...result(), temporal: 'dev-server' }).join('\n')).toContain('**On the Temporal dev server**');
  });
});

describe('the admission rate from task rows', () => {
  it('counts rows from the warm-up after the first admission to the last sample', () => {
    // Nothing for 1 s (the load process starting), then 10 rows/s for 2 s of warm-up, then 20 rows/s for 4 s.
    const samples = [{ at: 0, n: 5 }, { at: 1000, n: 5 }, { at: 1500, n: 10 }, { at: 3500, n: 30 }, { at: 5500, n: 70 }, { at: 7500, n: 110 }];
    expect(admissionRate(samples, 2, 32)).toBe(20);
    expect(admissionRate(samples, 0, 32)).toBeCloseTo(16.7, 6);
  });

  it('is not a number when the load admitted no more than its first burst of concurrent POSTs', () => {
    const burst = [{ at: 0, n: 0 }, { at: 1000, n: 10 }, { at: 2000, n: 32 }, { at: 3000, n: 32 }, { at: 7000, n: 32 }];
    expect(admissionRate(burst, 2, 32)).toBeNaN();
    expect(admissionRate([{ at: 0, n: 3 }, { at: 5000, n: 3 }], 2, 32)).toBeNaN();
    expect(admissionRate([], 2, 32)).toBeNaN();
  });

  it('shows a shape whose rate was not measurable as a dash, and no speed-up against it', () => {
    const r = result();
    r.runs[0] = { ...r.runs[0]!, admittedPerS: null };
    const text = scalingSection(r).join('\n');
    expect(text).toContain('| 1 API, 1 worker | – | –x |');
    expect(text).toContain('From 1 to 2 workers: –x');
  });
});

describe('the report header', () => {
  it('describes the Temporal server on PostgreSQL and its processes for --stack', () => {
    const text = setupText({ temporal: 'server', version: '1.29.1', historyShards: 4 });
    expect(text).toContain('the Temporal server v1.29.1');
    expect(text).toContain('`temporal_visibility`');
    expect(text).toContain('4 history shards');
    expect(text).toContain('API_PROCESSES=1 and 2');
    expect(text).not.toMatch(/dev server \(SQLite\)/);
  });

  it('describes the dev server otherwise', () => {
    expect(setupText({ temporal: 'dev-server' })).toContain('the Temporal dev server (SQLite)');
    expect(setupText(undefined)).toContain('the Temporal dev server (SQLite)');
  });
});

describe('the sizing figures', () => {
  it('divides each kind\'s measured cores and memory by the load it carried, scaled to a round load', () => {
    expect(perUnits(0.9, 500, 100)).toBeCloseTo(0.18, 9);
    expect(perUnits(undefined, 500, 100)).toBeUndefined();
    expect(perUnits(1, 0, 100)).toBeUndefined();
    const r = result();
    r.runs[3] = {
      ...r.runs[3]!,
      memory: { API: { mb: 900, processes: 3 }, worker: { mb: 700, processes: 2 }, 'Temporal server': { mb: 250, processes: 1 }, PostgreSQL: { mb: 160, processes: 50 } },
    };
    const text = sizingSection({
      chat: { json: { paced: { rate: 500, gateway: { rps: 450 }, cpu: { API: 0.9, PostgreSQL: 0.072, 'load generator': 0.4 } } }, stream: { paced: { rate: 500, cpu: { API: 1 } } } },
      carrying: { peakInFlight: 500, workerRssMb: { before: 300, peak: 550 }, cpuInFlight: { worker: 1, 'Temporal server': 0.4, PostgreSQL: 0.2 } },
      scaling: r,
    }).join('\n');
    expect(text).toContain('| 100 chat req/s, non-streaming (measured at 450/s answered) | 0.2 core | - | - | 0.016 core |');
    expect(text).toContain('| 100 chat req/s, streaming (measured at 500/s answered) | 0.2 core | - | - | - |');
    expect(text).toContain('| 1,000 tasks in flight (waiting on 60 s jobs; measured at 500) | - | 2 core, +500 MB | 0.8 core | 0.4 core |');
    // 10/s x (10, 40, 30, 20) ms per task.
    expect(text).toContain('| 10 task admissions/s, each run to its end (2 API, 2 workers) | 0.1 core | 0.4 core | 0.3 core | 0.2 core |');
    expect(text).toContain('| 900 MB in 3 | 700 MB in 2 | 250 MB in 1 | 160 MB in 50 |');
  });

  it('is left out when no scenario it reads ran', () => {
    expect(sizingSection({})).toEqual([]);
  });
});
