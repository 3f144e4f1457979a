/**
 * Worker of the same-shape baseline: the real `mediaTaskWorkflow` bundle (WORKFLOW_BUNDLE_PATH, the one
 * the gateway's worker runs) with the real worker options (createMediaWorker), on a task queue of its
 * own, whose activities are no-op stubs returning canned values: reserve admits, pick returns a fake
 * channel, submit finishes at once with one output, persist returns an asset id, settle charges, the
 * callback returns. So a same-shape task is our exact sequence of steps and commands (same local/queued
 * choices, options, patches), and the difference to the gateway's task is what our activities cost.
 * Env: TEMPORAL_ADDRESS, BENCH_TASK_QUEUE, WORKFLOW_BUNDLE_PATH. Prints `READY`.
 */
import { NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../../activities';
import { createMediaWorker } from '../../workers/media-worker';
import type { Admission, ChannelPick, FinishedJob, MediaTaskInput } from '../../workflows/types';

type Activities = ReturnType<typeof createActivities>;

/** Canned answers of the steps a task finishing at once takes (and of the others, should the workflow take them). */
export function stubActivities(): Partial<Record<keyof Activities, (...args: never[]) => Promise<unknown>>> {
  const finished = (jobId: string): FinishedJob => ({
    status: 'succeeded', job: { jobId }, outputs: [{ url: 'https://example.invalid/out.mp4', contentType: 'video/mp4' }], usage: { seconds: 5 },
  });
  return {
    reserveCredits: async (input: MediaTaskInput): Promise<Admission> => ({ admitted: true, taskId: input.taskId }),
    pickChannel: async (): Promise<ChannelPick> => ({ channelId: 'ch_same_shape', provider: 'mock', upstreamModel: 'same-shape', pollIntervalMs: 1000 }),
    submitToProvider: async (input: { taskId: string }) => ({ job: { jobId: `job_${input.taskId}` }, finished: finished(`job_${input.taskId}`) }),
    waitForProvider: async (input: { taskId: string }) => finished(`job_${input.taskId}`),
    readProviderJob: async (input: { taskId: string }) => ({ finished: finished(`job_${input.taskId}`), pollErrors: 0 }),
    cancelProviderJob: async () => ({ outcome: 'cancelled' }),
    persistAssets: async () => ({ assetIds: ['asset_same_shape'] }),
    settleCredits: async () => ({ charged: 5 }),
    refundCredits: async () => ({ refunded: 5 }),
    sendCallback: async () => ({ delivered: true, status: 204 }),
  };
}

/**
 * The real activity names with stub bodies: an activity the workflow gains later still gets a (generic)
 * stub, so the baseline keeps running the workflow as it is without an edit here.
 */
function stubsForEveryActivity(real: Record<string, unknown>): Record<string, (...args: unknown[]) => Promise<unknown>> {
  const canned = stubActivities() as Record<string, (...args: unknown[]) => Promise<unknown>>;
  return Object.fromEntries(Object.keys(real).map((name) => [name, canned[name] ?? (async () => ({}))]));
}

async function main(): Promise<void> {
  Runtime.install({ shutdownSignals: [], logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} } });
  const connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS! });
  // createMediaWorker builds the real activities from its deps and hands them to Worker.create with the
  // gateway's worker options. Swap only the activities on their way in, so the options stay whatever
  // the gateway's are. The deps are never used: the real activities are only read for their names.
  const create = Worker.create.bind(Worker);
  Worker.create = (options) => create({ ...options, activities: stubsForEveryActivity((options.activities ?? {}) as Record<string, unknown>) });
  const worker = await createMediaWorker({
    connection,
    namespace: process.env.TEMPORAL_NAMESPACE ?? 'default',
    taskQueue: process.env.BENCH_TASK_QUEUE!,
    workflowBundle: { codePath: process.env.WORKFLOW_BUNDLE_PATH! },
    activities: unusedDeps(),
  });
  process.once('SIGTERM', () => worker.shutdown());
  process.stdout.write('READY\n');
  await worker.run();
  await connection.close();
  process.exit(0);
}

/** Deps whose every property is another such object, and calling any of them fails: building the real activities reads them but must not use them. */
function unusedDeps(): ActivityDeps {
  const fail = () => {
    throw new Error('a same-shape stub reached a real dependency');
  };
  const never: object = new Proxy(fail, { get: (_target, key) => (key === 'then' ? undefined : never), apply: fail });
  return { orm: never, providers: never, store: never, box: never, log: never, publicUrl: 'http://127.0.0.1', outbound: never } as unknown as ActivityDeps;
}

if (require.main === module) {
  main().catch((error) => {
    process.stderr.write(`same-shape worker failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });
}
