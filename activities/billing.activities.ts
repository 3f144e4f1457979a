import { closeHoldInTransaction } from '../src/billing/ledger';
import { pricingFor } from '../src/billing/media-quote';
import { priceMedia } from '../src/billing/pricing';
import { reserveTask } from '../src/billing/task-reservation';
import { Model, Task } from '../src/db/entities';
import type { Admission, MediaTaskInput, TaskFailure } from '../workflows/types';
import type { ActivityDeps } from './deps';

const FINAL = `('succeeded', 'failed', 'cancelled')`;

export function createBillingActivities(deps: ActivityDeps) {
  const knex = () => deps.orm.em.getKnex();

  return {
    /**
     * Creates the task row and holds its price (src/billing/task-reservation.ts). Runs only in workflows
     * whose API did not reserve before starting them (started by an API from before that change).
     */
    async reserveCredits(input: MediaTaskInput): Promise<Admission> {
      const reservation = await reserveTask(knex(), input, null);
      return reservation.admitted ? { admitted: true, taskId: input.taskId } : { admitted: false, taskId: input.taskId, reason: reservation.reason };
    },

    /**
     * Charges what was delivered (the provider's usage priced at the task's tier), never more than the
     * quote that was held, releases the rest, marks the task succeeded and writes its usage row, all in
     * one transaction. No usage at all: the quote, which is exactly what went upstream. Idempotent.
     */
    async settleCredits(input: { taskId: string; channelId: string; usage: { seconds?: number; images?: number } }): Promise<{ charged: number }> {
      const em = deps.orm.em.fork();
      const task = await em.findOneOrFail(Task, { id: input.taskId });
      const model = await em.findOne(Model, { id: task.model });
      const fromUsage = model && (input.usage.seconds !== undefined || input.usage.images !== undefined)
        ? priceMedia(pricingFor(model, task.request), input.usage)
        : task.creditsReserved;
      const charge = Math.min(task.creditsReserved, fromUsage);
      return knex().transaction(async (trx) => {
        const closed = await closeHoldInTransaction(trx, { ref: input.taskId, capture: charge });
        if (closed.status === 'already_closed') {
          const row = await trx.raw(`select credits_charged from tasks where id = ?`, [input.taskId]);
          return { charged: Number(row.rows[0].credits_charged) };
        }
        await trx.raw(
          `update tasks set status = 'succeeded', progress = 100, credits_charged = ?, credits_refunded = ?,
             channel_id = ?, completed_at = now(), updated_at = now()
           where id = ? and status not in ${FINAL}`,
          [closed.captured, closed.released, input.channelId, input.taskId],
        );
        await trx.raw(
          `insert into usage_records (id, ref, account_id, api_key_id, model, category, channel_id, units, credits, status, latency_ms)
           values (?, ?, ?, ?, ?, ?, ?, ?, ?, 'succeeded', ?) on conflict (ref) do nothing`,
          [
            `use_${input.taskId}`, input.taskId, task.accountId, task.apiKeyId, task.model, task.kind, input.channelId,
            JSON.stringify(input.usage), closed.captured, Date.now() - task.createdAt.getTime(),
          ],
        );
        deps.metrics?.tasksFinished.inc({ kind: task.kind, model: task.model, status: 'succeeded' });
        deps.metrics?.taskDuration.observe({ kind: task.kind, model: task.model, status: 'succeeded' }, (Date.now() - task.createdAt.getTime()) / 1000);
        deps.metrics?.creditsCharged.inc({ category: task.kind }, closed.captured);
        return { charged: closed.captured };
      });
    },

    /** Releases the whole hold and records the task's final failed or cancelled state. Idempotent. */
    async refundCredits(input: { taskId: string; status: 'failed' | 'cancelled'; error: TaskFailure | null }): Promise<{ refunded: number }> {
      return knex().transaction(async (trx) => {
        const closed = await closeHoldInTransaction(trx, { ref: input.taskId, capture: 0 });
        const refunded = closed.status === 'closed' ? closed.released : 0;
        const updated = await trx.raw(
          `update tasks set status = ?, error = ?, credits_refunded = credits_refunded + ?, completed_at = now(), updated_at = now()
           where id = ? and status not in ${FINAL} returning account_id, api_key_id, model, kind, channel_id, created_at`,
          [input.status, input.error ? JSON.stringify(input.error) : null, refunded, input.taskId],
        );
        const task = updated.rows[0];
        if (task) {
          deps.metrics?.tasksFinished.inc({ kind: task.kind, model: task.model, status: input.status });
          deps.metrics?.taskDuration.observe({ kind: task.kind, model: task.model, status: input.status }, (Date.now() - new Date(task.created_at).getTime()) / 1000);
          await trx.raw(
            `insert into usage_records (id, ref, account_id, api_key_id, model, category, channel_id, units, credits, status, latency_ms)
             values (?, ?, ?, ?, ?, ?, ?, '{}', 0, ?, ?) on conflict (ref) do nothing`,
            [
              `use_${input.taskId}`, input.taskId, task.account_id, task.api_key_id, task.model, task.kind, task.channel_id,
              input.status, Date.now() - new Date(task.created_at).getTime(),
            ],
          );
        }
        return { refunded };
      });
    },
  };
}
