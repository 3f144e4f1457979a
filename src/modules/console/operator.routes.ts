import Router from '@koa/router';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { CreditLeases } from '../../billing/credit-lease';
import { errors } from '../../http/errors';
import { parseBody, parseQuery } from '../../http/validate';
import type { ProviderRegistry } from '../../providers/registry';
import { createCircuitBreaker } from '../../routing/circuit-breaker';
import type { SecretBox } from '../../security/secrets';
import { parseTaskId } from '../tasks/tasks.routes';
import { testChannel } from './channel-test';
import { bound, listTasks, taskDetail } from './console.queries';
import { ChannelTestBody, ConsoleTasksQuery, WindowQuery } from './console.schemas';

export interface OperatorConsoleDeps {
  em: (ctx: { state: unknown }) => EntityManager;
  leases: CreditLeases;
  publicUrl: string;
  box: SecretBox;
  providers: ProviderRegistry;
}

/** How many of a channel's latest requests and tasks its health figures cover. */
export const HEALTH_WINDOW = 50;

const num = (value: unknown) => (value === null || value === undefined ? null : Number(value));

/** The operator console's reads that the rest of /admin has no route for, and the channel test. Behind the admin auth. */
export function operatorConsoleRoutes(deps: OperatorConsoleDeps): Router {
  const router = new Router({ prefix: '/admin/console' });

  router.get('/accounts', async (ctx) => {
    await deps.leases.flush();
    const rows = await deps.em(ctx).getConnection().execute<Record<string, unknown>[]>(
      `select a.*, (select count(*) from api_keys k where k.account_id = a.id and k.revoked_at is null) as active_keys
       from accounts a order by a.created_at asc limit 1000`,
    );
    ctx.body = {
      object: 'list',
      data: rows.map((a) => ({
        id: a.id, name: a.name, balance: Number(a.balance), reserved: Number(a.reserved), debt: Number(a.debt),
        active_keys: Number(a.active_keys), created_at: new Date(a.created_at as string).toISOString(),
      })),
    };
  });

  router.get('/accounts/:id/ledger', async (ctx) => {
    const query = parseQuery(ctx, WindowQuery);
    await deps.leases.quiesce({ accountId: ctx.params.id! });
    const rows = await deps.em(ctx).getConnection().execute<Record<string, unknown>[]>(
      `select id, kind, amount, ref, reason, created_at from ledger_entries where account_id = ? order by id desc limit ?`,
      [ctx.params.id, query.limit],
    );
    ctx.body = {
      object: 'list',
      data: rows.map((e) => ({
        id: String(e.id), kind: e.kind, amount: Number(e.amount), ref: e.ref, reason: e.reason ?? null,
        created_at: new Date(e.created_at as string).toISOString(),
      })),
    };
  });

  router.get('/tasks', async (ctx) => {
    ctx.body = await listTasks(deps.em(ctx), deps, parseQuery(ctx, ConsoleTasksQuery));
  });

  router.get('/tasks/:taskId', async (ctx) => {
    ctx.body = await taskDetail(deps.em(ctx), deps, parseTaskId(ctx.params.taskId), { operator: true });
  });

  router.get('/channels/health', async (ctx) => {
    const em = deps.em(ctx);
    const breaker = createCircuitBreaker(() => em.getKnex());
    const rows = await em.getConnection().execute<Record<string, unknown>[]>(
      `select c.id, recent.requests, recent.failures, recent.avg_latency_ms, recent.p95_latency_ms, recent.last_at
       from channels c left join lateral (
         select count(*) as requests, count(*) filter (where u.status = 'failed') as failures,
                round(avg(u.latency_ms)) as avg_latency_ms,
                percentile_disc(0.95) within group (order by u.latency_ms) as p95_latency_ms, max(u.created_at) as last_at
         from (select status, latency_ms, created_at from usage_records where channel_id = c.id order by created_at desc limit ?) u
       ) recent on true
       order by c.created_at asc`,
      [HEALTH_WINDOW],
    );
    ctx.body = {
      object: 'list',
      window: HEALTH_WINDOW,
      data: await Promise.all(rows.map(async (r) => {
        const requests = Number(r.requests ?? 0);
        return {
          channel_id: r.id, circuit: await breaker.view(r.id as string), requests, failures: Number(r.failures ?? 0),
          failure_rate: requests ? Number(r.failures) / requests : null, avg_latency_ms: num(r.avg_latency_ms),
          p95_latency_ms: num(r.p95_latency_ms), last_at: r.last_at ? new Date(r.last_at as string).toISOString() : null,
        };
      })),
    };
  });

  router.post('/channels/:id/test', async (ctx) => {
    const body = parseBody(ctx, ChannelTestBody);
    ctx.body = await testChannel({ em: deps.em(ctx), box: deps.box, providers: deps.providers }, ctx.params.id!, body.model);
  });

  router.get('/money', async (ctx) => {
    const query = parseQuery(ctx, WindowQuery);
    const now = new Date();
    const from = bound(query.from, false) ?? new Date(now.getTime() - 30 * 86_400_000);
    const to = bound(query.to, true) ?? new Date(now.getTime() + 1000);
    if (from >= to) throw errors.invalid('Invalid query: from must be before to', [{ path: 'from', message: 'must be before to' }]);
    await deps.leases.flush();
    const rows = await deps.em(ctx).getConnection().execute<Record<string, unknown>[]>(
      `select to_char(created_at at time zone 'UTC', 'YYYY-MM-DD') as day, model, channel_id, count(*) as requests,
              sum(credits) as revenue, sum(credits) filter (where upstream_cost is not null) as costed_revenue,
              sum(upstream_cost) as upstream_cost, count(upstream_cost) as costed
       from usage_records where created_at >= ? and created_at < ?
       group by 1, 2, 3 order by 1, 2, 3`,
      [from, to],
    );
    // A margin is only known where the cost is: over the rows whose channel had upstream pricing.
    const data = rows.map((r) => {
      const cost = num(r.upstream_cost);
      const costedRevenue = Number(r.costed_revenue ?? 0);
      return {
        day: r.day, model: r.model, channel_id: r.channel_id ?? null, requests: Number(r.requests), revenue: Number(r.revenue),
        costed_revenue: costedRevenue, upstream_cost: cost, margin: cost === null ? null : costedRevenue - cost,
        uncosted_requests: Number(r.requests) - Number(r.costed),
      };
    });
    const total = (pick: (row: (typeof data)[number]) => number | null) => data.reduce((sum, row) => sum + (pick(row) ?? 0), 0);
    ctx.body = {
      object: 'console.money', from: from.toISOString(), to: to.toISOString(),
      total: {
        requests: total((r) => r.requests), revenue: total((r) => r.revenue), costed_revenue: total((r) => r.costed_revenue),
        upstream_cost: total((r) => r.upstream_cost), margin: total((r) => r.margin), uncosted_requests: total((r) => r.uncosted_requests),
      },
      data,
    };
  });

  return router;
}
