import type { Knex } from '@mikro-orm/postgresql';

/**
 * The credit ledger. Every movement is one transaction that appends a ledger row with a unique
 * (ref, kind), so a retried step is a no-op, and changes the account with a conditional update, so
 * concurrent holds can never push a balance below zero.
 *
 * Invariant, per account and at every moment: balance + reserved - debt = top-ups - captures,
 * where `reserved` equals the sum of open holds.
 *
 * Debt: token routes settle at the provider's real usage even above their hold (chargeBeyondHold). What
 * the balance can't cover becomes `debt`, with a `debt` ledger row (ref = the request); every credit that
 * comes back to the wallet afterwards (a top-up, a released hold) pays it first, with a negative `debt`
 * row, so `debt` and `balance` are never both above zero and `debt` = the sum of the `debt` rows. While
 * an account owes anything, every new hold is refused as insufficient.
 */

export type HoldOutcome =
  | { status: 'held'; amount: number }
  | { status: 'insufficient'; balance: number }
  | { status: 'budget_exceeded'; period: 'total' | 'monthly' };

export type CloseOutcome = { status: 'closed'; captured: number; released: number } | { status: 'already_closed' };

/** Adds (or with a negative amount, removes) credits; what is added pays the account's debt first. Idempotent per `ref`. */
export async function topUp(
  knex: Knex,
  input: { accountId: string; amount: number; ref: string; reason?: string },
): Promise<{ balance: number; debt: number; applied: boolean }> {
  return knex.transaction(async (trx) => {
    const inserted = await trx.raw(
      `insert into ledger_entries (account_id, kind, amount, ref, reason) values (?, 'topup', ?, ?, ?)
       on conflict (ref, kind) do nothing returning id`,
      [input.accountId, input.amount, input.ref, input.reason ?? null],
    );
    if (inserted.rows.length === 0) {
      const row = await trx.raw(`select balance, debt from accounts where id = ?`, [input.accountId]);
      return { balance: Number(row.rows[0]?.balance ?? 0), debt: Number(row.rows[0]?.debt ?? 0), applied: false };
    }
    const updated = await trx.raw(
      `update accounts set balance = balance + ? where id = ? and balance + ? >= 0 returning balance, debt`,
      [input.amount, input.accountId, input.amount],
    );
    if (updated.rows.length === 0) throw new InsufficientCreditsError();
    if (input.amount <= 0) return { balance: Number(updated.rows[0].balance), debt: Number(updated.rows[0].debt), applied: true };
    return { ...(await payDebt(trx, input.accountId, input.ref)), applied: true };
  });
}

/**
 * Moves what the balance can of the account's debt out of it (a negative `debt` row under `ref`), inside
 * the caller's transaction, after credits came back to the balance. Returns what is left of both.
 */
async function payDebt(trx: Knex.Transaction, accountId: string, ref: string): Promise<{ balance: number; debt: number }> {
  const paid = await trx.raw(
    `update accounts a set balance = a.balance - least(a.balance, a.debt), debt = a.debt - least(a.balance, a.debt)
     from (select id, least(balance, debt) as pay from accounts where id = ? for update) p
     where a.id = p.id returning a.balance, a.debt, p.pay`,
    [accountId],
  );
  const pay = Number(paid.rows[0]?.pay ?? 0);
  if (pay > 0) {
    await trx.raw(`insert into ledger_entries (account_id, kind, amount, ref, reason) values (?, 'debt', ?, ?, 'debt paid')`, [accountId, -pay, ref]);
  }
  return { balance: Number(paid.rows[0]?.balance ?? 0), debt: Number(paid.rows[0]?.debt ?? 0) };
}

/**
 * Charges `amount` more than request `ref`'s hold held (its real usage cost more than the estimate),
 * inside the caller's transaction: from the balance as far as it goes, the rest as the account's debt
 * (a `debt` ledger row under `ref`). The caller writes the capture row for the full price. Counts against
 * the key's total and current monthly spend, which may then pass their budgets: the work was done.
 * Returns the part that became debt.
 */
export async function chargeBeyondHold(trx: Knex.Transaction, input: { ref: string; accountId: string; apiKeyId: string | null; amount: number }): Promise<number> {
  if (!Number.isInteger(input.amount) || input.amount <= 0) throw new Error(`amount must be a positive integer, got ${input.amount}`);
  const charged = await trx.raw(
    `update accounts a set balance = a.balance - least(a.balance, ?), debt = a.debt + ? - least(a.balance, ?)
     from (select id, ? - least(balance, ?) as owed from accounts where id = ? for update) o
     where a.id = o.id returning o.owed`,
    [input.amount, input.amount, input.amount, input.amount, input.amount, input.accountId],
  );
  const owed = Number(charged.rows[0]?.owed ?? 0);
  if (owed > 0) {
    await trx.raw(`insert into ledger_entries (account_id, kind, amount, ref, reason) values (?, 'debt', ?, ?, 'usage beyond the hold')`, [input.accountId, owed, input.ref]);
  }
  if (input.apiKeyId) {
    await trx.raw(`update api_keys set budget_spent = budget_spent + ? where id = ?`, [input.amount, input.apiKeyId]);
    // The month's row may not exist yet (the hold was taken last month, the usage came in this one).
    await trx.raw(
      `insert into key_monthly_spend (api_key_id, month, spent) values (?, ?, ?)
       on conflict (api_key_id, month) do update set spent = key_monthly_spend.spent + excluded.spent`,
      [input.apiKeyId, budgetMonth(new Date()), input.amount],
    );
  }
  return owed;
}

/** Thrown inside a transaction to roll it back when the wallet cannot cover an amount. */
export class InsufficientCreditsError extends Error {
  constructor() {
    super('Insufficient credits');
    this.name = 'InsufficientCreditsError';
  }
}

/** Thrown inside a transaction to roll it back when the key's own budget cannot cover an amount. */
export class BudgetExceededError extends Error {
  constructor(readonly period: 'total' | 'monthly') {
    super(period === 'total' ? "The key's budget is exhausted" : "The key's monthly budget is exhausted");
    this.name = 'BudgetExceededError';
  }
}

/** The calendar month (UTC) a spend counts against, e.g. `2026-11`. */
export function budgetMonth(at: Date): string {
  return at.toISOString().slice(0, 7);
}

/**
 * Holds `amount` credits under `ref` inside the caller's transaction: from the account's balance and,
 * when a key is given, against the key's total and monthly budgets, each with a conditional update so
 * concurrency can't overspend either. A second call with the same ref finds the existing hold and changes
 * nothing. Throws InsufficientCreditsError or BudgetExceededError (the caller's transaction rolls back).
 */
export async function holdInTransaction(
  trx: Knex.Transaction,
  input: { ref: string; accountId: string; apiKeyId: string | null; amount: number },
): Promise<{ created: boolean }> {
  const month = budgetMonth(new Date());
  const inserted = await trx.raw(
    `insert into holds (id, account_id, api_key_id, amount, status) values (?, ?, ?, ?, 'open')
     on conflict (id) do nothing returning id`,
    [input.ref, input.accountId, input.apiKeyId, input.amount],
  );
  if (inserted.rows.length === 0) return { created: false };
  // The ledger row first: the account's row lock, which every hold of the account waits for, is then
  // held from the update below to the commit only.
  await trx.raw(
    `insert into ledger_entries (account_id, kind, amount, ref) values (?, 'hold', ?, ?)`,
    [input.accountId, input.amount, input.ref],
  );
  // `debt = 0`: an account that owes anything gets no new hold until a top-up pays the debt.
  const updated = await trx.raw(
    `update accounts set balance = balance - ?, reserved = reserved + ?
     where id = ? and balance >= ? and debt = 0 returning balance`,
    [input.amount, input.amount, input.accountId, input.amount],
  );
  if (updated.rows.length === 0) throw new InsufficientCreditsError();
  if (input.apiKeyId) await holdKeyBudget(trx, input.ref, input.apiKeyId, input.amount, month);
  return { created: true };
}

async function holdKeyBudget(trx: Knex.Transaction, ref: string, apiKeyId: string, amount: number, month: string): Promise<void> {
  const key = await trx.raw(
    `update api_keys set budget_reserved = budget_reserved + ?
     where id = ? and (budget_total is null or budget_spent + budget_reserved + ? <= budget_total)
     returning budget_monthly`,
    [amount, apiKeyId, amount],
  );
  if (key.rows.length === 0) {
    const exists = await trx.raw(`select 1 from api_keys where id = ?`, [apiKeyId]);
    if (exists.rows.length > 0) throw new BudgetExceededError('total');
    return;
  }
  const monthly = key.rows[0].budget_monthly;
  if (monthly === null || monthly === undefined) return;
  const limit = Number(monthly);
  if (amount > limit) throw new BudgetExceededError('monthly');
  const spend = await trx.raw(
    `insert into key_monthly_spend (api_key_id, month, reserved) values (?, ?, ?)
     on conflict (api_key_id, month) do update set reserved = key_monthly_spend.reserved + excluded.reserved
       where key_monthly_spend.spent + key_monthly_spend.reserved + excluded.reserved <= ?
     returning reserved`,
    [apiKeyId, month, amount, limit],
  );
  if (spend.rows.length === 0) throw new BudgetExceededError('monthly');
  await trx.raw(`update holds set budget_month = ? where id = ?`, [month, ref]);
}

/** Holds credits in a transaction of its own. */
export async function hold(
  knex: Knex,
  input: { ref: string; accountId: string; apiKeyId: string | null; amount: number },
): Promise<HoldOutcome> {
  try {
    await knex.transaction((trx) => holdInTransaction(trx, input));
    return { status: 'held', amount: input.amount };
  } catch (error) {
    if (error instanceof BudgetExceededError) return { status: 'budget_exceeded', period: error.period };
    if (!(error instanceof InsufficientCreditsError)) throw error;
    const row = await knex.raw(`select balance from accounts where id = ?`, [input.accountId]);
    return { status: 'insufficient', balance: Number(row.rows[0]?.balance ?? 0) };
  }
}

/**
 * Closes an open hold: charges `capture` (capped at the hold) and gives the rest back, which pays the
 * account's debt first. `capture = 0` is a full release. Closing an already closed hold changes nothing.
 */
export async function closeHold(knex: Knex, input: { ref: string; capture: number }): Promise<CloseOutcome> {
  return knex.transaction((trx) => closeHoldInTransaction(trx, input));
}

/** closeHold inside the caller's transaction, so the task row and the money change together. */
export async function closeHoldInTransaction(trx: Knex.Transaction, input: { ref: string; capture: number }): Promise<CloseOutcome> {
  if (!Number.isInteger(input.capture) || input.capture < 0) {
    throw new Error(`capture must be a non-negative integer, got ${input.capture}`);
  }
  const open = await trx.raw(
    `select account_id, amount, api_key_id, budget_month from holds where id = ? and status = 'open' for update`,
    [input.ref],
  );
  if (open.rows.length === 0) return { status: 'already_closed' };
  const accountId: string = open.rows[0].account_id;
  const apiKeyId: string | null = open.rows[0].api_key_id;
  const month: string | null = open.rows[0].budget_month;
  const amount = Number(open.rows[0].amount);
  const captured = Math.min(input.capture, amount);
  const released = amount - captured;
  // `captured + ?`: a lease block (credit-lease.ts) has captured along the way; any other hold starts at 0.
  await trx.raw(`update holds set status = case when captured + ? > 0 then 'captured' else 'released' end, captured = captured + ?, closed_at = now() where id = ?`, [
    captured,
    captured,
    input.ref,
  ]);
  const after = await trx.raw(`update accounts set reserved = reserved - ?, balance = balance + ? where id = ? returning debt`, [amount, released, accountId]);
  if (released > 0 && Number(after.rows[0]?.debt ?? 0) > 0) await payDebt(trx, accountId, input.ref);
  if (apiKeyId) {
    await trx.raw(`update api_keys set budget_reserved = budget_reserved - ?, budget_spent = budget_spent + ? where id = ?`, [
      amount,
      captured,
      apiKeyId,
    ]);
  }
  if (apiKeyId && month) {
    await trx.raw(
      `update key_monthly_spend set reserved = reserved - ?, spent = spent + ? where api_key_id = ? and month = ?`,
      [amount, captured, apiKeyId, month],
    );
  }
  if (captured > 0) {
    await trx.raw(`insert into ledger_entries (account_id, kind, amount, ref) values (?, 'capture', ?, ?)`, [accountId, captured, input.ref]);
  }
  if (released > 0) {
    await trx.raw(`insert into ledger_entries (account_id, kind, amount, ref) values (?, 'release', ?, ?)`, [accountId, released, input.ref]);
  }
  return { status: 'closed', captured, released };
}

/** Reads the ledger's view of one account, for the invariant check in tests and admin. */
export async function ledgerTotals(
  knex: Knex,
  accountId: string,
): Promise<{ balance: number; reserved: number; debt: number; openHolds: number; topups: number; captures: number; debtEntries: number }> {
  const result = await knex.raw(
    `select a.balance, a.reserved, a.debt,
       (select coalesce(sum(amount), 0) from holds where account_id = a.id and status = 'open') as open_holds,
       (select coalesce(sum(amount), 0) from ledger_entries where account_id = a.id and kind = 'topup') as topups,
       (select coalesce(sum(amount), 0) from ledger_entries where account_id = a.id and kind = 'capture') as captures,
       (select coalesce(sum(amount), 0) from ledger_entries where account_id = a.id and kind = 'debt') as debt_entries
     from accounts a where a.id = ?`,
    [accountId],
  );
  const row = result.rows[0];
  return {
    balance: Number(row.balance),
    reserved: Number(row.reserved),
    debt: Number(row.debt),
    openHolds: Number(row.open_holds),
    topups: Number(row.topups),
    captures: Number(row.captures),
    debtEntries: Number(row.debt_entries),
  };
}
