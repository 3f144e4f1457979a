import type { EntityManager } from '@mikro-orm/postgresql';
import { Asset, Task, WebhookDelivery } from '../../db/entities';
import { errors } from '../../http/errors';
import type { SecretBox } from '../../security/secrets';
import { presentTask, type TaskObject } from '../tasks/tasks.presenter';
import type { ConsoleTasksQuery } from './console.schemas';

type Links = { publicUrl: string; box: SecretBox };

/** A date filter's bound: a plain date `to` means the end of that day (UTC). */
export function bound(value: string | undefined, end: boolean): Date | undefined {
  if (!value) return undefined;
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return new Date(Date.parse(`${value}T00:00:00Z`) + (end ? 86_400_000 : 0));
  return new Date(value);
}

/** One page of tasks, newest first, with their outputs; `accountId` scopes it to one account. */
export async function listTasks(em: EntityManager, links: Links, query: ConsoleTasksQuery, accountId?: string) {
  const where: string[] = ['true'];
  const params: unknown[] = [];
  const scope = accountId ?? query.account_id;
  if (scope) { where.push('account_id = ?'); params.push(scope); }
  if (query.after) {
    const anchor = await em.findOne(Task, { id: query.after, ...(scope ? { accountId: scope } : {}) });
    if (!anchor) throw errors.invalid('Invalid query: after: unknown task id', [{ path: 'after', message: 'unknown task id' }]);
    where.push('(created_at, id) < (?, ?)');
    params.push(anchor.createdAt, anchor.id);
  }
  if (query.status) { where.push('status = ?'); params.push(query.status); }
  if (query.model) { where.push('model = ?'); params.push(query.model); }
  if (query.kind) { where.push('kind = ?'); params.push(query.kind); }
  const from = bound(query.from, false);
  const to = bound(query.to, true);
  if (from) { where.push('created_at >= ?'); params.push(from); }
  if (to) { where.push('created_at < ?'); params.push(to); }
  const rows = await em.getConnection().execute<{ id: string }[]>(
    `select id from tasks where ${where.join(' and ')} order by created_at desc, id desc limit ?`,
    [...params, query.limit + 1],
  );
  const ids = rows.slice(0, query.limit).map((r) => r.id);
  const tasks = ids.length ? await em.find(Task, { id: { $in: ids } }) : [];
  const assets = ids.length ? await em.find(Asset, { taskId: { $in: ids } }) : [];
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const data = ids.map((id) => {
    const task = byId.get(id)!;
    return { ...presentTask(task, assets.filter((a) => a.taskId === id), links), kind: task.kind, account_id: task.accountId };
  });
  return { object: 'list', data, has_more: rows.length > query.limit, last_id: data.at(-1)?.id ?? null };
}

/** One step of a task's life as the console's timeline shows it. */
export interface TimelineEvent {
  at: string;
  event: 'created' | 'attempt' | 'progress' | 'final';
  status?: string;
  outcome?: string;
  code?: string;
  channel_id?: string;
  progress?: number;
}

/** A task with its timeline, cost, outputs and callback deliveries; channel ids only for operators. */
export async function taskDetail(em: EntityManager, links: Links, taskId: string, opts: { accountId?: string; operator: boolean }) {
  const task = await em.findOne(Task, { id: taskId, ...(opts.accountId ? { accountId: opts.accountId } : {}) });
  if (!task) throw errors.notFound('task_not_found', `No task ${taskId}`);
  const [assets, deliveries] = await Promise.all([
    em.find(Asset, { taskId }),
    em.find(WebhookDelivery, { taskId }, { orderBy: { createdAt: 'asc' } }),
  ]);
  const presented: TaskObject = presentTask(task, assets, links);
  const timeline: TimelineEvent[] = [{ at: task.createdAt.toISOString(), event: 'created', status: 'pending' }];
  for (const attempt of task.attempts ?? []) {
    timeline.push({
      at: attempt.at, event: 'attempt', outcome: attempt.outcome, ...(attempt.code ? { code: attempt.code } : {}),
      ...(opts.operator ? { channel_id: attempt.channelId } : {}),
    });
  }
  if (!task.completedAt && task.progress !== null && task.progress !== undefined) {
    timeline.push({ at: task.updatedAt.toISOString(), event: 'progress', status: task.status, progress: task.progress });
  }
  if (task.completedAt) timeline.push({ at: task.completedAt.toISOString(), event: 'final', status: task.status });
  timeline.sort((a, b) => a.at.localeCompare(b.at));
  return {
    ...presented,
    kind: task.kind,
    request: { prompt: task.request.prompt ?? null, duration: task.request.duration ?? null },
    timeline,
    deliveries: deliveries.map((d) => ({
      id: d.id, url: d.url, event_type: d.eventType, attempts: d.attempts, last_status: d.lastStatus ?? null,
      last_error: d.lastError ?? null, delivered_at: d.deliveredAt?.toISOString() ?? null, created_at: d.createdAt.toISOString(),
    })),
    ...(opts.operator ? { account_id: task.accountId, api_key_id: task.apiKeyId, channel_id: task.channelId ?? null } : {}),
  };
}
