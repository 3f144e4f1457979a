/**
 * Profiles an API process of its own (node --cpu-prof) under the chat loads (JSON and streaming) and the
 * task loads, at max throughput, and summarises where its CPU went. Run after the measured scenarios: the
 * profiler costs a little CPU of its own, so no figure elsewhere comes from a profiled process. The
 * task-poll target needs finished tasks; without them (`--only profile`) it is skipped.
 * `BENCH_PROFILE=chat` (a label prefix) profiles only the matching targets.
 */
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { BenchEnv } from '../lib/bench-env';
import type { Durations } from '../lib/durations';
import { summarizeProfile, type ProfileSummary } from '../lib/profile';
import { succeededTaskIds } from '../lib/tasks';
import { chatSpecs } from './chat';
import { videoSpec } from './admission';

export type ProfileResult = Record<string, ProfileSummary & { rps: number }>;

export async function runProfiles(env: BenchEnv, d: Durations): Promise<ProfileResult> {
  const out: ProfileResult = {};
  const ids = await succeededTaskIds(env.orm, 200);
  const targets: [string, (origin: string) => Parameters<BenchEnv['load']>[1]][] = [
    ['chat (non-streaming)', (origin) => ({ ...chatSpecs(env, false, origin).gateway, mode: 'max', connections: 32, durationS: d.measureS, warmupS: d.warmupS })],
    ['chat (streaming)', (origin) => ({ ...chatSpecs(env, true, origin).gateway, mode: 'max', connections: 32, durationS: d.measureS, warmupS: d.warmupS })],
  ];
  // autocannon refuses an empty request list: no finished task, nothing to poll.
  if (ids.length === 0) env.log('profile: no succeeded task to poll; GET /v1/tasks/{id} skipped');
  else {
    targets.push(['GET /v1/tasks/{id}', (origin) => ({
      origin, method: 'GET', paths: ids.map((id) => `/v1/tasks/${id}`), headers: { authorization: `Bearer ${env.fixture.key}` },
      mode: 'max', connections: 32, durationS: d.measureS, warmupS: d.warmupS,
    })]);
  }
  targets.push(
    ['POST /v1/videos', (origin) => ({ ...videoSpec(env, env.fixture.instantVideo), origin, mode: 'max', connections: 32, durationS: d.measureS, warmupS: d.warmupS })],
  );
  const only = process.env.BENCH_PROFILE;
  for (const [label, spec] of targets) {
    if (only && !label.startsWith(only)) continue;
    const dir = path.join(env.runDir, 'profiles', label.replace(/[^\w]+/g, '-'));
    await mkdir(dir, { recursive: true });
    const api = await env.startApi(`api-profile-${label.replace(/[^\w]+/g, '-')}`, ['--cpu-prof', '--cpu-prof-dir', dir]);
    env.log(`profile: ${label}`);
    const result = await env.load(`profile-${label.replace(/[^\w]+/g, '-')}`, spec(api.origin));
    await api.child.stop(30_000);
    const files = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile'));
    if (files.length === 0) {
      env.log(`profile: no .cpuprofile written for ${label}`);
      continue;
    }
    out[label] = { ...(await summarizeProfile(path.join(dir, files[0]!))), rps: result.rps };
  }
  return out;
}
