import { Webhook } from 'standardwebhooks';
import type { ReceivedHook } from '../../support/webhook-receiver';

/** What the receiver saw of the callbacks of a set of tasks. */
export interface CallbackFigures {
  /** Tasks that had a callback_url. */
  expected: number;
  /** Every POST that reached the receiver (refused ones included). */
  deliveries: number;
  /** Tasks with at least one delivery answered 2xx. */
  delivered: number;
  /** Deliveries the receiver refused on purpose (answered 5xx). */
  refusedByReceiver: number;
  /** Tasks whose callback arrived more than once (a retry after a refusal or a crash). */
  retriedIds: number;
  /** Deliveries answered 2xx beyond the first per webhook-id: what receivers de-duplicate. */
  duplicates: number;
}

/**
 * Checks the callbacks of `tasks` (id -> the key's webhook secret and the task's final status): each was
 * delivered at least once, every delivery of a task carries the same `webhook-id`, verifies with the key's
 * secret and names the final status. Throws listing every problem.
 */
export function checkCallbacks(received: readonly ReceivedHook[], tasks: ReadonlyMap<string, { secret: string; status: string }>): CallbackFigures {
  const byTask = new Map<string, ReceivedHook[]>();
  const problems: string[] = [];
  for (const hook of received) {
    let taskId: string;
    try {
      taskId = (JSON.parse(hook.body) as { data: { id: string } }).data.id;
    } catch {
      problems.push(`a delivery whose body is not a task event: ${hook.body.slice(0, 120)}`);
      continue;
    }
    if (!tasks.has(taskId)) continue;
    byTask.set(taskId, [...(byTask.get(taskId) ?? []), hook]);
  }
  let delivered = 0;
  let retriedIds = 0;
  let duplicates = 0;
  let deliveries = 0;
  let refusedByReceiver = 0;
  for (const [taskId, { secret, status }] of tasks) {
    const hooks = byTask.get(taskId) ?? [];
    deliveries += hooks.length;
    refusedByReceiver += hooks.filter((hook) => hook.answeredWith >= 300).length;
    const accepted = hooks.filter((hook) => hook.answeredWith < 300);
    if (accepted.length === 0) {
      problems.push(`${taskId}: no callback accepted (${hooks.length} deliveries)`);
      continue;
    }
    delivered += 1;
    if (hooks.length > 1) retriedIds += 1;
    duplicates += accepted.length - 1;
    const ids = new Set(hooks.map((hook) => hook.headers['webhook-id']));
    if (ids.size !== 1) problems.push(`${taskId}: deliveries carry ${ids.size} different webhook-ids: ${[...ids].join(', ')}`);
    for (const hook of hooks) {
      try {
        const payload = verifyAtReceipt(secret, hook) as { type: string; data: { status: string } };
        if (payload.type !== `task.${status}` || payload.data.status !== status) {
          problems.push(`${taskId}: delivered ${payload.type} / ${payload.data.status}, the task ended ${status}`);
        }
      } catch (error) {
        problems.push(`${taskId}: a delivery does not verify: ${String(error)}`);
      }
    }
  }
  if (problems.length > 0) throw new Error(`Callback problems (${problems.length}):\n  ${problems.slice(0, 40).join('\n  ')}`);
  return { expected: tasks.size, deliveries, delivered, refusedByReceiver, retriedIds, duplicates };
}

/**
 * Verifies a delivery as its receiver did on arrival: Standard Webhooks refuses a timestamp more than
 * five minutes from "now", and a full-scale run checks deliveries received many minutes earlier.
 */
function verifyAtReceipt(secret: string, hook: ReceivedHook): unknown {
  const clock = jest.spyOn(Date, 'now').mockReturnValue(hook.receivedAt);
  try {
    return new Webhook(secret).verify(hook.body, hook.headers);
  } finally {
    clock.mockRestore();
  }
}
