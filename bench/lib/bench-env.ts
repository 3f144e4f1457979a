/**
 * Everything a benchmark run starts: embedded PostgreSQL and the Temporal dev server (or the ones in
 * DATABASE_URL / TEMPORAL_ADDRESS), the workflow bundle built once, the fake upstream, the API process
 * (`src/main.ts`, no worker inside), the worker process (`workers/main.ts`) and the baselines' workers
 * (the empty workflow's, the same-shape one's), each in its own process, configured through the admin API
 * like an operator would.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { freePort } from '../../src/infra/ports';
import { startLocalStack, type LocalStack } from '../../src/local-stack';
import { startServerStack } from '../../src/infra/server-stack';
import { initOrm, migrateUp, type Orm } from '../../src/db/orm';
import { bundleWorkflows } from '../../workers/media-worker';
import { apiClient, waitForHttp, type ApiClient } from './api';
import type { LoadResult, LoadSpec } from './load-spec';
import { ROOT, runNodeJson, spawnNode, type NodeChild } from './procs';
import { SAME_SHAPE_TASK_QUEUE } from './same-shape';

export interface Fixture {
  accountId: string;
  key: string;
  keyId: string;
  /** Chat model on the fake upstream. */
  chatModel: string;
  /** Video model on a mock channel that finishes at submit. */
  instantVideo: string;
  /** Video model on a mock channel whose jobs take 60 s. */
  slowVideo: string;
}

export interface BenchEnv {
  runDir: string;
  stack: LocalStack;
  /** PostgreSQL for the benchmark's own reads (task rows, ledger). */
  orm: Orm;
  fake: { url: string; origin: string; apiKey: string };
  /** A Temporal client of the driver's own, for histories. */
  temporal: Client;
  api: { origin: string; child: NodeChild; client: ApiClient };
  worker: NodeChild;
  adminToken: string;
  fixture: Fixture;
  /** Env of the API and worker processes. */
  serviceEnv: NodeJS.ProcessEnv;
  /** The baselines' workers: the empty workflow's, and the real workflow's with no-op activities (same-shape). */
  baselineWorkers: { empty: NodeChild; sameShape: NodeChild };
  /** Runs one load process (separate from every server) and returns its result; `cpuList` pins it. */
  load(name: string, spec: LoadSpec, opts?: { cpuList?: string }): Promise<LoadResult>;
  /** Runs a baseline load: bare starts of the empty workflow (default), or same-shape tasks. */
  bareStarts(name: string, spec: BaselineSpec): Promise<LoadResult>;
  /**
   * Starts another API process (e.g. with --cpu-prof) on its own port; the caller stops it. `env` adds
   * to the services' env (RUN_WORKER unset: the worker runs inside, as `npm start` ships); `cpuList` pins it.
   */
  startApi(name: string, nodeArgs?: string[], opts?: { env?: NodeJS.ProcessEnv; cpuList?: string }): Promise<{ origin: string; child: NodeChild }>;
  /**
   * Starts `src/api/main.ts` with API_PROCESSES=`processes` on its own port: one process, or Node's
   * cluster primary and its API processes sharing the port, as `npm run stack` runs the API. LOG_LEVEL
   * info, as the stack runs it (its ready lines are info). The caller stops it.
   */
  startApiCluster(name: string, processes: number): Promise<{ origin: string; child: NodeChild }>;
  /** Starts another worker process with the first one's settings; the caller stops it. */
  startWorker(name: string): Promise<NodeChild>;
  log(message: string): void;
  stop(): Promise<void>;
}

export const EMPTY_TASK_QUEUE = 'bench-empty';

export interface BaselineSpec {
  workflow?: 'empty' | 'same-shape';
  mode: 'max' | 'paced';
  concurrency?: number;
  rate?: number;
  durationS: number;
  warmupS: number;
  /** Also wait for each workflow's result and time it (end to end). */
  awaitResult?: boolean;
  /** Same-shape only: the input's callback_url (the stub never calls it; the workflow takes the callback step). */
  callbackUrl?: string;
}

export async function startBenchEnv(opts: { log: (message: string) => void; /** The Temporal server on PostgreSQL instead of the dev server. */ temporalServer?: boolean }): Promise<BenchEnv> {
  const log = opts.log;
  const runDir = path.join(ROOT, '.bench-data', `run-${process.pid}`);
  await mkdir(runDir, { recursive: true });
  const started = Date.now();
  const stack = opts.temporalServer ? await startServerStack({ dataDir: runDir, log }) : await startLocalStack({
    databaseUrl: process.env.DATABASE_URL,
    temporalAddress: process.env.TEMPORAL_ADDRESS,
    dataDir: runDir,
    env: process.env,
    log,
    headless: true,
    postgresPort: await freePort(),
    temporalPort: await freePort(),
    // The dev server's default rollback journal syncs every write: 14 bare starts/s against 36-42 with
    // WAL and no sync (same machine, same load). Benchmark data is thrown away, so durability buys nothing.
    temporalSqlitePragmas: { journal_mode: 'wal', synchronous: 'off' },
  });
  const children: NodeChild[] = [];
  const stopAll = async () => {
    for (const child of children.reverse()) await child.stop().catch(() => undefined);
  };
  try {
    const orm = await initOrm({ url: stack.databaseUrl, poolMax: 10 });
    await migrateUp(orm);
    const bundle = await bundleWorkflows();
    const bundlePath = path.join(runDir, 'workflow-bundle.js');
    await writeFile(bundlePath, bundle.code);
    log(`PostgreSQL, Temporal and the workflow bundle ready in ${Math.round((Date.now() - started) / 1000)} s`);

    const adminToken = `adm_${randomBytes(16).toString('hex')}`;
    const serviceEnv: NodeJS.ProcessEnv = {
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      DATABASE_URL: stack.databaseUrl,
      TEMPORAL_ADDRESS: stack.temporalAddress,
      WORKFLOW_BUNDLE_PATH: bundlePath,
      GATEWAY_SECRET: randomBytes(32).toString('hex'),
      ADMIN_TOKEN: adminToken,
      DATA_DIR: path.join(runDir, 'gateway'),
      OUTBOUND_ALLOWLIST: '127.0.0.0/8',
      SEED_DEMO: 'false',
      LOG_LEVEL: 'warn',
      // Production refuses an open /metrics; the benchmarks don't scrape it.
      METRICS_TOKEN: randomBytes(16).toString('hex'),
    };

    const fakeChild = spawnNode({ name: 'fake-upstream', script: 'bench/procs/fake-upstream.ts', logDir: runDir });
    children.push(fakeChild);
    const fake = JSON.parse((await fakeChild.waitForLine(/^READY /)).slice(6)) as BenchEnv['fake'];

    const startApi = async (name: string, nodeArgs: string[] = [], opts: { env?: NodeJS.ProcessEnv; cpuList?: string } = {}) => {
      const port = await freePort();
      const child = spawnNode({
        name, script: 'src/main.ts', nodeArgs, logDir: runDir, cpuList: opts.cpuList,
        env: { ...serviceEnv, PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}`, RUN_WORKER: 'false', ...opts.env },
      });
      children.push(child);
      await child.waitForLine(/Gateway API/);
      const origin = `http://127.0.0.1:${port}`;
      await waitForHttp(`${origin}/healthz`);
      return { origin, child };
    };
    const api = await startApi('api');
    // BENCH_PROFILE_WORKER=<dir>: the worker runs under --cpu-prof and writes its profile there when stopped.
    const workerProfile = process.env.BENCH_PROFILE_WORKER ? ['--cpu-prof', '--cpu-prof-dir', path.resolve(process.env.BENCH_PROFILE_WORKER)] : [];
    const startWorker = async (name: string, nodeArgs: string[] = []) => {
      const child = spawnNode({
        name, script: 'workers/main.ts', nodeArgs, logDir: runDir,
        env: { ...serviceEnv, LOG_LEVEL: 'info', PUBLIC_URL: api.origin },
      });
      children.push(child);
      await child.waitForLine(/worker running/);
      return child;
    };
    const worker = await startWorker('worker', workerProfile);
    const startApiCluster = async (name: string, processes: number) => {
      const port = await freePort();
      const child = spawnNode({
        name, script: 'src/api/main.ts', logDir: runDir,
        env: {
          ...serviceEnv, PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}`, RUN_WORKER: 'false',
          EMBEDDED_SERVICES: 'false', API_PROCESSES: String(processes), LOG_LEVEL: 'info',
        },
      });
      children.push(child);
      // The primary says so once every API process listens (one process: once it does).
      await child.waitForLine(processes > 1 ? /API cluster ready/ : /API listening/);
      const origin = `http://127.0.0.1:${port}`;
      await waitForHttp(`${origin}/readyz`);
      return { origin, child };
    };
    const baselineEnv = { TEMPORAL_ADDRESS: stack.temporalAddress, WORKFLOW_BUNDLE_PATH: bundlePath };
    const emptyWorker = spawnNode({ name: 'empty-worker', script: 'bench/procs/empty-worker.ts', logDir: runDir, env: { ...baselineEnv, BENCH_TASK_QUEUE: EMPTY_TASK_QUEUE } });
    children.push(emptyWorker);
    const sameShapeWorker = spawnNode({ name: 'same-shape-worker', script: 'bench/procs/same-shape-worker.ts', logDir: runDir, env: { ...baselineEnv, BENCH_TASK_QUEUE: SAME_SHAPE_TASK_QUEUE } });
    children.push(sameShapeWorker);
    await Promise.all([emptyWorker.waitForLine(/^READY/), sameShapeWorker.waitForLine(/^READY/)]);
    const client = apiClient(api.origin, adminToken);
    const connection = await Connection.connect({ address: stack.temporalAddress });
    const temporal = new Client({ connection });
    const fixture = await configure(client, fake);
    log(`API ${api.origin} (pid ${api.child.pid}), worker pid ${worker.pid}, fake upstream ${fake.origin} (pid ${fakeChild.pid})`);

    let loads = 0;
    return {
      runDir, stack, orm, fake, temporal, adminToken, fixture, serviceEnv, worker,
      baselineWorkers: { empty: emptyWorker, sameShape: sameShapeWorker },
      api: { ...api, client },
      log,
      startApi,
      startApiCluster,
      startWorker: (name) => startWorker(name),
      load: (name, spec, opts = {}) =>
        runNodeJson<LoadResult>({ name: `load-${++loads}-${name}`, script: 'bench/procs/load.ts', args: [JSON.stringify(spec)], logDir: runDir, cpuList: opts.cpuList }),
      bareStarts: (name, spec) =>
        runNodeJson<LoadResult>({
          name: `load-${++loads}-${name}`, script: 'bench/procs/bare-starts.ts', logDir: runDir,
          args: [JSON.stringify({ address: stack.temporalAddress, taskQueue: spec.workflow === 'same-shape' ? SAME_SHAPE_TASK_QUEUE : EMPTY_TASK_QUEUE, ...spec })],
        }),
      async stop() {
        await stopAll();
        await connection.close().catch(() => undefined);
        await orm.close().catch(() => undefined);
        await stack.stop();
        await rm(path.join(runDir, 'postgres'), { recursive: true, force: true });
        await rm(path.join(runDir, 'temporal'), { recursive: true, force: true });
        await rm(path.join(runDir, 'gateway'), { recursive: true, force: true });
      },
    };
  } catch (error) {
    await stopAll();
    await stack.stop();
    throw error;
  }
}

/** An account rich enough for every scenario, one key, and the models and channels the scenarios use. */
async function configure(api: ApiClient, fake: BenchEnv['fake']): Promise<Fixture> {
  const account = await api.admin('POST', '/admin/accounts', { name: 'bench', credits: 1_000_000_000_000 });
  const key = await api.admin('POST', '/admin/keys', { account_id: account.id, name: 'bench' });
  await api.admin('POST', '/admin/models', { id: 'bench-chat', category: 'chat', pricing: { per_1k_input_tokens: 1, per_1k_output_tokens: 2 } });
  await api.admin('POST', '/admin/channels', {
    name: 'fake openai', provider: 'openai', base_url: fake.url, api_key: fake.apiKey, models: { 'bench-chat': 'gpt-4o-mini' },
  });
  await api.admin('POST', '/admin/models', { id: 'bench-video', category: 'video', pricing: { per_second: 1 }, default_duration: 5 });
  await api.admin('POST', '/admin/channels', { name: 'mock instant', provider: 'mock', models: ['bench-video'], settings: { durationMs: 0 } });
  await api.admin('POST', '/admin/models', { id: 'bench-video-60s', category: 'video', pricing: { per_second: 1 }, default_duration: 5 });
  await api.admin('POST', '/admin/channels', { name: 'mock 60 s', provider: 'mock', models: ['bench-video-60s'], settings: { durationMs: 60_000 } });
  return { accountId: account.id, key: key.key, keyId: key.id, chatModel: 'bench-chat', instantVideo: 'bench-video', slowVideo: 'bench-video-60s' };
}
