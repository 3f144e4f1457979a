import { createCustomer, createMockModel, startTestGateway, testEnv, type TestGateway } from '../support/harness';
import { expectApiError, sql } from '../support/checks';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver';
import { atScale, between, chaosSeed, checkLedgerInvariants, mapLimit, reportFigures, seededRandom, sleep, until, type Query } from './support/chaos';
import { startOwnPostgres, type OwnService } from './support/services';
import { postOnce, postUntilAnswered, drawnOnce, statusCounts, waitAllFinal, waitCallbacks, waitProcessing, type Outcome } from './support/tasks';

/**
 * The gateway's PostgreSQL (one of the test's own) is stopped while tasks are in flight and started again
 * on the same data. While it is away every API call that needs it answers 503 `service_unavailable` in
 * the error format (never a 500, a hang or a cut connection); once it is back the same API process
 * answers again without a restart, every task in flight finishes as it would have, the ledger balances
 * and every callback arrives. Requests refused with 503 leave nothing behind, and a client that retries
 * them with the same Idempotency-Key gets its task.
 */
const TASKS = atScale({ small: 12, full: 100 });
/** How long the database stays away, past its shutdown. Activities that call a provider retry for ~15 s. */
const DOWN_MS = atScale({ small: 4000, full: 8000 });
const PRICE_PER_SECOND = 3;
const SECONDS = 2;

describe('chaos: PostgreSQL restart', () => {
  let pg: OwnService;
  let gw: TestGateway;
  let receiver: WebhookReceiver;
  const seed = chaosSeed();
  const random = seededRandom(seed);

  beforeAll(async () => {
    pg = await startOwnPostgres();
    gw = await startTestGateway({ services: { databaseUrl: pg.address, temporalAddress: testEnv().temporalAddress } });
    receiver = await startWebhookReceiver();
  });
  afterAll(async () => {
    await receiver?.stop();
    await gw?.stop();
    await pg?.dispose();
  });

  it(`loses none of ${TASKS} tasks in flight while the database restarts, answering 503 meanwhile`, async () => {
    const started = Date.now();
    const query: Query = (text, params) => sql(gw, text, params);
    const { model } = await createMockModel(gw, { category: 'video', pricing: { per_second: PRICE_PER_SECOND } });
    const customer = await createCustomer(gw, { credits: 1_000_000 });
    const body = drawnOnce((i) => ({
      model, prompt: `pg ${i} [mock:duration=${between(random, 2000, atScale({ small: 5000, full: 9000 }))}]`, duration: SECONDS, callback_url: receiver.url(`/pg/${i}`),
    }));
    const created = await mapLimit(Array.from({ length: TASKS }, (_, i) => i), 10, (i) => postUntilAnswered(`${gw.url}/v1/videos`, customer.key, body(i), `pg-${i}`));
    for (const { answer } of created) expect('status' in answer ? answer.status : answer).toBe(200);
    const firstTaskId = (created[0]!.answer as { body: { id: string } }).body.id;

    // Some tasks running at the provider, some still queued: then the database goes away.
    await waitProcessing(query, customer.accountId, Math.min(3, TASKS));
    const inFlight = await statusCounts(query, customer.accountId);
    const downAt = Date.now();
    await pg.stop();

    // While it is away: a new task, a poll and the readiness probe, over and over, every answer checked.
    const during: { what: string; answer: Outcome }[] = [];
    let probe = 0;
    while (Date.now() - downAt < DOWN_MS) {
      probe += 1;
      const [post, poll, ready] = await Promise.all([
        postOnce(`${gw.url}/v1/videos`, customer.key, body(1000 + probe), `pg-outage-${probe}`),
        gw.request('GET', `/v1/tasks/${firstTaskId}`, { key: customer.key }),
        gw.request('GET', '/readyz'),
      ]);
      during.push({ what: 'POST /v1/videos', answer: post }, { what: 'GET /v1/tasks/{id}', answer: poll }, { what: 'GET /readyz', answer: ready });
      await sleep(300);
    }
    for (const { what, answer } of during) {
      if ('error' in answer) throw new Error(`${what} while the database was away: ${answer.error}`);
      expectApiError(answer as { status: number; body: unknown; headers: Headers }, 503, 'service_unavailable', 'gateway_error');
      expect(answer.headers?.get('retry-after')).toBe('1');
    }
    const upAt = Date.now();
    await pg.start();

    // The same API process answers again once the database is back.
    await until('readiness after the restart', async () => (await gw.request('GET', '/readyz')).status === 200, 60_000, 100);
    const recoveredMs = Date.now() - upAt;
    // Every refused request left nothing behind; retried with its key, each one is admitted now.
    const outageKeys = Array.from({ length: probe }, (_, i) => i + 1);
    expect(await query<{ n: string }>('select count(*) as n from tasks where account_id = ?', [customer.accountId])).toEqual([{ n: String(TASKS) }]);
    const retried = await mapLimit(outageKeys, 10, (p) => postUntilAnswered(`${gw.url}/v1/videos`, customer.key, body(1000 + p), `pg-outage-${p}`));
    for (const { answer } of retried) expect('status' in answer ? answer.status : answer).toBe(200);

    const total = TASKS + probe;
    const statuses = await waitAllFinal(query, customer.accountId, total, atScale({ small: 120_000, full: 300_000 }));
    expect(statuses).toEqual({ succeeded: total });
    const rows = await query<{ id: string; credits_charged: string }>('select id, credits_charged from tasks where account_id = ?', [customer.accountId]);
    for (const row of rows) expect({ id: row.id, charged: Number(row.credits_charged) }).toEqual({ id: row.id, charged: SECONDS * PRICE_PER_SECOND });
    const invariants = await checkLedgerInvariants(query, [customer.accountId]);

    const ids = [...created, ...retried].map(({ answer }) => (answer as { body: { id: string } }).body.id);
    const callbacks = await waitCallbacks(receiver, ids, customer.webhookSecret, 'succeeded', 90_000);

    await reportFigures('postgres-restart', {
      seed,
      tasks: total,
      inFlightAtStop: inFlight,
      faultsInjected: { postgresRestarts: 1, downMs: upAt - downAt },
      answersWhileDown: { total: during.length, status503: during.filter(({ answer }) => 'status' in answer && answer.status === 503).length },
      recoveredMsAfterStart: recoveredMs,
      refusedThenRetried: probe,
      outcomes: statuses,
      invariantChecks: invariants.checks + during.length,
      callbacks,
      seconds: Math.round((Date.now() - started) / 1000),
    });
  }, atScale({ small: 240_000, full: 480_000 }));
});
