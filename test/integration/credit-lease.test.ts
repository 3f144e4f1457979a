import { createCreditLeases, type CreditLeases, type Reservation, type UsageInput } from '../../src/billing/credit-lease';
import { ledgerTotals } from '../../src/billing/ledger';
import { releaseStaleRequestHolds } from '../../src/billing/stale-holds';
import { newId } from '../../src/ids';
import { createLogger } from '../../src/log';
import { createCustomer, startTestGateway, type TestGateway } from '../support/harness';

const usage = (status = 'succeeded'): UsageInput => ({ model: 'lease-test', category: 'chat', channelId: null, units: { input_tokens: 1 }, status, latencyMs: 3 });

/**
 * The credit lease against the real ledger: a request's hold carved in memory from lease blocks, its
 * settlement written by a batched flush. Every test checks the money invariant and captures == usage.
 */
describe('credit leases', () => {
  let gw: TestGateway;
  const opened: CreditLeases[] = [];

  beforeAll(async () => {
    gw = await startTestGateway({ runWorker: false });
  });
  afterAll(async () => {
    for (const leases of opened) leases.abandon();
    await gw?.stop();
  });

  const knex = () => gw.gateway.orm.em.getKnex();
  function leases(opts: { idleMs?: number } = {}): CreditLeases {
    // A long flush interval: the tests decide when settlements are written.
    const created = createCreditLeases({ knex, log: createLogger({ level: 'silent' }), flushMs: 60_000, ...opts });
    opened.push(created);
    return created;
  }

  async function money(accountId: string, keyId: string) {
    const totals = await ledgerTotals(knex(), accountId);
    const [row] = (await knex().raw(
      `select (select coalesce(sum(amount), 0) from ledger_entries where account_id = ? and kind = 'capture') as captures,
              (select coalesce(sum(credits), 0) from usage_records where account_id = ?) as credits,
              (select count(*) from usage_records where account_id = ?) as rows,
              (select budget_spent from api_keys where id = ?) as spent,
              (select budget_reserved from api_keys where id = ?) as key_reserved`,
      [accountId, accountId, accountId, keyId, keyId],
    )).rows;
    // The invariant holds at every moment, flushed or not.
    expect(totals.balance + totals.reserved - totals.debt).toBe(totals.topups - totals.captures);
    expect(totals.reserved).toBe(totals.openHolds);
    expect(totals.debt).toBe(totals.debtEntries);
    expect(Number(row.captures)).toBe(Number(row.credits));
    return { ...totals, usageRows: Number(row.rows), keySpent: Number(row.spent), keyReserved: Number(row.key_reserved) };
  }

  it('never lends more than the wallet under 200 concurrent requests, and charges exactly the settled captures', async () => {
    const c = await createCustomer(gw, { credits: 1000 });
    const lease = leases();
    const outcomes = await Promise.all(Array.from({ length: 200 }, () => lease.reserve({ ref: newId('chat'), accountId: c.accountId, apiKeyId: c.keyId, amount: 7 })));
    const held = outcomes.flatMap((o) => (o.status === 'held' ? [o.reservation] : []));
    expect(held).toHaveLength(Math.floor(1000 / 7));
    expect(outcomes.filter((o) => o.status === 'insufficient')).toHaveLength(200 - held.length);
    expect((await money(c.accountId, c.keyId)).balance).toBeGreaterThanOrEqual(0);

    let charged = 0;
    held.forEach((r, i) => (charged += lease.settle(r, { capture: i % 8, usage: usage() })));
    // Settled in memory only: nothing written yet, the credits still sit in the lease's open holds.
    expect(await money(c.accountId, c.keyId)).toMatchObject({ usageRows: 0, captures: 0 });
    await lease.flush();
    expect(await money(c.accountId, c.keyId)).toMatchObject({ usageRows: held.length, captures: charged, keySpent: charged });
    await lease.quiesce({ accountId: c.accountId });
    expect(await money(c.accountId, c.keyId)).toMatchObject({ balance: 1000 - charged, reserved: 0, openHolds: 0, keyReserved: 0 });
  });

  it('holds exactly what a lone request needs, and bigger blocks only once the key is busy', async () => {
    const c = await createCustomer(gw, { credits: 1000 });
    const lease = leases();
    const reserve = () => lease.reserve({ ref: newId('chat'), accountId: c.accountId, apiKeyId: c.keyId, amount: 10 });
    // Quiet: one request holds its own estimate, and the rest of the wallet stays free for a media task
    // or another key.
    expect((await reserve()).status).toBe('held');
    expect(await money(c.accountId, c.keyId)).toMatchObject({ balance: 990, reserved: 10 });
    for (let i = 0; i < 3; i++) expect((await reserve()).status).toBe('held');
    expect(await money(c.accountId, c.keyId)).toMatchObject({ balance: 960, reserved: 40 });
    // Busy (4 requests' worth in the last second): the next block covers 16 requests like it.
    expect((await reserve()).status).toBe('held');
    expect(await money(c.accountId, c.keyId)).toMatchObject({ balance: 800, reserved: 200 });
  });

  it("keeps a key's budget exact under 50 parallel requests, and refuses with the budget's reason", async () => {
    const c = await createCustomer(gw, { credits: 100_000, key: { budget: 100 } });
    const lease = leases();
    const outcomes = await Promise.all(Array.from({ length: 50 }, () => lease.reserve({ ref: newId('chat'), accountId: c.accountId, apiKeyId: c.keyId, amount: 10 })));
    const held = outcomes.flatMap((o) => (o.status === 'held' ? [o.reservation] : []));
    expect(held).toHaveLength(10);
    expect(outcomes.filter((o) => o.status === 'budget_exceeded')).toHaveLength(40);
    for (const r of held) lease.settle(r, { capture: 10, usage: usage() });
    await lease.quiesce({ apiKeyId: c.keyId });
    expect(await money(c.accountId, c.keyId)).toMatchObject({ keySpent: 100, keyReserved: 0, balance: 100_000 - 100, reserved: 0, usageRows: 10 });
    const after = await lease.reserve({ ref: newId('chat'), accountId: c.accountId, apiKeyId: c.keyId, amount: 1 });
    expect(after).toMatchObject({ status: 'budget_exceeded', period: 'total' });
  });

  it('lends back what a request did not capture, so it refuses exactly when the wallet plus the lease cannot cover a hold', async () => {
    const c = await createCustomer(gw, { credits: 100 });
    const lease = leases();
    const reserve = (amount: number) => lease.reserve({ ref: newId('chat'), accountId: c.accountId, apiKeyId: c.keyId, amount });
    const first = await reserve(60);
    expect(first.status).toBe('held');
    lease.settle((first as { reservation: Reservation }).reservation, { capture: 10, usage: usage() });
    // 90 left to spend: 50 in the lease, 40 in the wallet.
    expect(await reserve(91)).toEqual({ status: 'insufficient' });
    const second = await reserve(90);
    expect(second.status).toBe('held');
    expect(await reserve(1)).toEqual({ status: 'insufficient' });
    lease.settle((second as { reservation: Reservation }).reservation, { capture: 90, usage: usage() });
    await lease.quiesce({ accountId: c.accountId });
    expect(await money(c.accountId, c.keyId)).toMatchObject({ balance: 0, reserved: 0, captures: 100, usageRows: 2 });
  });

  it('charges a capture above the carved hold in full: from the balance, then as debt that stops the lease and blocks new holds', async () => {
    const c = await createCustomer(gw, { credits: 1000 });
    const lease = leases();
    const reserve = (amount: number) => lease.reserve({ ref: newId('chat'), accountId: c.accountId, apiKeyId: c.keyId, amount });
    // Busy, so the lease holds a block bigger than the requests: 4 x 10, then a block of 160.
    const held: Reservation[] = [];
    for (let i = 0; i < 5; i++) held.push(((await reserve(10)) as { reservation: Reservation }).reservation);
    expect(await money(c.accountId, c.keyId)).toMatchObject({ balance: 800, reserved: 200 });
    // 300 for a request that carved 10: 10 from its part, 290 from the balance, in the flush's transaction.
    expect(lease.settle(held[0]!, { capture: 300, usage: usage() })).toBe(300);
    await lease.flush();
    expect(await money(c.accountId, c.keyId)).toMatchObject({ balance: 510, reserved: 190, captures: 300, debt: 0, keySpent: 300 });
    // 2000 for the next: 10 carved, 510 from the balance, 1480 owed.
    lease.settle(held[1]!, { capture: 2000, usage: usage() });
    await lease.flush();
    expect(await money(c.accountId, c.keyId)).toMatchObject({ balance: 0, reserved: 180, captures: 2300, debt: 1480, keySpent: 2300 });
    const [row] = (await knex().raw(`select credits, debt from usage_records where ref = ?`, [held[1]!.ref])).rows;
    expect([Number(row.credits), Number(row.debt)]).toEqual([2000, 1480]);
    // The lease lends no more although its block has 150 uncarved: the next request asks the ledger, which refuses.
    expect(await reserve(1)).toEqual({ status: 'insufficient' });
    // The three requests in flight end (5 each); the 165 left in the blocks go back to the wallet and pay the debt first.
    for (const r of held.slice(2)) lease.settle(r, { capture: 5, usage: usage() });
    await lease.quiesce({ accountId: c.accountId });
    expect(await money(c.accountId, c.keyId)).toMatchObject({ balance: 0, reserved: 0, captures: 2315, debt: 1480 - 165, openHolds: 0 });
  });

  it('settles a request once, and a flush replayed after its commit charges nothing twice', async () => {
    const c = await createCustomer(gw, { credits: 1000 });
    const lease = leases();
    const ref = newId('chat');
    const outcome = await lease.reserve({ ref, accountId: c.accountId, apiKeyId: c.keyId, amount: 50 });
    const reservation = (outcome as { reservation: Reservation }).reservation;
    expect(lease.settle(reservation, { capture: 20, usage: usage() })).toBe(20);
    expect(lease.settle(reservation, { capture: 30, usage: usage() })).toBe(0);
    // As if an earlier flush of this request committed but its answer was lost: the usage row exists.
    await knex().raw(`insert into usage_records (id, ref, account_id, api_key_id, model, category, units, credits, status) values (?, ?, ?, ?, 'lease-test', 'chat', '{}', 0, 'succeeded')`, [`use_${ref}`, ref, c.accountId, c.keyId]);
    await lease.quiesce();
    const totals = await ledgerTotals(knex(), c.accountId);
    expect(totals).toMatchObject({ captures: 0, reserved: 0, balance: 1000 });
  });

  it('gives idle blocks back on its own, and flushes and releases everything at shutdown', async () => {
    const c = await createCustomer(gw, { credits: 10_000 });
    const idle = createCreditLeases({ knex, log: createLogger({ level: 'silent' }), flushMs: 10, idleMs: 100 });
    opened.push(idle);
    const r = await idle.reserve({ ref: newId('chat'), accountId: c.accountId, apiKeyId: c.keyId, amount: 40 });
    idle.settle((r as { reservation: Reservation }).reservation, { capture: 15, usage: usage() });
    await waitFor(async () => (await money(c.accountId, c.keyId)).openHolds === 0);
    expect(await money(c.accountId, c.keyId)).toMatchObject({ balance: 10_000 - 15, usageRows: 1, captures: 15 });

    const lease = leases();
    const reservations = await Promise.all([30, 40, 50].map((amount) => lease.reserve({ ref: newId('chat'), accountId: c.accountId, apiKeyId: c.keyId, amount })));
    reservations.forEach((o) => lease.settle((o as { reservation: Reservation }).reservation, { capture: 5, usage: usage() }));
    expect((await money(c.accountId, c.keyId)).reserved).toBeGreaterThan(0);
    await lease.close();
    expect(await money(c.accountId, c.keyId)).toMatchObject({ balance: 10_000 - 30, reserved: 0, openHolds: 0, usageRows: 4, captures: 30 });
    await expect(lease.reserve({ ref: newId('chat'), accountId: c.accountId, apiKeyId: c.keyId, amount: 1 })).rejects.toThrow('closed');
  });

  it("releases a crashed process's lease through the stale-hold sweeper, leaving its unflushed requests uncharged", async () => {
    const c = await createCustomer(gw, { credits: 5000 });
    const lease = leases();
    const flushed = await lease.reserve({ ref: newId('chat'), accountId: c.accountId, apiKeyId: c.keyId, amount: 100 });
    lease.settle((flushed as { reservation: Reservation }).reservation, { capture: 70, usage: usage() });
    await lease.flush();
    const lost = await lease.reserve({ ref: newId('chat'), accountId: c.accountId, apiKeyId: c.keyId, amount: 100 });
    lease.settle((lost as { reservation: Reservation }).reservation, { capture: 60, usage: usage() });
    await lease.reserve({ ref: newId('chat'), accountId: c.accountId, apiKeyId: c.keyId, amount: 100 }); // in flight at the crash
    lease.abandon();
    expect(await money(c.accountId, c.keyId)).toMatchObject({ captures: 70, usageRows: 1 });
    expect((await money(c.accountId, c.keyId)).reserved).toBeGreaterThan(0);

    // Young blocks are left alone (their process may be alive); old ones are released.
    expect(await releaseStaleRequestHolds(knex())).toBe(0);
    await knex().raw(`update holds set created_at = now() - interval '2 hours' where account_id = ? and id like 'lease_%'`, [c.accountId]);
    expect(await releaseStaleRequestHolds(knex())).toBeGreaterThan(0);
    expect(await money(c.accountId, c.keyId)).toMatchObject({ balance: 5000 - 70, reserved: 0, openHolds: 0, captures: 70, usageRows: 1, keyReserved: 0, keySpent: 70 });
  });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error('condition not met in time');
}
