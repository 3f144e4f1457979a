import type { Knex } from '@mikro-orm/postgresql';
import type { Client } from '@temporalio/client';
import type { PendingStart } from '../../billing/task-reservation';
import { startMediaTask } from '../../temporal/media-tasks';
import type { MediaKind, MediaTaskInput, MediaTaskRequest, TaskFailure } from '../../../workflows/types';

/**
 * Starting the workflow of a task the API reserved itself (row and hold committed, `pending_start` set),
 * and knowing it started: the POST does it right after its commit, a retried POST and the sweeper do it
 * again for a task whose API died between the two. Every start is idempotent (media-tasks.ts).
 */

/** A task row that still carries its pending start. */
export interface UnstartedTask {
  id: string;
  account_id: string;
  api_key_id: string;
  kind: MediaKind;
  model: string;
  status: string;
  request: MediaTaskRequest;
  request_hash: string;
  idempotency_key: string | null;
  callback_url: string | null;
  credits_reserved: string | number;
  created_at: Date | string;
  pending_start: PendingStart;
  /** false once the task's model was removed. */
  model_exists: boolean;
}

export const UNSTARTED_COLUMNS = `id, account_id, api_key_id, kind, model, status, request, request_hash, idempotency_key, callback_url,
  credits_reserved, created_at, pending_start, exists (select 1 from models m where m.id = tasks.model) as model_exists`;

/** What the start of a reserved task stores for a later start (the row holds the rest). */
export function pendingStartOf(input: MediaTaskInput, taskQueue: string): PendingStart {
  return { taskQueue, group: input.group, deadlineSeconds: input.deadlineSeconds, maxChannelAttempts: input.maxChannelAttempts };
}

/** The workflow input, rebuilt from the row and its pending start: the same input the POST started with. */
export function inputOfUnstarted(row: UnstartedTask): MediaTaskInput {
  return {
    taskId: row.id,
    accountId: row.account_id,
    apiKeyId: row.api_key_id,
    group: row.pending_start.group,
    kind: row.kind,
    model: row.model,
    request: row.request,
    price: Number(row.credits_reserved),
    callbackUrl: row.callback_url,
    idempotencyKey: row.idempotency_key,
    requestHash: row.request_hash,
    deadlineSeconds: row.pending_start.deadlineSeconds,
    maxChannelAttempts: row.pending_start.maxChannelAttempts,
    acceptedAt: new Date(row.created_at).toISOString(),
    admittedByApi: true,
  };
}

/** The task's row if it still waits for its workflow's start (else null: started, or never the API's to start). */
export async function loadUnstarted(knex: Knex, taskId: string): Promise<UnstartedTask | null> {
  const rows = await knex.raw(`select ${UNSTARTED_COLUMNS} from tasks where id = ? and pending_start is not null`, [taskId]);
  return (rows.rows[0] as UnstartedTask | undefined) ?? null;
}

/** Why the task can't be started any more, as the error its consumer will read; null if it can. */
export function unstartable(row: UnstartedTask): TaskFailure | null {
  if (!row.model_exists) {
    return { type: 'gateway_error', code: 'model_not_found', message: `The model ${row.model} was removed before the task could start; every credit was given back` };
  }
  const deadline = new Date(row.created_at).getTime() + row.pending_start.deadlineSeconds * 1000;
  if (Date.now() > deadline) {
    return { type: 'gateway_error', code: 'not_started', message: 'The task could not be started within its deadline; every credit was given back' };
  }
  return null;
}

/** Starts (or joins) the reserved task's workflow, then records that it exists. */
export async function startReserved(deps: { temporal: Client; knex: Knex }, taskQueue: string, input: MediaTaskInput): Promise<'started' | 'existed'> {
  const outcome = await startMediaTask(deps.temporal, taskQueue, input);
  await markStarted(deps.knex, input.taskId);
  return outcome;
}

/** The task's workflow exists (or its task needs none any more): nothing is left to start. */
export async function markStarted(knex: Knex, taskId: string): Promise<void> {
  // Losing this write in a crash costs one more (idempotent) start by the sweeper, so its commit does not
  // wait for the disk: a synced commit is most of a POST's database time on a slow disk.
  await knex.transaction(async (trx) => {
    await trx.raw('set local synchronous_commit = off');
    await trx.raw(`update tasks set pending_start = null where id = ? and pending_start is not null`, [taskId]);
  });
}
