/**
 * What every fault-suite test shares: the scale (CHAOS_SCALE), a seeded random source, the ledger
 * invariant check, bounded parallelism, and the figures each test prints and writes to
 * `.test-output/chaos-<name>.json` (RELIABILITY.md is written from a full run's files).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** `small` inside `npm test`, `full` in `npm run test:chaos` (the numbers). */
export type ChaosScale = 'small' | 'full';

export function chaosScale(): ChaosScale {
  return process.env.CHAOS_SCALE === 'full' ? 'full' : 'small';
}

/** The value for the current scale. */
export function atScale<T>(values: Record<ChaosScale, T>): T {
  return values[chaosScale()];
}

/** CHAOS_SEED when given (to replay a run), else a fresh one; every test prints the seed it used. */
export function chaosSeed(): number {
  const given = Number(process.env.CHAOS_SEED);
  return Number.isInteger(given) && given > 0 ? given : Math.floor(Math.random() * 2 ** 31) + 1;
}

/** The fakes' seeded PRNG (mulberry32), so a test and its fault mix draw the same way. */
export { seededRandom } from '../../fakes/fake-server';

/** Polls until something truthy comes back, or throws naming `what`: the integration tests' helper. */
export { eventually as until } from '../../support/checks';

/** An integer in [min, max]. */
export function between(random: () => number, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs `fn` over `items` with at most `limit` at a time; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  async function lane(): Promise<void> {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!, index);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, () => lane()));
  return results;
}

const outputDir = path.resolve(__dirname, '../../../.test-output');

/** Prints a test's figures and writes them to `.test-output/chaos-<name>.json`. */
export async function reportFigures(name: string, figures: Record<string, unknown>): Promise<void> {
  const record = { scenario: name, scale: chaosScale(), finishedAt: new Date().toISOString(), ...figures };
  await mkdir(outputDir, { recursive: true });
  await writeFile(path.join(outputDir, `chaos-${name}.json`), `${JSON.stringify(record, null, 2)}\n`);
  console.log(`chaos ${name} (${chaosScale()}):\n${JSON.stringify(figures, null, 2)}`);
}

/** One SQL statement with `?` placeholders against the gateway's database. */
export type Query = <T = Record<string, unknown>>(sql: string, params?: unknown[]) => Promise<T[]>;

const FINAL = new Set(['succeeded', 'failed', 'cancelled']);

/**
 * The money invariants, read straight from the tables, for each account:
 * - balance + (sum of open holds) - debt = sum(top-ups) - sum(captures), and reserved = sum(open holds);
 * - debt = sum(debt ledger rows) and never both debt and balance above 0;
 * - balance, reserved and debt are never negative;
 * - every task has exactly one hold (row and ledger entry) for its credits_reserved, at most one capture
 *   and at most one release, none while it runs;
 * - a final task has a closed hold, charged + refunded = reserved, and the ledger says the same amounts;
 *   a failed or cancelled one was charged nothing and refunded everything; one usage row per final task;
 * - a token request (chat, embeddings: a usage row that is no task) was captured once, exactly its usage
 *   row's credits, and what of it became debt is its one `debt` row and its usage row's `debt`;
 * - no hold, capture or release belongs to anything but a task, a token request or a chat lease block
 *   (`lease_...`: hold and release rows, and negative `debt` rows when its release paid debt) of the
 *   account, and no lease block is left open.
 * Throws one error listing every violation; returns how many individual checks were made.
 */
export async function checkLedgerInvariants(query: Query, accountIds: readonly string[]): Promise<{ checks: number; tasks: number }> {
  const problems: string[] = [];
  let checks = 0;
  let taskCount = 0;
  const check = (ok: boolean, problem: () => string) => {
    checks += 1;
    if (!ok) problems.push(problem());
  };
  for (const accountId of accountIds) {
    const [account] = await query<{ balance: string; reserved: string; debt: string }>('select balance, reserved, debt from accounts where id = ?', [accountId]);
    if (!account) {
      problems.push(`${accountId}: no such account`);
      continue;
    }
    const balance = Number(account.balance);
    const reserved = Number(account.reserved);
    const debt = Number(account.debt);
    const [holdSums] = await query<{ open: string }>(`select coalesce(sum(amount), 0) as open from holds where account_id = ? and status = 'open'`, [accountId]);
    const openHolds = Number(holdSums?.open ?? 0);
    const ledger = await query<{ ref: string; kind: string; n: string; amount: string }>(
      'select ref, kind, count(*) as n, sum(amount) as amount from ledger_entries where account_id = ? group by ref, kind',
      [accountId],
    );
    const sumOf = (kind: string) => ledger.filter((row) => row.kind === kind).reduce((total, row) => total + Number(row.amount), 0);
    const topups = sumOf('topup');
    const captures = sumOf('capture');
    check(balance + openHolds - debt === topups - captures, () => `${accountId}: balance ${balance} + open holds ${openHolds} - debt ${debt} != top-ups ${topups} - captures ${captures}`);
    check(reserved === openHolds, () => `${accountId}: reserved ${reserved} != open holds ${openHolds}`);
    check(debt === sumOf('debt'), () => `${accountId}: debt ${debt} != debt ledger rows ${sumOf('debt')}`);
    check(debt === 0 || balance === 0, () => `${accountId}: owes ${debt} with ${balance} spendable`);
    check(balance >= 0 && reserved >= 0 && debt >= 0, () => `${accountId}: balance ${balance} / reserved ${reserved} / debt ${debt} below zero`);

    const tasks = await query<{ id: string; status: string; credits_reserved: string; credits_charged: string; credits_refunded: string }>(
      'select id, status, credits_reserved, credits_charged, credits_refunded from tasks where account_id = ?',
      [accountId],
    );
    taskCount += tasks.length;
    const holds = await query<{ id: string; amount: string; status: string; captured: string }>('select id, amount, status, captured from holds where account_id = ?', [accountId]);
    const usage = await query<{ ref: string; n: string; credits: string; debt: string }>(
      'select ref, count(*) as n, sum(credits) as credits, sum(debt) as debt from usage_records where account_id = ? group by ref',
      [accountId],
    );
    const holdById = new Map(holds.map((hold) => [hold.id, hold]));
    const usageByRef = new Map(usage.map((row) => [row.ref, Number(row.n)]));
    const entries = new Map<string, { n: number; amount: number }>();
    for (const row of ledger) entries.set(`${row.ref}/${row.kind}`, { n: Number(row.n), amount: Number(row.amount) });
    const taskIds = new Set(tasks.map((task) => task.id));

    for (const task of tasks) {
      const amountReserved = Number(task.credits_reserved);
      const charged = Number(task.credits_charged);
      const refunded = Number(task.credits_refunded);
      const hold = holdById.get(task.id);
      const holdEntry = entries.get(`${task.id}/hold`);
      const capture = entries.get(`${task.id}/capture`);
      const release = entries.get(`${task.id}/release`);
      check(hold !== undefined && Number(hold.amount) === amountReserved, () => `${task.id}: hold row ${JSON.stringify(hold)} does not hold ${amountReserved}`);
      check(holdEntry?.n === 1 && holdEntry.amount === amountReserved, () => `${task.id}: hold entries ${JSON.stringify(holdEntry)} for ${amountReserved}`);
      check((capture?.n ?? 0) <= 1, () => `${task.id}: charged ${capture?.n} times`);
      check((release?.n ?? 0) <= 1, () => `${task.id}: refunded ${release?.n} times`);
      if (FINAL.has(task.status)) {
        check(hold?.status !== 'open', () => `${task.id}: ${task.status} but its hold is still open`);
        check(charged + refunded === amountReserved, () => `${task.id}: charged ${charged} + refunded ${refunded} != reserved ${amountReserved}`);
        check((capture?.amount ?? 0) === charged, () => `${task.id}: ledger captured ${capture?.amount ?? 0}, task says charged ${charged}`);
        check((release?.amount ?? 0) === refunded, () => `${task.id}: ledger released ${release?.amount ?? 0}, task says refunded ${refunded}`);
        check(Number(hold?.captured ?? -1) === charged, () => `${task.id}: hold captured ${hold?.captured}, task says charged ${charged}`);
        check(usageByRef.get(task.id) === 1, () => `${task.id}: ${usageByRef.get(task.id) ?? 0} usage rows`);
        if (task.status !== 'succeeded') {
          check(charged === 0 && refunded === amountReserved, () => `${task.id}: ${task.status} yet charged ${charged}, refunded ${refunded} of ${amountReserved}`);
        }
      } else {
        check(hold?.status === 'open', () => `${task.id}: ${task.status} but its hold is ${hold?.status}`);
        check(!capture && !release, () => `${task.id}: ${task.status} but already captured or released`);
      }
    }
    // Token requests: a usage row that is no task.
    const requests = usage.filter((row) => !taskIds.has(row.ref));
    for (const request of requests) {
      const capture = entries.get(`${request.ref}/capture`);
      const debtEntry = entries.get(`${request.ref}/debt`);
      check(Number(request.n) === 1, () => `${request.ref}: ${request.n} usage rows`);
      check((capture?.n ?? 0) <= 1 && (capture?.amount ?? 0) === Number(request.credits), () => `${request.ref}: captured ${JSON.stringify(capture)}, usage says ${request.credits}`);
      check((debtEntry?.amount ?? 0) === Number(request.debt) && (debtEntry?.n ?? 0) <= 1, () => `${request.ref}: debt rows ${JSON.stringify(debtEntry)}, usage says ${request.debt}`);
    }
    const requestRefs = new Set(requests.map((row) => row.ref));
    const blockIds = new Set(holds.filter((hold) => hold.id.startsWith('lease_')).map((hold) => hold.id));
    const topupRefs = new Set(ledger.filter((row) => row.kind === 'topup').map((row) => row.ref));
    for (const row of ledger) {
      if (row.kind === 'topup') continue;
      const amount = Number(row.amount);
      // Debt paid back when credits came back: under the top-up's or the released hold's ref.
      if (row.kind === 'debt' && amount < 0 && (topupRefs.has(row.ref) || taskIds.has(row.ref) || blockIds.has(row.ref))) continue;
      if (requestRefs.has(row.ref) && (row.kind === 'capture' || (row.kind === 'debt' && amount > 0))) continue;
      if (blockIds.has(row.ref) && (row.kind === 'hold' || row.kind === 'release')) continue;
      check(taskIds.has(row.ref), () => `${accountId}: ledger ${row.kind} ${row.amount} for ${row.ref}, which is not a task, token request or lease block of the account`);
    }
    for (const hold of holds) {
      if (blockIds.has(hold.id)) check(hold.status !== 'open', () => `${accountId}: lease block ${hold.id} still open`);
      else check(taskIds.has(hold.id), () => `${accountId}: hold ${hold.id} without a task`);
    }
  }
  if (problems.length > 0) {
    throw new Error(`Ledger invariants violated (${problems.length} of ${checks} checks):\n  ${problems.slice(0, 40).join('\n  ')}`);
  }
  return { checks, tasks: taskCount };
}
