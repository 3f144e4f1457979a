import Router from '@koa/router';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { CreditLeases } from '../../billing/credit-lease';
import { authOf } from '../../http/auth';
import { parseQuery } from '../../http/validate';
import type { SecretBox } from '../../security/secrets';
import { listTasks, taskDetail } from './console.queries';
import { ConsoleTasksQuery } from './console.schemas';
import { parseTaskId } from '../tasks/tasks.routes';

export interface ConsumerConsoleDeps {
  em: (ctx: { state: unknown }) => EntityManager;
  leases: CreditLeases;
  publicUrl: string;
  box: SecretBox;
}

const left = (limit: number | null, used: number) => (limit === null ? null : Math.max(0, limit - used));

/**
 * The consumer console's reads that the rest of /v1 has no route for: the wallet and key budgets, tasks by
 * date, a task's timeline. Under /v1, so the consumer auth and rate limit apply as to any /v1 route.
 */
export function consumerConsoleRoutes(deps: ConsumerConsoleDeps): Router {
  const router = new Router({ prefix: '/v1/console' });

  router.get('/credits', async (ctx) => {
    const auth = authOf(ctx);
    await deps.leases.quiesce({ apiKeyId: auth.apiKeyId });
    const db = deps.em(ctx).getConnection();
    const month = new Date().toISOString().slice(0, 7);
    const [account] = await db.execute<Record<string, unknown>[]>(`select * from accounts where id = ?`, [auth.accountId]);
    const [key] = await db.execute<Record<string, unknown>[]>(
      `select k.id, k.name, k.prefix, k.budget_total, k.budget_monthly, k.budget_spent, k.budget_reserved, k.rpm, k.models, k.expires_at,
              coalesce(m.spent, 0) as month_spent, coalesce(m.reserved, 0) as month_reserved
       from api_keys k left join key_monthly_spend m on m.api_key_id = k.id and m.month = ? where k.id = ?`,
      [month, auth.apiKeyId],
    );
    const num = (value: unknown) => (value === null || value === undefined ? null : Number(value));
    const budget = num(key!.budget_total);
    const monthly = num(key!.budget_monthly);
    const spent = Number(key!.budget_spent) + Number(key!.budget_reserved);
    const monthSpent = Number(key!.month_spent) + Number(key!.month_reserved);
    ctx.body = {
      object: 'console.credits',
      account: {
        id: account!.id, name: account!.name, balance: Number(account!.balance), reserved: Number(account!.reserved),
        debt: Number(account!.debt),
      },
      key: {
        id: key!.id, name: key!.name, prefix: key!.prefix, rpm: num(key!.rpm), models: key!.models ?? null,
        expires_at: key!.expires_at ? new Date(key!.expires_at as string).toISOString() : null,
        budget, budget_spent: Number(key!.budget_spent), budget_reserved: Number(key!.budget_reserved), budget_left: left(budget, spent),
        budget_monthly: monthly, month, month_spent: Number(key!.month_spent), month_reserved: Number(key!.month_reserved),
        budget_monthly_left: left(monthly, monthSpent),
      },
    };
  });

  router.get('/tasks', async (ctx) => {
    const query = parseQuery(ctx, ConsoleTasksQuery);
    ctx.body = await listTasks(deps.em(ctx), deps, { ...query, account_id: undefined }, authOf(ctx).accountId);
  });

  router.get('/tasks/:taskId', async (ctx) => {
    const taskId = parseTaskId(ctx.params.taskId);
    ctx.body = await taskDetail(deps.em(ctx), deps, taskId, { accountId: authOf(ctx).accountId, operator: false });
  });

  return router;
}
