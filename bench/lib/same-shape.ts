/**
 * The same-shape baseline (bench/procs/same-shape-worker.ts): its activities' canned answers, and the
 * input of a same-shape task.
 *
 * The input of a same-shape baseline task: what the API would send mediaTaskWorkflow for a 5 s video
 * on the instant mock, with made-up account and key ids (the same-shape worker's stubs never look).
 */
import { randomUUID } from 'node:crypto';
import type { ActivityDeps, MediaActivities } from '../../activities';
import type { Admission, ChannelPick, FinishedJob, MediaTaskInput } from '../../workflows/types';

export const SAME_SHAPE_TASK_QUEUE = 'bench-same-shape';

export function sameShapeInput(opts: { callbackUrl?: string | null } = {}): MediaTaskInput {
  const taskId = `task_same_shape_${randomUUID().replace(/-/g, '')}`;
  return {
    taskId,
    accountId: 'acct_same_shape',
    apiKeyId: 'key_same_shape',
    group: 'default',
    kind: 'video',
    model: 'bench-video',
    request: { prompt: 'a red fox in the snow', references: {}, duration: 5, options: {} },
    price: 5,
    callbackUrl: opts.callbackUrl ?? null,
    idempotencyKey: null,
    requestHash: '0'.repeat(64),
    deadlineSeconds: 3600,
    maxChannelAttempts: 3,
    acceptedAt: new Date().toISOString(),
  };
}

/** Canned answers of the steps a task finishing at once takes (and of the others, should the workflow take them). */
export function stubActivities(): Partial<Record<keyof MediaActivities, (...args: never[]) => Promise<unknown>>> {
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
export function stubsForEveryActivity(real: Record<string, unknown>): Record<string, (...args: unknown[]) => Promise<unknown>> {
  const canned = stubActivities() as Record<string, (...args: unknown[]) => Promise<unknown>>;
  return Object.fromEntries(Object.keys(real).map((name) => [name, canned[name] ?? (async () => ({}))]));
}

/** Deps whose every property is another such object, and calling any of them fails: building the real activities reads them but must not use them. */
export function unusedDeps(): ActivityDeps {
  const fail = () => {
    throw new Error('a same-shape stub reached a real dependency');
  };
  const never: object = new Proxy(fail, { get: (_target, key) => (key === 'then' ? undefined : never), apply: fail });
  return { orm: never, providers: never, store: never, box: never, log: never, publicUrl: 'http://127.0.0.1', outbound: never } as unknown as ActivityDeps;
}
