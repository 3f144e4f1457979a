import { hold, ledgerTotals } from '../../src/billing/ledger';
import { releaseStaleRequestHolds } from '../../src/billing/stale-holds';
import { createCustomer, startTestGateway, type TestGateway } from '../support/harness';

/** Holds of requests whose API process died are released; task holds are left to their workflows. */
describe('releaseStaleRequestHolds', () => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startTestGateway({ runWorker: false });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('releases only old request holds, once, and keeps the ledger invariant', async () => {
    const knex = gw.gateway.orm.em.getKnex();
    const customer = await createCustomer(gw, { credits: 100 });
    const suffix = Date.now().toString(36);
    for (const [ref, amount] of [[`chat_old${suffix}`, 10], [`emb_old${suffix}`, 5], [`chat_new${suffix}`, 7], [`task_old${suffix}`, 20]] as const) {
      expect(await hold(knex, { ref, accountId: customer.accountId, apiKeyId: customer.keyId, amount })).toMatchObject({ status: 'held' });
    }
    await knex.raw(`update holds set created_at = now() - interval '2 hours' where id in (?, ?, ?)`, [`chat_old${suffix}`, `emb_old${suffix}`, `task_old${suffix}`]);

    expect(await releaseStaleRequestHolds(knex)).toBe(2);
    expect(await releaseStaleRequestHolds(knex)).toBe(0);

    const statuses = await knex.raw(`select id, status from holds where account_id = ? order by id`, [customer.accountId]);
    expect(Object.fromEntries(statuses.rows.map((r: { id: string; status: string }) => [r.id, r.status]))).toEqual({
      [`chat_new${suffix}`]: 'open',
      [`chat_old${suffix}`]: 'released',
      [`emb_old${suffix}`]: 'released',
      [`task_old${suffix}`]: 'open',
    });
    const totals = await ledgerTotals(knex, customer.accountId);
    expect(totals).toMatchObject({ balance: 100 - 7 - 20, reserved: 27, openHolds: 27, topups: 100, captures: 0 });
    expect(totals.balance + totals.openHolds).toBe(totals.topups - totals.captures);
    const key = await gw.admin('GET', `/admin/keys/${customer.keyId}`);
    expect(key.budget_reserved).toBe(27);
  });
});
