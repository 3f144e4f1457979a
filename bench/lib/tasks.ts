import type { Client } from '@temporalio/client';
import type { Orm } from '../../src/db/orm';

const FINAL = `('succeeded', 'failed', 'cancelled')`;

/**
 * Waits until no task is still running (or `timeoutMs` passes) and returns how many still run. With a
 * Temporal client it also waits for the workflows: a POST that timed out at the client may still have a
 * workflow queued that has not reserved (made its row) yet, and it would load the next scenario.
 */
export async function waitForDrain(orm: Orm, timeoutMs: number, temporal?: Client): Promise<number> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const rows = await orm.em.getKnex().raw(`select count(*)::int as n from tasks where status not in ${FINAL}`);
    let open = rows.rows[0].n as number;
    if (temporal && open === 0) open = (await temporal.workflow.count('WorkflowType = "mediaTaskWorkflow" AND ExecutionStatus = "Running"')).count;
    if (open === 0 || Date.now() > until) return open;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** Counts of tasks by status. */
export async function taskCounts(orm: Orm): Promise<Record<string, number>> {
  const rows = await orm.em.getKnex().raw(`select status, count(*)::int as n from tasks group by status`);
  return Object.fromEntries((rows.rows as { status: string; n: number }[]).map((r) => [r.status, r.n]));
}

/** Ids of up to `limit` succeeded tasks. */
export async function succeededTaskIds(orm: Orm, limit: number): Promise<string[]> {
  const rows = await orm.em.getKnex().raw(`select id from tasks where status = 'succeeded' order by created_at desc limit ?`, [limit]);
  return (rows.rows as { id: string }[]).map((r) => r.id);
}

/** Per account: balance + reserved - debt = top-ups - captures, and reserved = open holds (the ledger's invariant). */
export async function ledgerInvariant(orm: Orm): Promise<{ accounts: number; violations: string[] }> {
  const result = await orm.em.getKnex().raw(
    `select a.id, a.balance, a.reserved, a.debt,
       (select coalesce(sum(amount), 0) from holds where account_id = a.id and status = 'open') as open_holds,
       (select coalesce(sum(amount), 0) from ledger_entries where account_id = a.id and kind = 'topup') as topups,
       (select coalesce(sum(amount), 0) from ledger_entries where account_id = a.id and kind = 'capture') as captures
     from accounts a`,
  );
  const violations: string[] = [];
  for (const row of result.rows) {
    const [balance, reserved, debt, open, topups, captures] = [row.balance, row.reserved, row.debt, row.open_holds, row.topups, row.captures].map(Number) as [number, number, number, number, number, number];
    if (balance + reserved - debt !== topups - captures || reserved !== open) {
      violations.push(`${row.id}: balance ${balance} + reserved ${reserved} - debt ${debt} vs top-ups ${topups} - captures ${captures}; open holds ${open}`);
    }
  }
  return { accounts: result.rows.length, violations };
}
