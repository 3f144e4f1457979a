import { budgetMonth, chargeBeyondHold } from '../../src/billing/ledger';
import { createCustomer, startTestGateway, type TestGateway } from '../support/harness';
import { sql } from '../support/checks';

/** Usage beyond a hold (a chat answer longer than its estimate) is charged in full, wherever the hold's month was. */
describe('chargeBeyondHold', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway();
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it("counts an overage toward this month's key spend even when this month has no spend row yet", async () => {
    const customer = await createCustomer(gw, { credits: 50, key: { budget_monthly: 1000 } });
    const month = budgetMonth(new Date());
    expect(await sql(gw, `select * from key_monthly_spend where api_key_id = ?`, [customer.keyId])).toEqual([]);
    const knex = gw.gateway.orm.em.getKnex();
    const owed = await knex.transaction((trx) => chargeBeyondHold(trx, { ref: 'overage-test-1', accountId: customer.accountId, apiKeyId: customer.keyId, amount: 70 }));
    // 50 from the balance, 20 as debt; the key's month counts all 70, as its total does.
    expect(owed).toBe(20);
    const spend = await sql<{ month: string; spent: string; reserved: string }>(gw, `select month, spent, reserved from key_monthly_spend where api_key_id = ?`, [customer.keyId]);
    expect(spend.map((r) => ({ month: r.month, spent: Number(r.spent), reserved: Number(r.reserved) }))).toEqual([{ month, spent: 70, reserved: 0 }]);
    await knex.transaction((trx) => chargeBeyondHold(trx, { ref: 'overage-test-2', accountId: customer.accountId, apiKeyId: customer.keyId, amount: 5 }));
    const after = await sql<{ spent: string }>(gw, `select spent from key_monthly_spend where api_key_id = ?`, [customer.keyId]);
    expect(after.map((r) => Number(r.spent))).toEqual([75]);
    const key = await sql<{ budget_spent: string }>(gw, `select budget_spent from api_keys where id = ?`, [customer.keyId]);
    expect(Number(key[0]!.budget_spent)).toBe(75);
  });
});
