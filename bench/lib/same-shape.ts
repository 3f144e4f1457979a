/**
 * The input of a same-shape baseline task: what the API would send mediaTaskWorkflow for a 5 s video
 * on the instant mock, with made-up account and key ids (the same-shape worker's stubs never look).
 */
import { randomUUID } from 'node:crypto';
import type { MediaTaskInput } from '../../workflows/types';

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
