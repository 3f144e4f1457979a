import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { Admission, TaskStatus } from './types';

/**
 * Sent with the workflow's start (Update-With-Start) by APIs from before the API reserved itself: answers
 * once the credits are reserved or refused. Kept so runs started by such an API still answer it.
 */
export const admitTaskUpdate = defineUpdate<Admission>('admitTask');

/** The workflow's own view of the task, for operators in the Temporal UI. */
export const getTaskQuery = defineQuery<{ status: TaskStatus | 'rejected'; channelId: string | null; attempts: number }>('getTask');

/**
 * A provider called back about the job of channel attempt `attempt` (our per-job token checked): the
 * workflow reads that job's state once, now, instead of waiting for the backstop poll. It carries no
 * state itself, so a forged or replayed one can at most cause one more status read.
 */
export const providerUpdateSignal = defineSignal<[{ attempt: number }]>('providerUpdate');
