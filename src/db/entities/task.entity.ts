import { defineEntity } from '@mikro-orm/core';

/** The error object of API.md, as stored on a failed task. */
export interface TaskError {
  message: string;
  type: string;
  code: string;
}

/** One channel attempt of a task, kept for operators. */
export interface TaskAttempt {
  channelId: string;
  jobId?: string;
  outcome: 'submitted' | 'failed' | 'succeeded' | 'cancelled';
  code?: string;
  at: string;
}

/** The read model of a media task: every workflow step updates it, GET /v1/tasks/{id} reads it. */
export const Task = defineEntity({
  name: 'Task',
  tableName: 'tasks',
  properties: (p) => ({
    id: p.string().primary(),
    accountId: p.string().index(),
    apiKeyId: p.string(),
    kind: p.string(),
    model: p.string(),
    status: p.string(),
    progress: p.integer().nullable(),
    request: p.json<Record<string, unknown>>(),
    /** SHA-256 of the request body, to refuse an Idempotency-Key reused with another body. */
    requestHash: p.string(),
    idempotencyKey: p.string().nullable(),
    callbackUrl: p.text().nullable(),
    channelId: p.string().nullable(),
    providerJobId: p.string().nullable(),
    attempts: p.json<TaskAttempt[]>(),
    error: p.json<TaskError>().nullable(),
    creditsReserved: p.bigint('number'),
    creditsCharged: p.bigint('number'),
    creditsRefunded: p.bigint('number'),
    createdAt: p.datetime(),
    updatedAt: p.datetime(),
    completedAt: p.datetime().nullable(),
    /** What starting its workflow needs, until the workflow is known to exist (src/billing/task-reservation.ts). */
    pendingStart: p.json<Record<string, unknown>>().nullable(),
  }),
});
