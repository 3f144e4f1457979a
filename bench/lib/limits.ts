/**
 * "What limits it, and what we changed": for every target a run misses, BENCHMARKS.md explains the limit
 * with that run's own measurements (the bare baseline, where the CPU went, the profiles) followed by what
 * was changed to get there, with the before/after figures measured while changing it. The text lives here,
 * so a rerun keeps it and shows it only for the targets it misses.
 */
import type { BenchResults } from './report';
import type { ProfileSummary } from './profile';
import { atLeast, atMost } from './stats';

const n = (value: number | null | undefined, digits = 0) =>
  value === undefined || value === null || Number.isNaN(value) ? '–' : Number(value.toFixed(digits)).toLocaleString('en-US');
const cores = (cpu: Record<string, number> | undefined) =>
  cpu ? Object.entries(cpu).filter(([, v]) => v >= 0.05).map(([k, v]) => `${k} ${n(v, 2)}`).join(', ') : '–';
const topAreas = (p: ProfileSummary | undefined, count = 4) =>
  p ? p.areas.slice(0, count).map((a) => `${a.area} ${n(a.share, 1)}%`).join(', ') : 'not profiled in this run';

/** What each task-path change bought, measured on the development machine (2 cores, shared with other suites). */
const CHANGED = {
  temporalDb:
    'The Temporal dev server of the benchmark runs its SQLite with `journal_mode=wal, synchronous=off` (bench/lib/bench-env.ts): ' +
    'with the default journal every write was synced and bare starts topped out at 14/s; with WAL, 36-42/s on the same machine ' +
    'and load (it helps the baseline and the gateway alike; production runs a Temporal cluster).',
  localSteps:
    '`pickChannel`, `settleCredits` and `refundCredits` run as local activities (workflows/media-task.workflow.ts, behind the ' +
    '`local-bookkeeping` patch so workflows started earlier replay): two fewer activity round trips through the task queue per task, ' +
    'and a task that finishes at once (with a callback) went from 43 to 35 history events.',
  slots:
    'Worker activity slots 200 -> 5,000 and workflow cache 2,000 -> 5,000 (workers/media-worker.ts): `waitForProvider` holds a slot ' +
    'for its job\'s whole life, so with 200 slots the 201st job in flight was not even polled until another ended (2,000 jobs of 60 s ' +
    'would have finished over ~10 minutes).',
  polls:
    'Long jobs are polled less often: the interval grows by half each poll up to 1 s (or the channel\'s own, if longer); the mock\'s ' +
    '250 ms made 8,000 polls a second for 2,000 jobs, now 2,000. Progress goes to a batched writer (activities/progress-writer.ts): ' +
    'one UPDATE a second per worker instead of one per poll and task (~3,700 statements a second for 2,000 jobs at 250 ms).',
  mp4: 'The mock\'s MP4 writer wrote every PCM byte bit by bit: 15 ms of worker CPU per video output, now 3 ms (src/media/mp4.ts).',
  polling:
    '`GET /v1/tasks/{id}` reads the task and its assets in one SQL statement with only the columns it shows, instead of two ORM ' +
    'queries with entity hydration: 460 -> 916 req/s over one connection, 370 -> 778 over 32 (same machine, same minute). A plain ' +
    'poll no longer builds an AbortController whose abort() made a DOMException with a stack at every response (~3% of its CPU).',
};

/** The explanation for each missed target, keyed like the summary rows. */
export function limitsFor(results: BenchResults): { target: string; limit: string; changed: string }[] {
  const s = results.scenarios;
  const out: { target: string; limit: string; changed: string }[] = [];
  const chatProfile = s.profile?.['chat (non-streaming)'];
  if (s.chat) {
    for (const v of ['json', 'stream'] as const) {
      const c = s.chat[v];
      const label = v === 'json' ? 'Chat, non-streaming' : 'Chat, streaming';
      const chatLimit =
        `At max throughput: ${cores(c.max.cpu)} (cores), while the fake upstream alone answers ${n(c.max.direct.rps)} req/s. An API near ` +
        `one core is the limit; one well below it waited on the rest of the machine. Its profile (below): ${topAreas(chatProfile)}. ` +
        'A fixed-rate load counts as met only when the gateway answered the offered rate (a saturated baseline makes "added" negative).';
      const chatChanged =
        'Profiled first: every request made about ten database round trips (model, channels, channel credentials, a hold ' +
        'transaction, a settle transaction and its usage row), all serialised on the one account row: 9.4 req/s at max, ' +
        'PostgreSQL about 30 ms of CPU per request. Now none: models, channels and decrypted credentials are cached for 2 s ' +
        '(src/routing/route-cache.ts), holds are carved in memory from credit-lease blocks that are ordinary holds, and ' +
        'captures with their usage rows are written in one transaction every 20 ms (src/billing/credit-lease.ts); ' +
        'PostgreSQL fell to about 0.15 ms of CPU per request. Then upstream calls moved from global fetch (undici, ~14% of ' +
        'the API\'s CPU) to node http with keep-alive agents, the request\'s EntityManager and child logger are made only ' +
        'when used, and stream events that arrive together go out in one write: API CPU per request went from about ' +
        '3.8 ms to 1.8 ms (non-streaming) in same-machine runs. What is left is node\'s own HTTP machinery for two HTTP ' +
        'exchanges per request (socket writes alone 11-16%), which the fake answers with one.';
      if (!(atLeast(c.paced.gateway.rps, c.paced.rate * 0.95) && atMost(c.paced.added.p50, 1) && atMost(c.paced.added.p99, 5))) out.push({ target: `${label}, added latency at ${c.paced.rate} req/s`, limit: `${chatLimit} At ${c.paced.rate} req/s it answered ${n(c.paced.gateway.rps)}/s: whatever exceeds what one process carries queues, and queueing is the added latency.`, changed: chatChanged });
      if (!(atLeast(c.max.gateway.rps, 1500))) out.push({ target: `${label}, max throughput`, limit: chatLimit, changed: chatChanged });
    }
  }
  if (s.admission) {
    const a = s.admission;
    const limit =
      `A bare start returns once the server has stored it (${n(a.max.bare.rps, 1)}/s here). POST /v1/videos cannot answer before a ` +
      'worker has run the workflow\'s first task: Update-With-Start waits for `reserveCredits` (a local activity that commits the task row ' +
      'and the hold), so each POST costs the start, a dispatch to the worker, a workflow activation in the SDK\'s sandbox and a PostgreSQL ' +
      'transaction; and every admitted task then runs its whole workflow on the same two cores (35 history events against 3 for the empty ' +
      `workflow). CPU at max: POST ${cores(a.max.cpuGateway)}; bare starts ${cores(a.max.cpuBare)} (cores). ` +
      (a.max.gateway.ok === 0
        ? `No POST was answered inside the ${n(a.max.gateway.durationS)} s window: at 32 at once each took longer (the tasks then drained in ${n(a.max.drainS, 1)} s). `
        : '') +
      'A CPU profile of the worker (BENCH_PROFILE_WORKER=<dir>) under admission load at 8 concurrent spent 27% of its workflow ' +
      'thread in the SDK\'s promise hook, which captures and formats a stack trace for every promise a workflow creates (`init`, ' +
      '`prepareStackTrace`, `formatCallsiteName`, the stack-cutting regexes; temporalio/sdk-typescript#1587, no switch in 1.24), and ' +
      '36% in the sandbox\'s `runInContext`; about 130 ms of workflow-thread CPU per task. Every reservation of one account also updates the same `accounts` and `api_keys` ' +
      'rows under lock until its commit, and a synced commit takes 8.4 ms on this disk (1.3 ms unsynced): one account\'s reservations ' +
      'serialise at about 100/s whatever the CPU.';
    const changed = [CHANGED.temporalDb, CHANGED.localSteps, CHANGED.mp4].join(' ');
    if (!(atLeast(a.max.ratio, 0.7))) out.push({ target: 'Task admission, >= 70% of bare starts', limit, changed });
    if (!(atLeast(a.paced.rate, (a.paced.targetRate ?? a.paced.rate)) && atMost(a.paced.gateway.latency.p99, 100))) {
      out.push({
        target: `Task admission, p99 at ${a.paced.targetRate ?? a.paced.rate}/s`,
        limit: `${limit} Measured at ${a.paced.rate}/s, where the gateway answered ${n(a.paced.gateway.rps, 1)}/s (bare start p99 ${n(a.paced.bare.latency.p99, 1)} ms); ` +
          `CPU ${cores(a.paced.cpu)}. Below the rate the machine carries, p99 is the chain above; above it, queueing.`,
        changed,
      });
    }
  }
  if (s.polling) {
    const p = s.polling;
    const limit =
      `The static route of the same app did ${n(p.max.static.rps)} req/s, the task read ${n(p.max.task.rps)}: the difference is the key ` +
      `lookup (cached), one PostgreSQL round trip and the signed asset links. CPU at max: ${cores(p.max.cpu)}. ` +
      `Profile (below): ${topAreas(s.profile?.['GET /v1/tasks/{id}'])}.`;
    if (!(atLeast(p.max.task.rps, 3000))) out.push({ target: 'Task polling, >= 3,000 req/s', limit, changed: CHANGED.polling });
    if (!(atLeast(p.paced.rate, (p.paced.targetRate ?? p.paced.rate)) && atMost(p.paced.task.latency.p99, 10))) {
      out.push({
        target: 'Task polling, p99 <= 10 ms',
        limit: `${limit} Measured at ${p.paced.rate} req/s offered, where it answered ${n(p.paced.task.rps)}/s; the static route's p99 at the same rate was ${n(p.paced.static.latency.p99, 1)} ms.`,
        changed: CHANGED.polling,
      });
    }
  }
  if (s.e2e) {
    const e = s.e2e;
    const steps = e.steps.map((st) => `${st.step} ${n(st.count, 1)}x (queued ${n(st.queuedMs)} ms, ran ${n(st.ranMs)} ms)`).join('; ');
    const limit =
      `A task is a chain of round trips through Temporal: the first workflow task (reservation and channel pick as local activities), ` +
      `submit, persist assets, the settle, then the callback; each activity is scheduled, matched to a worker poll, run and reported, and ` +
      `each result is another workflow task. Mean per task here: ${steps}; workflow start to close ${n(e.workflowMs)} ms. ` +
      `The POST alone took p50 ${n(e.post.p50)} ms.`;
    const changed = [CHANGED.localSteps, CHANGED.mp4, CHANGED.temporalDb].join(' ');
    if (!(atMost(e.final.p50, 300))) out.push({ target: 'End to end, POST -> final p50', limit, changed });
    if (!(atMost(e.callback.p50, 500))) out.push({ target: 'End to end, callback p50', limit: `${limit} The callback is one more activity after the final status.`, changed });
  }
  if (s.carrying) {
    const c = s.carrying;
    const changed = [CHANGED.slots, CHANGED.polls].join(' ');
    if (!(atMost(c.statusLagMs.p99, 2000))) {
      out.push({
        target: 'Carrying, status lag p99',
        limit:
          `Lag = poll wait (up to 1 s) + the job's last steps (persistAssets, settle, two workflow tasks). Here p50 ${n(c.statusLagMs.p50)} ms, ` +
          `p99 ${n(c.statusLagMs.p99)} ms; ${c.admitted} tasks were admitted in ${n(c.admissionS, 1)} s, so they also finish at the admission ` +
          `rate, and each finishing task costs the same chain as one end to end. CPU while they waited: ${cores(c.cpuInFlight)}; over the ` +
          `scenario: ${cores(c.cpuTotal)} (cores).`,
        changed,
      });
    }
    if (!(atMost(c.historyEvents.max, 80))) {
      out.push({ target: 'Carrying, history events', limit: `Events by type of one task: ${Object.entries(c.historyByType).map(([k, v]) => `${k} ${v}`).join(', ')}.`, changed });
    }
  }
  return out;
}
