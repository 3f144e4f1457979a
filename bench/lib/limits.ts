/**
 * "What limits it": for every target a run misses (bench/lib/targets.ts), the measurement of that run
 * that limits it, in a sentence written from the run's own figures (the same-shape and bare baselines,
 * the CPU of each process, the workers' CPU per task, the event-loop delay, the profiles). And, once
 * per scenario, what was changed so far with the figures measured while changing it (CHANGES): the
 * report prints each of those once, in its scenario's section, however many of its rows are missed.
 */
import type { BenchResults } from './report';
import type { ProfileSummary } from './profile';
import { evaluateTargets, num as n, signed, TARGETS, type RowId, type Scenario, type TargetRow } from './targets';

const cores = (cpu: Record<string, number> | undefined) =>
  cpu ? Object.entries(cpu).filter(([, v]) => v >= 0.05).map(([k, v]) => `${k} ${n(v, 2)}`).join(', ') : '–';
const topAreas = (p: ProfileSummary | undefined, count = 4) =>
  p ? p.areas.slice(0, count).map((a) => `${a.area} ${n(a.share, 1)}%`).join(', ') : 'not profiled in this run';

/** The busiest process of a CPU reading, and all processes together, in cores. */
function busiest(cpu: Record<string, number> | undefined): string {
  const entries = Object.entries(cpu ?? {}).sort((a, b) => b[1] - a[1]);
  if (entries.length === 0) return '–';
  const total = entries.reduce((sum, [, v]) => sum + v, 0);
  return `${entries[0]![0]} at ${n(entries[0]![1], 2)} cores (all processes together ${n(total, 2)})`;
}

/** What each change bought, measured on the development machine (2 cores, shared with other suites); one paragraph each, under its scenario. */
export const CHANGES: Record<Scenario, string[]> = {
  chat: [
    'Profiled first: every request made about ten database round trips (model, channels, channel credentials, a hold ' +
      'transaction, a settle transaction and its usage row), all serialised on the one account row: 9.4 req/s at max, ' +
      'PostgreSQL about 30 ms of CPU per request. Now none: models, channels and decrypted credentials are cached for 2 s ' +
      '(src/routing/route-cache.ts), holds are carved in memory from credit-lease blocks that are ordinary holds, and ' +
      'captures with their usage rows are written in one transaction every 20 ms (src/billing/credit-lease.ts); ' +
      'PostgreSQL fell to about 0.15 ms of CPU per request. Then upstream calls moved from global fetch (undici, ~14% of ' +
      'the API\'s CPU) to node http with keep-alive agents, the request\'s EntityManager and child logger are made only ' +
      'when used, and stream events that arrive together go out in one write: API CPU per request went from about ' +
      '3.8 ms to 1.8 ms (non-streaming) in same-machine runs. What is left is node\'s own HTTP machinery for two HTTP ' +
      'exchanges per request (socket writes alone 11-16%), which the fake answers with one.',
    'Issue 13: event-loop delay is exported as a histogram (`gateway_event_loop_delay_seconds`, src/metrics/event-loop.ts) and read ' +
      'here. Looked for stalls of our own on one pinned core (loaded machine): the 20 ms credit-lease flush blocks about 0.08 ms (1.5% ' +
      'of CPU), LOG_LEVEL=warn writes nothing per request, a larger young generation (--max-semi-space-size=64) made fewer but longer ' +
      'GC pauses (45 ms against 6.8 ms; kept the default), and the in-process worker\'s threads used 0-10 ms of CPU over a whole chat ' +
      'load. Not fixed: see the limit above.',
  ],
  admission: [
    'The Temporal dev server of the benchmark runs its SQLite with `journal_mode=wal, synchronous=off` (bench/lib/bench-env.ts): ' +
      'with the default journal every write was synced and bare starts topped out at 14/s; with WAL, 36-42/s on the same machine ' +
      'and load (it helps the baselines and the gateway alike; production runs a Temporal cluster).',
    'The mock\'s MP4 writer wrote every PCM byte bit by bit: 15 ms of worker CPU per video output, now 3 ms (src/media/mp4.ts).',
    'A CPU profile of the worker (BENCH_PROFILE_WORKER=<dir>) under admission load at 8 concurrent spent 27% of its workflow ' +
      'thread in the SDK\'s promise hook, which captures and formats a stack trace for every promise a workflow creates (`init`, ' +
      '`prepareStackTrace`, `formatCallsiteName`, the stack-cutting regexes; temporalio/sdk-typescript#1587, no switch in 1.24), and ' +
      '36% in the sandbox\'s `runInContext`: about 130 ms of workflow-thread CPU per task. Every reservation of one account also updates ' +
      'the same `accounts` and `api_keys` rows under lock until its commit, and a synced commit takes 8.4 ms on this disk (1.3 ms ' +
      'unsynced): one account\'s reservations serialise at about 100/s whatever the CPU.',
    'Issue 13: the API reserves itself (task row and hold in one transaction, src/billing/task-reservation.ts) and then starts ' +
      'the workflow (USE_EXISTING, REJECT_DUPLICATE) instead of Update-With-Start waiting for a worker to run `reserveCredits`; a ' +
      'sweeper starts (or refunds) a reservation whose API died before the start. Same minute, loaded machine, p50 at 2/s 73 -> 38 ' +
      'ms, at 10/s 387 -> 35 ms; Update-With-Start fell behind at 15/s. The workflow bundle carries an empty source map ' +
      '(WORKFLOW_SOURCE_MAP=full keeps it), so the per-promise stack-trace hook maps no frames. Instant tasks take 2 workflow tasks ' +
      'and 18 history events instead of 4 and 35 (below, End to end).',
  ],
  e2e: [
    '`pickChannel`, `settleCredits` and `refundCredits` run as local activities (workflows/media-task.workflow.ts, behind the ' +
      '`local-bookkeeping` patch so workflows started earlier replay): two fewer activity round trips through the task queue per task, ' +
      'and a task that finishes at once (with a callback) went from 43 to 35 history events.',
    'Issue 13: runs started by the current API take every current path under one patch (`admitted-lean`; each patch costs a ' +
      'marker and a TemporalChangeVersion upsert): the deadline timer only when the task has to wait, status and channel in one ' +
      'upsert, the asset copy and the callback tried first as local activities (queued with their retries if that fails), and a job ' +
      'the callback or the poller flags read as a local activity. Instant task with callback: 35 -> 18 events, 4 -> 2 workflow tasks; ' +
      'the histories recorded from main at 2fd22b0 replay (test/integration/workflow-replay.test.ts).',
  ],
  carrying: [
    'Worker activity slots 200 -> 5,000 and workflow cache 2,000 -> 5,000 (workers/media-worker.ts): `waitForProvider` holds a slot ' +
      'for its job\'s whole life, so with 200 slots the 201st job in flight was not even polled until another ended (2,000 jobs of 60 s ' +
      'would have finished over ~10 minutes).',
    'Long jobs are polled less often: the interval grows by half each poll up to 1 s (or the channel\'s own, if longer); the mock\'s ' +
      '250 ms made 8,000 polls a second for 2,000 jobs, now 2,000. Progress goes to a batched writer (activities/progress-writer.ts): ' +
      'one UPDATE a second per worker instead of one per poll and task (~3,700 statements a second for 2,000 jobs at 250 ms).',
    'Issue 13: a shared poller per worker (src/providers/job-poller/, PROVIDER_POLLER=shared, the default) polls every waiting ' +
      'job from PostgreSQL (claimed with SKIP LOCKED under a 10 s lease) and signals the workflow when the job ended, so no activity ' +
      'slot is held while a job waits; a killed worker\'s jobs come due again after the lease. Loaded machine, ~1,000 waiting jobs: ' +
      'worker CPU per job per second 0.28 -> 0.12 ms, Temporal server 0.45 -> 0.14 ms, worker RSS 647 -> 566 MB.',
  ],
  polling: [
    '`GET /v1/tasks/{id}` reads the task and its assets in one SQL statement with only the columns it shows, instead of two ORM ' +
      'queries with entity hydration: 460 -> 916 req/s over one connection, 370 -> 778 over 32 (same machine, same minute). A plain ' +
      'poll no longer builds an AbortController whose abort() made a DOMException with a stack at every response (~3% of its CPU).',
    'Issue 13: a finished task\'s answer is kept in memory per account (src/modules/tasks/task-answers.ts, at most 10,000) and ' +
      'every answer carries a strong ETag (304 on If-None-Match); a cached answer forks no EntityManager. Same minute, one pinned ' +
      'core: 847 -> 3,725 req/s against the static route\'s 4,149 -> 5,174 (20% -> 72%).',
  ],
};

export interface Limit {
  /** The missed rows this explains (several when one measurement limits them all). */
  ids: RowId[];
  scenario: Scenario;
  figure: string;
  /** The limiting measurement, from this run's figures. */
  limit: string;
}

/**
 * The limiting measurement of each missed target (rows not measured in this run are not missed). Rows
 * limited by the same measurement share one entry, so the report says it once.
 */
export function limitsFor(results: BenchResults, rows: TargetRow[] = evaluateTargets(results)): Limit[] {
  const missed = new Set(rows.filter((r) => r.met === false).map((r) => r.id));
  const out: Limit[] = [];
  for (const r of rows) {
    if (!missed.has(r.id)) continue;
    const limit = limitText(r.id, results, missed);
    const same = out.find((l) => l.limit === limit);
    if (same) {
      same.ids.push(r.id);
      same.figure += `; ${r.figure}`;
    } else {
      out.push({ ids: [r.id], scenario: r.scenario, figure: r.figure, limit });
    }
  }
  return out;
}

function limitText(id: RowId, results: BenchResults, missed: Set<RowId>): string {
  const s = results.scenarios;
  const a = s.admission!;
  const e = s.e2e!;
  const c = s.carrying!;
  const p = s.polling!;
  switch (id) {
    case 'worker-cpu': {
      const { gateway, sameShape, empty } = a.workerCpu;
      const parts: [string, number | null][] = [
        ['the engine (the empty-workflow worker\'s CPU per workflow)', empty.msPerTask],
        ['our workflow\'s shape (same-shape minus empty)', diff(sameShape.msPerTask, empty.msPerTask)],
        ['our activities and what they call (gateway minus same-shape)', diff(gateway.msPerTask, sameShape.msPerTask)],
      ];
      const largest = [...parts].sort((x, y) => (y[1] ?? -1) - (x[1] ?? -1))[0]!;
      return `Of the worker's ${n(gateway.msPerTask, 1)} ms per task: ${parts.map(([k, v]) => `${k} ${n(v, 1)} ms`).join('; ')}. ` +
        `The largest part, and so the limit: ${largest[0]}.`;
    }
    case 'workflow-tasks':
    case 'history-events': {
      const shape = `The same-shape workflow (the same steps with no-op activities) takes ${n(e.sameShape?.workflowTasks, 1)} workflow tasks and ` +
        `${n(e.sameShape?.historyEvents, 1)} events, the empty workflow ${n(e.bare?.workflowTasks, 1)} and ${n(e.bare?.historyEvents, 1)}: ` +
        'the count is set by the workflow\'s shape (which steps are queued activities, which local, each upsert), not by the activities\' work.';
      const types = e.historyByType ? ` Events of one task by type: ${Object.entries(e.historyByType).map(([k, v]) => `${k} ${v}`).join(', ')}.` : '';
      return shape + types;
    }
    case 'post-latency': {
      const g = a.paced.gateway.latency;
      const ss = a.paced.sameShape.latency;
      return `POST p50/p99 ${n(g.p50, 1)} / ${n(g.p99, 1)} ms, where starting the same workflow the same way with an instant reservation takes ` +
        `${n(ss.p50, 1)} / ${n(ss.p99, 1)} ms and a bare start ${n(a.paced.bare.latency.p50, 1)} / ${n(a.paced.bare.latency.p99, 1)} ms: ` +
        `${atOrAbove(ss.p99, TARGETS.postP99Ms) ? 'the start the POST waits on alone misses the target' : `the API adds ${n(diff(g.p50, ss.p50), 1)} / ${n(diff(g.p99, ss.p99), 1)} ms over the start it waits on`}. ` +
        `CPU at ${a.paced.rate}/s: ${cores(a.paced.cpu)} (cores).`;
    }
    case 'admission-share':
      return `At max the busiest process was ${busiest(a.max.cpuGateway)} (bare starts: ${busiest(a.max.cpuBare)}). ` +
        `The same-shape workflow reached ${n((a.max.sameShape.rps / a.max.bare.rps) * 100, 1)}% of bare starts (the engine + our workflow's shape, no activity work), ` +
        `the gateway ${n(a.max.ratioSameShape * 100, 1)}% of same-shape: ${a.max.sameShape.rps / a.max.bare.rps < TARGETS.admissionShareOfBare ? 'the shape alone is below the target' : 'the rest is what our activities and the API cost'}. ` +
        (a.max.gateway.ok === 0 ? `No POST was answered inside the ${n(a.max.gateway.durationS)} s window (the tasks drained in ${n(a.max.drainS, 1)} s). ` : '') +
        `CPU at max: POST ${cores(a.max.cpuGateway)}; same-shape ${cores(a.max.cpuSameShape)}; bare ${cores(a.max.cpuBare)} (cores).`;
    case 'e2e-callback':
      if (missed.has('e2e-final')) return callbackGap(e) + ' Before it, the chain that limits the final status (previous entry).';
      return e2eChain(e) + ' ' + callbackGap(e);
    case 'e2e-final':
      return e2eChain(e);
    case 'carrying-admitted':
      return `${n(c.admitted)} admitted in ${n(c.admissionS, 1)} s = ${n(c.admitted / c.admissionS, 1)}/s by 16 clients` +
        (s.admission ? ` (the gateway's max admission rate: ${n(a.max.gateway.rps, 1)}/s; ${n(c.tasks)} at it would take ${n(c.tasks / a.max.gateway.rps, 1)} s)` : '') +
        `. CPU while admitting: ${cores(c.cpuAdmission)} (cores).`;
    case 'carrying-lag':
      return `Lag = the poll wait + the job's last steps (persist, settle, workflow tasks). Here p50 ${n(c.statusLagMs.p50)} ms, p99 ${n(c.statusLagMs.p99)} ms; ` +
        `${n(c.admitted)} tasks were admitted in ${n(c.admissionS, 1)} s, so they also come due at that rate, and each finishing task costs the same chain ` +
        `as one end to end. CPU while they waited: ${cores(c.cpuInFlight)}; over the scenario: ${cores(c.cpuTotal)} (cores).`;
    case 'carrying-rss': {
      const perTask = c.peakInFlight > 0 ? (c.workerRssMb.peak - c.workerRssMb.before) / c.peakInFlight : null;
      return `Worker RSS ${n(c.workerRssMb.before)} MB idle, ${n(c.workerRssMb.peak)} MB with ${n(c.peakInFlight)} in flight: ` +
        `${n(perTask, 2)} MB per task in flight` +
        (perTask !== null ? `, so about ${n(c.workerRssMb.before + perTask * TARGETS.carryingTasks)} MB at ${n(TARGETS.carryingTasks)}` : '') +
        (c.peakInFlight < TARGETS.carryingTasks ? `; only ${n(c.peakInFlight)} were in flight at once (admission is the limit first)` : '') + '.';
    }
    case 'poll-max':
      return `The static route of the same app did ${n(p.max.static.rps)} req/s, the task read ${n(p.max.task.rps)}: the difference is the key ` +
        `lookup, the task's read and its signed asset links. CPU at max: ${cores(p.max.cpu)} (cores). Profile: ${topAreas(s.profile?.['GET /v1/tasks/{id}'])}.`;
    case 'poll-p99':
      return `p99 ${n(p.paced.task.latency.p99, 1)} ms at ${n(p.paced.rate)} req/s offered (${n(p.paced.task.rps)} answered/s), the static route ` +
        `${n(p.paced.static.latency.p99, 1)} ms at the same rate` +
        (p.paced.rate < TARGETS.pollRate ? `; the route's max is below ${n(TARGETS.pollRate)} req/s, so the rate itself was out of reach` : '') +
        `. CPU: ${cores(p.paced.cpu)} (cores).`;
    default:
      return chatLimit(id, results);
  }
}

function chatLimit(id: RowId, results: BenchResults): string {
  const chat = results.scenarios.chat!;
  const which = id.startsWith('chat-shipped') ? 'shipped' : 'apiOnly';
  const variant = id.endsWith('stream') ? 'stream' : 'json';
  const v = chat[which][variant];
  const other = chat[which === 'shipped' ? 'apiOnly' : 'shipped']?.[variant];
  const api = v.paced.cpu.API;
  const loop = v.paced.eventLoop;
  const starved = api !== undefined && api < 0.8 && v.paced.gateway.rps < chat.rate * TARGETS.answeredShare;
  return `The API used ${n(api, 2)} of its one core at ${chat.rate} req/s` +
    (starved ? ' while falling behind: it waited rather than computed (its core shared with other work, or waiting on what it calls)' : '') +
    (loop ? `; its event-loop delay over the load (${loop.source}): p50 ${n(loop.p50Ms, 1)} ms, p99 ${n(loop.p99Ms, 1)} ms, max ${n(loop.maxMs, 1)} ms` : '; it exports no event-loop delay') +
    (v.paced.gateway.rps < chat.rate * TARGETS.answeredShare ? `; it answered only ${n(v.paced.gateway.rps)}/s, so requests queued` : '') +
    (other ? `. ${which === 'shipped' ? 'The API-only process' : '`npm start` as shipped'} had added p99 ${signed(other.paced.added.p99, 1)} ms at the same rate` +
      (which === 'shipped' && other.paced.added.p99 < v.paced.added.p99 ? `: the worker in the process adds ${n(v.paced.added.p99 - other.paced.added.p99, 1)} ms at p99.` : '.') : '.') +
    (chat.pinning ? '' : ' (Nothing was pinned in this run: taskset or a second core was missing.)');
}

/** The round trips of an instant task, from its histories, beside the baselines' start -> result. */
function e2eChain(e: NonNullable<BenchResults['scenarios']['e2e']>): string {
  const steps = e.steps.map((st) => `${st.step} ${n(st.count, 1)}x (queued ${n(st.queuedMs)} ms, ran ${n(st.ranMs)} ms)`).join('; ');
  const slowest = [...e.steps].sort((x, y) => y.count * (y.queuedMs + y.ranMs) - x.count * (x.queuedMs + x.ranMs))[0];
  return `Mean per task: ${steps}; workflow start to close ${n(e.workflowMs)} ms, the POST alone p50 ${n(e.post.p50)} ms. ` +
    `The same-shape workflow goes from start to result in p50 ${n(e.sameShape?.load.resultLatency?.p50)} ms, the empty one in ${n(e.bare?.load.resultLatency?.p50)} ms.` +
    (slowest ? ` Most time per task: ${slowest.step} (${n(slowest.count * (slowest.queuedMs + slowest.ranMs))} ms).` : '');
}

function callbackGap(e: NonNullable<BenchResults['scenarios']['e2e']>): string {
  const callback = e.steps.find((st) => st.step === 'sendCallback');
  return `The callback arrives p50 ${n(diff(e.callback.p50, e.final.p50))} ms after the final status` +
    (callback ? `: one more queued activity (sendCallback queued ${n(callback.queuedMs)} ms, ran ${n(callback.ranMs)} ms).` : '.');
}

const diff = (x: number | null | undefined, y: number | null | undefined) => (typeof x === 'number' && typeof y === 'number' ? x - y : null);
const atOrAbove = (x: number | null | undefined, limit: number) => typeof x === 'number' && x > limit;
