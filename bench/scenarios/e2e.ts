/**
 * End to end: POST /v1/videos on a mock channel that finishes at submit, with a callback_url; measures
 * POST -> final status in the task row (watched every 5 ms) and POST -> callback received. Tasks are
 * sent at a steady low rate; the first ones warm up and are dropped. Also reads where the time goes
 * from a few workflow histories. Baselines at the same rate: the same-shape workflow (with a callback
 * step) and the empty workflow, each from its start to its result, and their histories.
 */
import { performance } from 'node:perf_hooks';
import type { BenchEnv } from '../lib/bench-env';
import type { Durations } from '../lib/durations';
import { historyBreakdown, historyLengths, type StepTiming } from '../lib/history';
import { startReceiver } from '../lib/receiver';
import type { LoadResult } from '../lib/load-spec';
import { round, summarize, type LatencySummary } from '../lib/stats';

/** A baseline's start -> result at the e2e rate, and the shape of its histories. */
export interface E2eBaseline {
  load: LoadResult;
  historyEvents: number | null;
  workflowTasks: number | null;
}

const RATE = 5;
const WARMUP_TASKS = 10;

export interface E2eResult {
  tasks: number;
  rate: number;
  post: LatencySummary;
  final: LatencySummary;
  callback: LatencySummary;
  historyEvents: LatencySummary;
  /** Mean time per step over the sampled histories (queued = waiting for a worker, ran = the step itself). */
  steps: { step: string; count: number; queuedMs: number; ranMs: number }[];
  workflowMs: number;
  /** Workflow tasks completed per task (mean over the sampled histories). */
  workflowTasks: number;
  /** Events of the last sampled task, by type. */
  historyByType?: Record<string, number>;
  /** Same-shape workflow (with its callback step) and the empty workflow at the same rate. */
  sameShape?: E2eBaseline;
  bare?: E2eBaseline;
}

const WORKFLOW_TASKS = 'WORKFLOW_TASK_COMPLETED';

async function baseline(env: BenchEnv, workflow: 'empty' | 'same-shape', count: number): Promise<E2eBaseline> {
  const load = await env.bareStarts(`e2e-${workflow}`, {
    workflow, mode: 'paced', rate: RATE, durationS: count / RATE, warmupS: WARMUP_TASKS / RATE, awaitResult: true,
    ...(workflow === 'same-shape' ? { callbackUrl: 'https://example.invalid/callback' } : {}),
  });
  const histories = await Promise.all((load.sampleIds ?? []).map((id) => historyBreakdown(env.temporal, id)));
  const mean = (values: number[]) => (values.length === 0 ? null : round(values.reduce((a, b) => a + b, 0) / values.length, 1));
  return { load, historyEvents: mean(histories.map((h) => h.events)), workflowTasks: mean(histories.map((h) => h.byType[WORKFLOW_TASKS] ?? 0)) };
}

export async function runE2e(env: BenchEnv, d: Durations): Promise<E2eResult> {
  const receiver = await startReceiver();
  const count = WARMUP_TASKS + (d.quick ? 20 : 50);
  const sentAt = new Map<string, number>();
  const order = new Map<string, number>();
  const postMs: number[] = [];
  const finalAt = new Map<string, number>();
  const ids: string[] = [];
  let watching = true;
  const knex = env.orm.em.getKnex();
  const watcher = (async () => {
    while (watching) {
      const open = ids.filter((id) => !finalAt.has(id));
      if (open.length > 0) {
        const rows = await knex.raw(`select id from tasks where id = any(?) and status in ('succeeded', 'failed', 'cancelled')`, [open]);
        const at = performance.now();
        for (const row of rows.rows as { id: string }[]) finalAt.set(row.id, at);
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();
  try {
    env.log(`e2e: ${count} tasks at ${RATE}/s with callbacks`);
    const posts: Promise<void>[] = [];
    for (let i = 0; i < count; i++) {
      const t0 = performance.now();
      posts.push(
        env.api.client
          .call('POST', '/v1/videos', { key: env.fixture.key, body: { model: env.fixture.instantVideo, prompt: 'a red fox', duration: 5, callback_url: receiver.url } })
          .then((response) => {
            if (response.status !== 200) throw new Error(`POST /v1/videos -> ${response.status} ${JSON.stringify(response.body)}`);
            const id = response.body.id as string;
            sentAt.set(id, t0);
            order.set(id, i);
            if (i >= WARMUP_TASKS) postMs.push(performance.now() - t0);
            ids.push(id);
          }),
      );
      await new Promise((resolve) => setTimeout(resolve, 1000 / RATE));
    }
    await Promise.all(posts);
    const until = Date.now() + 60_000;
    while ((finalAt.size < ids.length || receiver.arrivals.size < ids.length) && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 50));
  } finally {
    watching = false;
    await watcher;
    await receiver.close();
  }
  const measured = ids.filter((id) => order.get(id)! >= WARMUP_TASKS);
  const finals = measured.filter((id) => finalAt.has(id)).map((id) => finalAt.get(id)! - sentAt.get(id)!);
  const callbacks = measured.filter((id) => receiver.arrivals.has(id)).map((id) => receiver.arrivals.get(id)! - sentAt.get(id)!);
  const client = env.temporal;
  const sample = measured.slice(-5);
  const lengths = await historyLengths(client, measured);
  const breakdowns = await Promise.all(sample.map((id) => historyBreakdown(client, id)));
  const byStep = new Map<string, StepTiming[]>();
  for (const b of breakdowns) for (const s of b.steps) byStep.set(s.step, [...(byStep.get(s.step) ?? []), s]);
  const steps = [...byStep.entries()].map(([step, list]) => ({
    step, count: round(list.length / breakdowns.length, 1),
    queuedMs: round(list.reduce((n, s) => n + s.queuedMs, 0) / list.length),
    ranMs: round(list.reduce((n, s) => n + s.ranMs, 0) / list.length),
  }));
  env.log(`e2e: the same-shape workflow, then the empty one, at ${RATE}/s to their results`);
  const sameShape = await baseline(env, 'same-shape', count - WARMUP_TASKS);
  const bare = await baseline(env, 'empty', count - WARMUP_TASKS);
  const result: E2eResult = {
    tasks: measured.length, rate: RATE, post: summarize(postMs), final: summarize(finals), callback: summarize(callbacks),
    historyEvents: summarize(lengths), steps, workflowMs: round(breakdowns.reduce((n, b) => n + b.totalMs, 0) / breakdowns.length),
    workflowTasks: round(breakdowns.reduce((n, b) => n + (b.byType[WORKFLOW_TASKS] ?? 0), 0) / breakdowns.length, 1),
    historyByType: breakdowns.at(-1)?.byType,
    sameShape, bare,
  };
  env.log(`e2e: final p50 ${result.final.p50} ms, callback p50 ${result.callback.p50} ms, ${result.historyEvents.p50} history events, ${result.workflowTasks} workflow tasks; ` +
    `same-shape to its result p50 ${sameShape.load.resultLatency?.p50} ms (${sameShape.historyEvents} events, ${sameShape.workflowTasks} workflow tasks)`);
  return result;
}
