import type { TestGateway } from './harness';

/** Every table a request could write to. */
const TABLES = [
  'accounts', 'api_keys', 'models', 'channels', 'tasks', 'holds', 'ledger_entries', 'assets', 'usage_records',
  'webhook_deliveries', 'channel_health', 'key_monthly_spend',
];

/** Per table: row count and an md5 over every row's text, so any insert, update or delete shows. */
export type StateDigest = Record<string, { rows: number; md5: string }>;

/** A digest of the whole database: two digests differ exactly when some row changed. */
export async function stateDigest(gw: TestGateway): Promise<StateDigest> {
  const query = TABLES.map(
    (table) => `select '${table}' as name, count(*)::int as rows, md5(coalesce(string_agg(t::text, '|' order by t::text), '')) as md5 from ${table} t`,
  ).join(' union all ');
  const rows = await gw.gateway.orm.em.fork().getConnection().execute<{ name: string; rows: number; md5: string }[]>(query);
  return Object.fromEntries(rows.map((row) => [row.name, { rows: row.rows, md5: row.md5 }]));
}

/** The tables whose content differs, e.g. `tasks (3 -> 4 rows)`; empty when nothing changed. */
export function digestDiff(before: StateDigest, after: StateDigest): string[] {
  return Object.keys(before)
    .filter((table) => before[table]!.md5 !== after[table]?.md5)
    .map((table) => `${table} (${before[table]!.rows} -> ${after[table]?.rows} rows)`);
}

/** The account's wallet, straight from the table. */
export async function walletOf(gw: TestGateway, accountId: string): Promise<{ balance: number; reserved: number }> {
  const rows = await gw.gateway.orm.em.fork().getConnection().execute<{ balance: string; reserved: string }[]>(
    'select balance, reserved from accounts where id = ?', [accountId],
  );
  return { balance: Number(rows[0]?.balance), reserved: Number(rows[0]?.reserved) };
}

/**
 * Waits until the account has no open hold, the credit lease's blocks included (a stream whose client
 * left settles later): quiescing writes the settled requests and gives back unused blocks.
 */
export async function waitForNoOpenHold(gw: TestGateway, accountId: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    await gw.gateway.leases.quiesce({ accountId });
    const rows = await gw.gateway.orm.em.fork().getConnection().execute<{ n: string }[]>(
      `select count(*) as n from holds where account_id = ? and status = 'open'`, [accountId],
    );
    if (Number(rows[0]!.n) === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`account ${accountId} still has an open hold`);
}
