/**
 * Task polling, GET /v1/tasks/{id} (finished tasks with one asset each, ids in turn). Baseline: GET
 * /healthz of the same app, a static JSON route (no key, no database).
 */
import type { BenchEnv } from '../lib/bench-env';
import { withCpu } from '../lib/cpu';
import type { Durations } from '../lib/durations';
import type { LoadResult } from '../lib/load-spec';
import { pacedRate } from '../lib/stats';
import { succeededTaskIds, waitForDrain } from '../lib/tasks';
import { withLoad } from './chat';

/** The fixed rate of the poll latency target (issue 13). */
export const POLL_RATE = 1000;
const CONNECTIONS = 32;

export interface PollingResult {
  tasks: number;
  max: { static: LoadResult; task: LoadResult; cpu: Record<string, number> };
  paced: { rate: number; targetRate: number; static: LoadResult; task: LoadResult; cpu: Record<string, number> };
}

export async function runPolling(env: BenchEnv, d: Durations): Promise<PollingResult> {
  let ids = await succeededTaskIds(env.orm, 200);
  if (ids.length < 50) {
    // Run alone: make some finished tasks to read.
    for (let i = 0; i < 50; i++) {
      await env.api.client.call('POST', '/v1/videos', { key: env.fixture.key, body: { model: env.fixture.instantVideo, prompt: 'a red fox', duration: 5 } });
    }
    await waitForDrain(env.orm, 60_000, env.temporal);
    ids = await succeededTaskIds(env.orm, 200);
  }
  const task = {
    origin: env.api.origin, method: 'GET' as const, paths: ids.map((id) => `/v1/tasks/${id}`),
    headers: { authorization: `Bearer ${env.fixture.key}` },
  };
  const healthz = { origin: env.api.origin, method: 'GET' as const, paths: ['/healthz'], headers: {} };
  env.log('polling: max throughput, static route then GET /v1/tasks/{id}');
  const maxStatic = await env.load('healthz-max', { ...healthz, mode: 'max', connections: CONNECTIONS, durationS: d.measureS, warmupS: d.warmupS });
  const maxTask = await withCpu(() => env.load('task-get-max', { ...task, mode: 'max', connections: CONNECTIONS, durationS: d.measureS, warmupS: d.warmupS }));
  const rate = pacedRate(POLL_RATE, maxTask.value.rps);
  env.log(`polling: ${maxTask.value.rps} req/s (static ${maxStatic.rps}); ${rate} req/s paced`);
  const pacedStatic = await env.load('healthz-paced', { ...healthz, mode: 'paced', rate, durationS: d.measureS, warmupS: d.warmupS, maxInflight: 128 });
  const pacedTask = await withCpu(() => env.load('task-get-paced', { ...task, mode: 'paced', rate, durationS: d.measureS, warmupS: d.warmupS, maxInflight: 128 }));
  env.log(`polling: p99 at ${rate}/s ${pacedTask.value.latency.p99} ms (static ${pacedStatic.latency.p99} ms)`);
  return {
    tasks: ids.length,
    max: { static: maxStatic, task: maxTask.value, cpu: withLoad(maxTask.cpu, maxTask.value) },
    paced: { rate, targetRate: POLL_RATE, static: pacedStatic, task: pacedTask.value, cpu: withLoad(pacedTask.cpu, pacedTask.value) },
  };
}
