import { createCustomer, createMockModel, startTestGateway, type TestGateway } from '../support/harness';
import { expectApiError, sql } from '../support/checks';
import { atScale, checkLedgerInvariants, reportFigures, sleep, type Query } from './support/chaos';
import { postUntilAnswered, waitAllFinal } from './support/tasks';

/**
 * Many parallel submissions against a wallet that covers only some: exactly as many are admitted as the
 * credits pay for, the rest answer 402 and leave nothing behind, and no observation of the account, taken
 * over and over while the requests race, shows a balance below zero.
 *
 * Each client sends an Idempotency-Key and, like the careful client that a 503 asks for, retries with it
 * when the gateway answers 503 (Temporal overloaded by the burst) or its own 90 s timeout fires: a retry
 * joins the same workflow, so it can neither admit a second task nor lose the first. Every 503 must be in
 * the error format; the final answers must be exactly AFFORDABLE 200s and the rest 402s.
 */
const SUBMISSIONS = atScale({ small: 50, full: 500 });
const AFFORDABLE = atScale({ small: 10, full: 100 });
const PRICE = 7;

describe('chaos: concurrent admission', () => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startTestGateway();
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it(`admits exactly ${AFFORDABLE} of ${SUBMISSIONS} parallel submissions`, async () => {
    const started = Date.now();
    const query: Query = (text, params) => sql(gw, text, params);
    const { model } = await createMockModel(gw, { category: 'image', pricing: { per_image: PRICE }, settings: { durationMs: 500 } });
    const customer = await createCustomer(gw, { credits: AFFORDABLE * PRICE });

    // The observer reads the account row (the database's view) and the admin API (the gateway's view)
    // in a loop for as long as the submissions run.
    const observations = { database: 0, api: 0, minBalance: Number.POSITIVE_INFINITY, minReserved: Number.POSITIVE_INFINITY, overdrawn: [] as unknown[] };
    let racing = true;
    const observe = (balance: number, reserved: number, source: string) => {
      observations.minBalance = Math.min(observations.minBalance, balance);
      observations.minReserved = Math.min(observations.minReserved, reserved);
      if (balance < 0 || reserved < 0 || balance + reserved > AFFORDABLE * PRICE) observations.overdrawn.push({ source, balance, reserved });
    };
    const observer = (async () => {
      while (racing) {
        const [row] = await query<{ balance: string; reserved: string }>('select balance, reserved from accounts where id = ?', [customer.accountId]);
        observe(Number(row!.balance), Number(row!.reserved), 'database');
        observations.database += 1;
        const viaApi = await gw.admin('GET', `/admin/accounts/${customer.accountId}`);
        observe(Number(viaApi.balance), Number(viaApi.reserved), 'api');
        observations.api += 1;
        await sleep(5);
      }
    })();

    const runs = await Promise.all(
      Array.from({ length: SUBMISSIONS }, (_, i) => postUntilAnswered(`${gw.url}/v1/images/generations`, customer.key, { model, prompt: `race ${i}` }, `race-${i}`, { tries: 10 })),
    );
    const answers = runs.map((run) => run.answer);
    const retriedAnswers = runs.flatMap((run) => run.seen.slice(0, -1));
    for (const answer of retriedAnswers) {
      if ('error' in answer) expect(answer.error).toMatch(/^TimeoutError/);
      else expectApiError(answer as { status: number; body: unknown; headers: Headers }, 503, 'service_unavailable', 'gateway_error');
    }
    const admittedMs = Date.now() - started;
    racing = false;
    await observer;

    const statuses: Record<string, number> = {};
    for (const answer of answers) {
      const label = 'error' in answer ? `error: ${answer.error}` : String(answer.status);
      statuses[label] = (statuses[label] ?? 0) + 1;
    }
    expect(statuses).toEqual({ 200: AFFORDABLE, 402: SUBMISSIONS - AFFORDABLE });
    for (const refused of answers.filter((answer) => 'status' in answer && answer.status === 402)) {
      expectApiError(refused as { status: number; body: unknown; headers: Headers }, 402, 'insufficient_credits', 'gateway_error');
    }
    expect(observations.overdrawn).toEqual([]);
    expect(observations.minBalance).toBeGreaterThanOrEqual(0);

    // Only the admitted ones exist, and they run to the end and are charged.
    const admittedIds = answers.flatMap((answer) => ('status' in answer && answer.status === 200 ? [answer.body.id as string] : []));
    expect(new Set(admittedIds).size).toBe(AFFORDABLE);
    const outcomes = await waitAllFinal(query, customer.accountId, AFFORDABLE, atScale({ small: 120_000, full: 300_000 }));
    expect(outcomes).toEqual({ succeeded: AFFORDABLE });
    const rows = await query<{ id: string }>('select id from tasks where account_id = ?', [customer.accountId]);
    expect(rows.map((row) => row.id).sort()).toEqual([...admittedIds].sort());
    expect(await gw.admin('GET', `/admin/accounts/${customer.accountId}`)).toMatchObject({ balance: 0, reserved: 0 });
    const invariants = await checkLedgerInvariants(query, [customer.accountId]);

    await reportFigures('concurrency', {
      submissions: SUBMISSIONS,
      creditsFor: AFFORDABLE,
      admitted: statuses[200],
      refused402: statuses[402],
      retriedAfter: {
        status503: retriedAnswers.filter((answer) => 'status' in answer).length,
        clientTimeout: retriedAnswers.filter((answer) => 'error' in answer).length,
      },
      balanceObservations: observations.database + observations.api,
      minBalanceObserved: observations.minBalance,
      invariantChecks: invariants.checks + observations.database + observations.api,
      seconds: { allAnswered: Math.round(admittedMs / 1000), total: Math.round((Date.now() - started) / 1000) },
    });
  }, atScale({ small: 300_000, full: 900_000 }));
});
