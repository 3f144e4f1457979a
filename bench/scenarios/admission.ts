/**
 * Task admission, POST /v1/videos. Baseline: bare `client.workflow.start` of an empty workflow on the same
 * Temporal server (its own worker completes them). The tasks run to the end on the mock provider (finishing
 * at once), as admitted tasks do in a steady state: every admitted task costs its whole workflow sooner or
 * later, so the sustained admission rate includes it.
 */
import { EMPTY_TASK_QUEUE, type BenchEnv } from '../lib/bench-env';
import { spawnNode } from '../lib/procs';
import { withCpu } from '../lib/cpu';
import type { Durations } from '../lib/durations';
import type { LoadResult, LoadSpec } from '../lib/load-spec';
import { pacedRate } from '../lib/stats';
import { waitForDrain } from '../lib/tasks';
import { withLoad } from './chat';

export const ADMISSION_RATE = 50;
const CONCURRENCY = 32;

export interface AdmissionResult {
  max: { bare: LoadResult; gateway: LoadResult; ratio: number; cpuBare: Record<string, number>; cpuGateway: Record<string, number>; drainS: number };
  paced: { rate: number; targetRate: number; bare: LoadResult; gateway: LoadResult; cpu: Record<string, number> };
}

export function videoSpec(env: BenchEnv, model: string, extra: Record<string, unknown> = {}): Omit<LoadSpec, 'mode' | 'durationS' | 'warmupS'> {
  return {
    origin: env.api.origin, method: 'POST', paths: ['/v1/videos'],
    body: JSON.stringify({ model, prompt: 'a red fox in the snow', duration: 5, ...extra }),
    headers: { authorization: `Bearer ${env.fixture.key}`, 'content-type': 'application/json' },
  };
}

export async function runAdmission(env: BenchEnv, d: Durations): Promise<AdmissionResult> {
  const post = videoSpec(env, env.fixture.instantVideo);
  const emptyWorker = spawnNode({
    name: 'empty-worker', script: 'bench/procs/empty-worker.ts', logDir: env.runDir,
    env: { TEMPORAL_ADDRESS: env.stack.temporalAddress, BENCH_TASK_QUEUE: EMPTY_TASK_QUEUE },
  });
  try {
    await emptyWorker.waitForLine(/^READY/);
    return await measure(env, d, post);
  } finally {
    await emptyWorker.stop();
  }
}

async function measure(env: BenchEnv, d: Durations, post: ReturnType<typeof videoSpec>): Promise<AdmissionResult> {
  env.log('admission: bare workflow starts at max');
  const bareMax = await withCpu(() => env.bareStarts('bare-max', { mode: 'max', concurrency: CONCURRENCY, durationS: d.measureS, warmupS: d.warmupS }));
  env.log(`admission: bare ${bareMax.value.rps}/s; POST /v1/videos at max`);
  const gatewayMax = await withCpu(() => env.load('videos-max', { ...post, mode: 'max', connections: CONCURRENCY, durationS: d.measureS, warmupS: d.warmupS }));
  const drainStart = Date.now();
  const left = await waitForDrain(env.orm, 120_000, env.temporal);
  const drainS = Math.round((Date.now() - drainStart) / 100) / 10;
  env.log(`admission: gateway ${gatewayMax.value.rps}/s; tasks drained in ${drainS} s (${left} left)`);

  const rate = pacedRate(ADMISSION_RATE, gatewayMax.value.rps);
  env.log(`admission: ${rate}/s${rate < ADMISSION_RATE ? ` (the gateway's max is below ${ADMISSION_RATE}/s)` : ''}, bare then gateway`);
  const barePaced = await env.bareStarts('bare-paced', { mode: 'paced', rate, durationS: d.measureS, warmupS: d.warmupS });
  const gatewayPaced = await withCpu(() => env.load('videos-paced', { ...post, mode: 'paced', rate, durationS: d.measureS, warmupS: d.warmupS, maxInflight: 256 }));
  await waitForDrain(env.orm, 120_000, env.temporal);
  env.log(`admission: p99 at ${rate}/s: gateway ${gatewayPaced.value.latency.p99} ms, bare ${barePaced.latency.p99} ms`);
  return {
    max: {
      bare: bareMax.value, gateway: gatewayMax.value, ratio: Math.round((gatewayMax.value.rps / bareMax.value.rps) * 1000) / 1000,
      cpuBare: withLoad(bareMax.cpu, bareMax.value), cpuGateway: withLoad(gatewayMax.cpu, gatewayMax.value), drainS,
    },
    paced: { rate, targetRate: ADMISSION_RATE, bare: barePaced, gateway: gatewayPaced.value, cpu: withLoad(gatewayPaced.cpu, gatewayPaced.value) },
  };
}
