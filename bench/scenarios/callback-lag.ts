/**
 * Provider callbacks against polling only (part of the carrying scenario): the same tasks on a fake
 * Replicate (test/fakes, in this process) whose predictions take jobMs plus up to one poll interval, on two
 * channels of one protocol:
 * one with callbacks on (backstop poll 30 s), one with callbacks off (polling every 2 s, the default for a
 * real provider). Measures the status lag (the task row's completed_at minus the moment the fake's
 * prediction ended) and the provider calls per task (creates and status reads, downloads excluded).
 */
import type { BenchEnv } from '../lib/bench-env';
import type { Durations } from '../lib/durations';
import { round, summarize, type LatencySummary } from '../lib/stats';
import { startReplicateFake, type ReplicateFake } from '../../test/fakes/replicate-fake';

export interface CallbackModeResult {
  tasks: number;
  outcome: Record<string, number>;
  statusLagMs: LatencySummary;
  statusReadsPerTask: number;
  providerCallsPerTask: number;
}

export interface CallbackLagResult {
  jobMs: number;
  callbacks: CallbackModeResult;
  pollingOnly: CallbackModeResult;
}

const FINISH_TAIL_MS = 60_000;
/** The polling-only channel's interval: the gateway's default for a real provider. */
const POLL_MS = 2000;

export async function runCallbackLag(env: BenchEnv, d: Durations): Promise<CallbackLagResult> {
  const tasks = d.quick ? 40 : 200;
  const jobMs = d.quick ? 10_000 : 20_000;
  const withCallbacks = await startReplicateFake({ jobPlan: { queueMs: 0, runMs: jobMs } });
  const pollingOnly = await startReplicateFake({ jobPlan: { queueMs: 0, runMs: jobMs } });
  try {
    const cbModel = await model(env, withCallbacks, 'bench-video-callbacks', { webhookSecret: withCallbacks.webhookSecret, callbackBackstopPollMs: 30_000 });
    const pollModel = await model(env, pollingOnly, 'bench-video-polling', { callbacks: false, pollIntervalMs: POLL_MS });
    env.log(`carrying/callbacks: ${tasks} tasks of ${jobMs / 1000} s with callbacks, ${tasks} polling only`);
    const [cb, poll] = await Promise.all([runMode(env, withCallbacks, cbModel, tasks, jobMs), runMode(env, pollingOnly, pollModel, tasks, jobMs)]);
    env.log(`carrying/callbacks: status lag p50 ${cb.statusLagMs.p50} ms with callbacks, ${poll.statusLagMs.p50} ms polling; `
      + `${cb.providerCallsPerTask} vs ${poll.providerCallsPerTask} provider calls a task`);
    return { jobMs, callbacks: cb, pollingOnly: poll };
  } finally {
    await withCallbacks.close();
    await pollingOnly.close();
  }
}

async function model(env: BenchEnv, fake: ReplicateFake, id: string, settings: Record<string, unknown>): Promise<string> {
  await env.api.client.admin('POST', '/admin/models', { id, category: 'video', pricing: { per_second: 1 }, default_duration: 5 });
  await env.api.client.admin('POST', '/admin/channels', {
    name: id, provider: 'replicate', base_url: fake.url, api_key: fake.apiKey, models: { [id]: 'bench/slow-video' }, settings,
  });
  return id;
}

async function runMode(env: BenchEnv, fake: ReplicateFake, modelId: string, tasks: number, jobMs: number): Promise<CallbackModeResult> {
  const knex = env.orm.em.getKnex();
  const ids: string[] = [];
  // Durations spread over one poll interval: a job whose length is a multiple of it would end just
  // before a poll and flatter polling.
  fake.planNextJobs(...Array.from({ length: tasks }, (_, i) => ({ runMs: jobMs + ((i * 997) % POLL_MS) })));
  for (let i = 0; i < tasks; i++) {
    const response = await env.api.client.call('POST', '/v1/videos', { key: env.fixture.key, body: { model: modelId, prompt: 'a fox', duration: 5 } });
    if (response.status === 200) ids.push(response.body.id as string);
  }
  const until = Date.now() + jobMs + POLL_MS + FINISH_TAIL_MS;
  for (;;) {
    const rows = await knex.raw(`select count(*)::int as n from tasks where id = any(?) and status not in ('succeeded', 'failed', 'cancelled')`, [ids]);
    if (rows.rows[0].n === 0 || Date.now() > until) break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const rows = await knex.raw(`select status, provider_job_id, extract(epoch from completed_at) * 1000 as completed_ms from tasks where id = any(?)`, [ids]);
  const lags: number[] = [];
  const outcome: Record<string, number> = {};
  for (const row of rows.rows as { status: string; provider_job_id: string | null; completed_ms: string | null }[]) {
    outcome[row.status] = (outcome[row.status] ?? 0) + 1;
    const job = row.provider_job_id ? fake.jobs.get(row.provider_job_id) : undefined;
    if (job && row.completed_ms !== null) lags.push(Number(row.completed_ms) - job.endAt);
  }
  const reads = fake.requestsTo('GET', '/v1/predictions/').length;
  const creates = fake.requestsTo('POST', '/v1/models/').length;
  return {
    tasks: ids.length, outcome, statusLagMs: summarize(lags),
    statusReadsPerTask: round(reads / Math.max(1, ids.length), 2),
    providerCallsPerTask: round((reads + creates) / Math.max(1, ids.length), 2),
  };
}
