import type { Knex } from '@mikro-orm/postgresql';
import type { MediaTaskInput } from '../../workflows/types';
import { BudgetExceededError, holdInTransaction, InsufficientCreditsError } from './ledger';

/**
 * What starting a task's workflow needs beyond its row, stored on the row (`tasks.pending_start`) by an
 * API that reserved it itself, until the workflow is known to exist. The sweeper starts a workflow the
 * API did not get to start (it crashed between commit and start) from the row and this.
 */
export interface PendingStart {
  taskQueue: string;
  group: string;
  deadlineSeconds: number;
  maxChannelAttempts: number;
}

/** The outcome of a reservation: `created` is false when the task row existed already (a retry or a twin). */
export type Reservation =
  | { admitted: true; created: boolean }
  | { admitted: false; reason: 'insufficient_credits' | 'budget_exceeded' };

/**
 * Creates the task row and holds its price in one transaction. Idempotent: a second call for the same
 * task finds the row and changes nothing. An empty wallet or a spent budget creates nothing. Shared by
 * the API (which reserves before starting the workflow) and the workflow's `reserveCredits` step (runs
 * started by an API from before that).
 */
export async function reserveTask(knex: Knex, input: MediaTaskInput, pendingStart: PendingStart | null): Promise<Reservation> {
  try {
    let created = false;
    await knex.transaction(async (trx) => {
      const inserted = await trx.raw(
        `insert into tasks (id, account_id, api_key_id, kind, model, status, progress, request, request_hash,
           idempotency_key, callback_url, credits_reserved, created_at, updated_at, pending_start)
         values (?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?, ?, ?, now(), ?)
         on conflict (id) do nothing returning id`,
        [
          input.taskId, input.accountId, input.apiKeyId, input.kind, input.model, JSON.stringify(input.request),
          input.requestHash, input.idempotencyKey, input.callbackUrl, input.price, input.acceptedAt,
          pendingStart ? JSON.stringify(pendingStart) : null,
        ],
      );
      if (inserted.rows.length === 0) return;
      await holdInTransaction(trx, { ref: input.taskId, accountId: input.accountId, apiKeyId: input.apiKeyId, amount: input.price });
      created = true;
    });
    return { admitted: true, created };
  } catch (error) {
    if (error instanceof InsufficientCreditsError) return { admitted: false, reason: 'insufficient_credits' };
    if (error instanceof BudgetExceededError) return { admitted: false, reason: 'budget_exceeded' };
    throw error;
  }
}
