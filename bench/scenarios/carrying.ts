/**
 * Carrying load: N tasks whose provider takes 60 s (mock channel, durationMs 60000), admitted as fast as
 * 16 concurrent clients manage, so they overlap in flight. Measures the worker's memory (RSS, sampled every
 * second), the status lag (the task row's completed_at minus the moment the mock job was due to finish,
 * which the job id carries), history events per task, and where the CPU went. Then the same figures for
 * provider callbacks against polling only (callback-lag.ts).
 */
import { performance } from 'node:perf_hooks';
import type { BenchEnv } from '../lib/bench-env';
import { cpuBetween, cpuSnapshot } from '../lib/cpu';
import type { Durations } from '../lib/durations';
import { historyBreakdown, historyLengths } from '../lib/history';
import { round, summarize, type LatencySummary } from '../lib/stats';
import { taskCounts } from '../lib/tasks';
import { runCallbackLag, type CallbackLagResult } from './callback-lag';

const CLIENTS = 16;
export const PROVIDER_MS = 60_000;
/** Longest the full run spends admitting the tasks, to stay in the time budget on a slow machine. */
const ADMISSION_CAP_MS = 90_000;
/** Longest wait, after the last admission, for the tasks to finish: their 60 s and a generous tail. */
const FINISH_CAP_MS = PROVIDER_MS + 60_000;

export interface CarryingResult {
  tasks: number;
  admitted: number;
  admissionS: number;
  peakInFlight: number;
  workerRssMb: { before: number; peak: number; after: number };
  apiRssMb: { peak: number };
  statusLagMs: LatencySummary;
  historyEvents: LatencySummary;
  historyByType: Record<string, number>;
  outcome: Record<string, number>;
  /** Cores per role while the tasks were being admitted. */
  cpuAdmission: Record<string, number>;
  /** Cores per role while the tasks were in flight (after admission, before the first finished). */
  cpuInFlight: Record<string, number>;
  /** Cores per role over the whole scenario. */
  cpuTotal: Record<string, number>;
  samples: { t: number; inFlight: number; workerRssMb: number | null }[];
  /** Status lag and provider calls per task, callbacks vs polling only (absent in older reports). */
  callbackLag?: CallbackLagResult;
}

export async function runCarrying(env: BenchEnv, d: Durations): Promise<CarryingResult> {
  const total = d.quick ? 400 : 2000;
  const knex = env.orm.em.getKnex();
  const ids: string[] = [];
  const samples: CarryingResult['samples'] = [];
  const rssBefore = env.worker.rssMb() ?? 0;
  let peakRss = rssBefore;
  let peakApiRss = 0;
  let peakInFlight = 0;
  const t0 = performance.now();
  const cpuStart = cpuSnapshot();
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const rows = await knex.raw(`select count(*)::int as n from tasks where status in ('pending', 'queued', 'processing') and model = ?`, [env.fixture.slowVideo]);
      const inFlight = rows.rows[0].n as number;
      const rss = env.worker.rssMb();
      peakInFlight = Math.max(peakInFlight, inFlight);
      peakRss = Math.max(peakRss, rss ?? 0);
      peakApiRss = Math.max(peakApiRss, env.api.child.rssMb() ?? 0);
      samples.push({ t: round((performance.now() - t0) / 1000, 1), inFlight, workerRssMb: rss });
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  })();

  env.log(`carrying: admitting ${total} tasks whose provider takes ${PROVIDER_MS / 1000} s`);
  let next = 0;
  let failures = 0;
  // A machine that admits slowly must not blow the run's time budget: admission stops at the cap, and
  // the report says how many were in flight.
  const admitUntil = performance.now() + (d.quick ? 60_000 : ADMISSION_CAP_MS);
  const client = async () => {
    while (next < total && performance.now() < admitUntil) {
      next++;
      const response = await env.api.client.call('POST', '/v1/videos', { key: env.fixture.key, body: { model: env.fixture.slowVideo, prompt: 'a slow red fox', duration: 5 } });
      if (response.status === 200) ids.push(response.body.id as string);
      else failures++;
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, client));
  const admissionS = round((performance.now() - t0) / 1000, 1);
  const cpuAdmission = cpuBetween(cpuStart, cpuSnapshot());
  env.log(`carrying: ${ids.length} admitted in ${admissionS} s (${failures} refused); waiting for them to finish`);

  // In flight: from the end of admission until the first job is due (60 s after the first submit).
  const firstDue = t0 + PROVIDER_MS;
  const inFlightStart = cpuSnapshot();
  const inFlightWindow = Math.max(0, firstDue - performance.now() - 2000);
  await new Promise((resolve) => setTimeout(resolve, inFlightWindow));
  const inFlightEnd = cpuSnapshot();

  const until = Date.now() + FINISH_CAP_MS;
  for (;;) {
    const rows = await knex.raw(`select count(*)::int as n from tasks where id = any(?) and status not in ('succeeded', 'failed', 'cancelled')`, [ids]);
    if (rows.rows[0].n === 0 || Date.now() > until) break;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  sampling = false;
  await sampler;
  const cpuTotal = cpuBetween(cpuStart, cpuSnapshot());

  const rows = await knex.raw(`select id, status, provider_job_id, extract(epoch from completed_at) * 1000 as completed_ms from tasks where id = any(?)`, [ids]);
  const lags: number[] = [];
  const outcome: Record<string, number> = {};
  for (const row of rows.rows as { id: string; status: string; provider_job_id: string | null; completed_ms: string | null }[]) {
    outcome[row.status] = (outcome[row.status] ?? 0) + 1;
    const due = mockJobDue(row.provider_job_id);
    if (due !== null && row.completed_ms !== null) lags.push(Number(row.completed_ms) - due);
  }
  const sample = ids.filter((_, i) => i % Math.max(1, Math.floor(ids.length / 100)) === 0);
  const lengths = await historyLengths(env.temporal, sample);
  const breakdown = await historyBreakdown(env.temporal, ids[ids.length - 1]!);
  const result: CarryingResult = {
    tasks: total, admitted: ids.length, admissionS, peakInFlight,
    workerRssMb: { before: rssBefore, peak: peakRss, after: env.worker.rssMb() ?? 0 },
    apiRssMb: { peak: peakApiRss },
    statusLagMs: summarize(lags), historyEvents: summarize(lengths), historyByType: breakdown.byType,
    outcome, cpuAdmission, cpuInFlight: cpuBetween(inFlightStart, inFlightEnd), cpuTotal, samples,
  };
  result.callbackLag = await runCallbackLag(env, d);
  env.log(`carrying: peak ${peakInFlight} in flight, worker RSS peak ${peakRss} MB, status lag p99 ${result.statusLagMs.p99} ms, ${result.historyEvents.p50} events; ${JSON.stringify(await taskCounts(env.orm))}`);
  return result;
}

/** When a mock job was due to finish: its id carries its submit time `t` and duration `d` (src/providers/mock/README.md). */
function mockJobDue(jobId: string | null): number | null {
  if (!jobId?.startsWith('mock_')) return null;
  try {
    const wire = JSON.parse(Buffer.from(jobId.slice(5), 'base64url').toString('utf8')) as { t: number; d: number };
    return wire.t + wire.d;
  } catch {
    return null;
  }
}
