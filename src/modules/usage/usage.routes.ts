import Router from '@koa/router';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { CreditLeases } from '../../billing/credit-lease';
import { authOf } from '../../http/auth';
import { parseQuery } from '../../http/validate';
import { UsageQuery } from './usage.schemas';


interface UsageBucket {
  date: string;
  model: string;
  requests: number;
  credits: number;
  units: Record<string, number>;
}

/**
 * GET /v1/usage: the caller's key's usage, totals by model and UTC day, within [from, to)
 * (default: the current calendar month).
 */
export function usageRoutes(deps: { em: (ctx: { state: unknown }) => EntityManager; leases: CreditLeases }): Router {
  const router = new Router();
  router.get('/v1/usage', async (ctx) => {
    const auth = authOf(ctx);
    const query = parseQuery(ctx, UsageQuery);
    const now = new Date();
    const from = query.from ? new Date(query.from) : new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
    const to = query.to ? new Date(query.to) : new Date(now.getTime() + 1000);
    // This process's settled chat requests land first, so a client sees the requests it just made.
    await deps.leases.flush();
    const rows = await deps.em(ctx).getConnection().execute<{ day: string; model: string; credits: string; units: Record<string, unknown> }[]>(
      `select to_char(created_at at time zone 'UTC', 'YYYY-MM-DD') as day, model, credits, units
       from usage_records where api_key_id = ? and created_at >= ? and created_at < ? order by created_at`,
      [auth.apiKeyId, from, to],
    );
    const buckets = new Map<string, UsageBucket>();
    let totalCredits = 0;
    for (const row of rows) {
      const id = `${row.day} ${row.model}`;
      const bucket = buckets.get(id) ?? { date: row.day, model: row.model, requests: 0, credits: 0, units: {} };
      bucket.requests += 1;
      bucket.credits += Number(row.credits);
      totalCredits += Number(row.credits);
      for (const [unit, value] of Object.entries(row.units ?? {})) {
        if (typeof value === 'number') bucket.units[unit] = (bucket.units[unit] ?? 0) + value;
      }
      buckets.set(id, bucket);
    }
    const account = await deps.em(ctx).getConnection().execute<{ debt: string }[]>(`select debt from accounts where id = ?`, [auth.accountId]);
    ctx.body = {
      object: 'usage',
      key_id: auth.apiKeyId,
      from: from.toISOString(),
      to: to.toISOString(),
      total: { requests: rows.length, credits: totalCredits },
      // Why new requests answer 402 until a top-up: what the account owes now, whatever the period.
      debt: Number(account[0]?.debt ?? 0),
      data: [...buckets.values()],
    };
  });
  return router;
}
