import { ApplicationFailure, Context } from '@temporalio/activity';
import { ApiKey, Asset, Task } from '../src/db/entities';
import { presentTask } from '../src/modules/tasks/tasks.presenter';
import { signWebhook } from '../src/webhooks/sign';
import { guardedPost } from '../src/net/guarded-post';
import type { ActivityDeps } from './deps';

/** Time a receiver gets to answer one delivery. */
const DELIVERY_TIMEOUT_MS = 15_000;
/** Kept free at the end of an attempt to record the delivery before the activity's own timeout. */
const RECORD_MARGIN_MS = 1_000;

export function createCallbackActivities(deps: ActivityDeps) {
  return {
    /**
     * POSTs `task.<status>` to the task's callback_url, signed per Standard Webhooks with the key's
     * secret. The message id is fixed per task, so every retry carries the same `webhook-id`.
     * Throws on a refused delivery so Temporal retries it on the callbacks policy.
     */
    async sendCallback(input: { taskId: string }): Promise<{ delivered: boolean; status?: number }> {
      const em = deps.orm.em.fork();
      const task = await em.findOneOrFail(Task, { id: input.taskId });
      if (!task.callbackUrl) return { delivered: false };
      const key = await em.findOneOrFail(ApiKey, { id: task.apiKeyId });
      const assets = await em.find(Asset, { taskId: task.id });
      const messageId = `msg_${task.id}`;
      const eventType = `task.${task.status}`;
      const verdict = await deps.outbound.check(task.callbackUrl);
      if (!verdict.ok) {
        await record(messageId, task.id, task.callbackUrl, eventType, null, `refused: the callback URL ${verdict.reason}`);
        return { delivered: false };
      }
      const timestamp = new Date();
      const payload = JSON.stringify({
        type: eventType,
        timestamp: timestamp.toISOString(),
        data: presentTask(task, assets, { publicUrl: deps.publicUrl, box: deps.box }),
      });
      const headers = signWebhook(deps.box.open(key.webhookSecretEnc), messageId, timestamp, payload);
      let status: number | null = null;
      let problem: string | null = null;
      try {
        const response = await guardedPost(
          task.callbackUrl,
          payload,
          { 'content-type': 'application/json', 'user-agent': 'media-gateway-webhooks/1', ...headers },
          // The workflow's first try (a short local activity) gives up on a slow receiver before its own
          // timeout, so the queued retry that follows is never raced by this attempt still sending.
          { guard: deps.outbound, timeoutMs: Math.min(DELIVERY_TIMEOUT_MS, (Context.current().info.startToCloseTimeoutMs || Infinity) - RECORD_MARGIN_MS) },
        );
        status = response.status;
        if (status < 200 || status >= 300) problem = `receiver answered HTTP ${status}`;
      } catch (error) {
        problem = error instanceof Error ? error.message : String(error);
      }
      await record(messageId, task.id, task.callbackUrl, eventType, status, problem);
      if (problem) {
        const { attempt, isLocal } = Context.current().info;
        deps.log.warn({ taskId: task.id, attempt, firstTry: isLocal, status }, 'callback delivery failed');
        throw ApplicationFailure.retryable(`Callback delivery failed: ${problem}`, 'CallbackDeliveryFailed');
      }
      return { delivered: true, status: status ?? undefined };
    },
  };

  async function record(id: string, taskId: string, url: string, eventType: string, status: number | null, error: string | null): Promise<void> {
    await deps.orm.em.getConnection().execute(
      `insert into webhook_deliveries (id, task_id, url, event_type, attempts, last_status, last_error, delivered_at)
       values (?, ?, ?, ?, 1, ?, ?, case when ?::text is null then now() end)
       on conflict (id) do update set attempts = webhook_deliveries.attempts + 1, last_status = excluded.last_status,
         last_error = excluded.last_error, delivered_at = coalesce(webhook_deliveries.delivered_at, excluded.delivered_at)`,
      [id, taskId, url, eventType, status, error, error],
    );
  }
}
