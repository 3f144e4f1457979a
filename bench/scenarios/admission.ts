/**
 * Task admission, POST /v1/videos, beside two baselines on the same Temporal server: bare
 * `client.workflow.start` of an empty workflow (the engine), and the same-shape workflow (the real
 * mediaTaskWorkflow with no-op activities, started the way the API starts it: the engine + our workflow's
 * shape). At max throughput the tasks run to the end on the instant mock, as admitted tasks do in a
 * steady state (every admitted task costs its whole workflow sooner or later), and each worker's CPU per
 * task is read from /proc over the load and its drain. Then POST latency at a fixed rate on 60 s tasks,
 * so no completion falls in the window.
 */
import type { Client } from '@temporalio/client';
import { EMPTY_TASK_QUEUE, type BenchEnv } from '../lib/bench-env';
import { withCpu } from '../lib/cpu';
import type { Durations } from '../lib/durations';
import type { LoadResult, LoadSpec } from '../lib/load-spec';
import { cpuMsPerTask, processCpuMs } from '../lib/proc-cpu';
import { SAME_SHAPE_TASK_QUEUE } from '../lib/same-shape';
import { round } from '../lib/stats';
import { waitForDrain } from '../lib/tasks';
import { withLoad } from './chat';

/** The fixed rate of the POST latency target (issue 13), on 60 s tasks. */
export const ADMISSION_RATE = 20;
const CONCURRENCY = 32;

/** Worker CPU ms (all threads) per task completed, and the tasks it was divided by. */
export interface WorkerCpu {
  msPerTask: number | null;
  tasks: number;
}

export interface AdmissionResult {
  max: {
    bare: LoadResult; sameShape: LoadResult; gateway: LoadResult;
    /** gateway / bare starts, and gateway / same-shape starts. */
    ratio: number; ratioSameShape: number;
    cpuBare: Record<string, number>; cpuSameShape: Record<string, number>; cpuGateway: Record<string, number>;
    drainS: number;
  };
  /** CPU per task of each kind's worker process over its max load and drain. */
  workerCpu: { gateway: WorkerCpu; sameShape: WorkerCpu; empty: WorkerCpu };
  paced: { rate: number; taskS: number; bare: LoadResult; sameShape: LoadResult; gateway: LoadResult; cpu: Record<string, number> };
}

export function videoSpec(env: BenchEnv, model: string, extra: Record<string, unknown> = {}): Omit<LoadSpec, 'mode' | 'durationS' | 'warmupS'> {
  return {
    origin: env.api.origin, method: 'POST', paths: ['/v1/videos'],
    body: JSON.stringify({ model, prompt: 'a red fox in the snow', duration: 5, ...extra }),
    headers: { authorization: `Bearer ${env.fixture.key}`, 'content-type': 'application/json' },
  };
}

/** Waits until no workflow of `taskQueue` still runs (or `timeoutMs` passes); how many still run. */
export async function waitForQueue(temporal: Client, taskQueue: string, timeoutMs: number): Promise<number> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const { count } = await temporal.workflow.count(`TaskQueue = "${taskQueue}" AND ExecutionStatus = "Running"`);
    if (count === 0 || Date.now() > until) return count;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function finishedTasks(env: BenchEnv, model: string): Promise<number> {
  const rows = await env.orm.em.getKnex().raw(`select count(*)::int as n from tasks where model = ? and status in ('succeeded', 'failed', 'cancelled')`, [model]);
  return rows.rows[0].n as number;
}

export async function runAdmission(env: BenchEnv, d: Durations): Promise<AdmissionResult> {
  const max = { mode: 'max' as const, concurrency: CONCURRENCY, durationS: d.measureS, warmupS: d.warmupS };
  const emptyPid = env.baselineWorkers.empty.pid;
  const sameShapePid = env.baselineWorkers.sameShape.pid;

  env.log('admission: bare workflow starts at max');
  let cpuBefore = processCpuMs(emptyPid);
  const bareMax = await withCpu(() => env.bareStarts('bare-max', max));
  await waitForQueue(env.temporal, EMPTY_TASK_QUEUE, 60_000);
  const empty: WorkerCpu = { msPerTask: cpuMsPerTask(cpuBefore, processCpuMs(emptyPid), bareMax.value.started ?? 0), tasks: bareMax.value.started ?? 0 };

  env.log(`admission: bare ${bareMax.value.rps}/s; same-shape starts at max`);
  cpuBefore = processCpuMs(sameShapePid);
  const sameShapeMax = await withCpu(() => env.bareStarts('same-shape-max', { ...max, workflow: 'same-shape' }));
  await waitForQueue(env.temporal, SAME_SHAPE_TASK_QUEUE, 120_000);
  const sameShape: WorkerCpu = { msPerTask: cpuMsPerTask(cpuBefore, processCpuMs(sameShapePid), sameShapeMax.value.started ?? 0), tasks: sameShapeMax.value.started ?? 0 };

  env.log(`admission: same-shape ${sameShapeMax.value.rps}/s; POST /v1/videos at max`);
  const finishedBefore = await finishedTasks(env, env.fixture.instantVideo);
  cpuBefore = processCpuMs(env.worker.pid);
  const gatewayMax = await withCpu(() => env.load('videos-max', { ...videoSpec(env, env.fixture.instantVideo), mode: 'max', connections: CONCURRENCY, durationS: d.measureS, warmupS: d.warmupS }));
  const drainStart = Date.now();
  const left = await waitForDrain(env.orm, 120_000, env.temporal);
  const drainS = round((Date.now() - drainStart) / 1000, 1);
  const completed = (await finishedTasks(env, env.fixture.instantVideo)) - finishedBefore;
  const gateway: WorkerCpu = { msPerTask: cpuMsPerTask(cpuBefore, processCpuMs(env.worker.pid), completed), tasks: completed };
  env.log(`admission: gateway ${gatewayMax.value.rps}/s; drained in ${drainS} s (${left} left); worker CPU per task: ` +
    `gateway ${gateway.msPerTask} ms, same-shape ${sameShape.msPerTask} ms, empty ${empty.msPerTask} ms`);

  const paced = { mode: 'paced' as const, rate: ADMISSION_RATE, durationS: d.measureS, warmupS: d.warmupS };
  env.log(`admission: ${ADMISSION_RATE}/s, bare, same-shape, then POST on 60 s tasks`);
  const barePaced = await env.bareStarts('bare-paced', paced);
  const sameShapePaced = await env.bareStarts('same-shape-paced', { ...paced, workflow: 'same-shape' });
  const gatewayPaced = await withCpu(() => env.load('videos-paced-60s', { ...videoSpec(env, env.fixture.slowVideo), ...paced, maxInflight: 256 }));
  env.log(`admission: POST p50/p99 at ${ADMISSION_RATE}/s ${gatewayPaced.value.latency.p50} / ${gatewayPaced.value.latency.p99} ms ` +
    `(same-shape ${sameShapePaced.latency.p50} / ${sameShapePaced.latency.p99}, bare ${barePaced.latency.p50} / ${barePaced.latency.p99}); waiting for the 60 s tasks`);
  // The next scenario must not share the machine with these tasks' ends.
  await waitForDrain(env.orm, 180_000, env.temporal);
  await waitForQueue(env.temporal, SAME_SHAPE_TASK_QUEUE, 30_000);
  return {
    max: {
      bare: bareMax.value, sameShape: sameShapeMax.value, gateway: gatewayMax.value,
      ratio: round(gatewayMax.value.rps / bareMax.value.rps, 3), ratioSameShape: round(gatewayMax.value.rps / sameShapeMax.value.rps, 3),
      cpuBare: withLoad(bareMax.cpu, bareMax.value), cpuSameShape: withLoad(sameShapeMax.cpu, sameShapeMax.value), cpuGateway: withLoad(gatewayMax.cpu, gatewayMax.value),
      drainS,
    },
    workerCpu: { gateway, sameShape, empty },
    paced: { rate: ADMISSION_RATE, taskS: 60, bare: barePaced, sameShape: sameShapePaced, gateway: gatewayPaced.value, cpu: withLoad(gatewayPaced.cpu, gatewayPaced.value) },
  };
}
