import { createCustomer, createMockModel, startTestGateway, testEnv, type TestGateway } from '../support/harness';
import { expectApiError, sql } from '../support/checks';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver';
import { atScale, between, chaosSeed, checkLedgerInvariants, mapLimit, reportFigures, seededRandom, sleep, type Query } from './support/chaos';
import { startOwnTemporal, type OwnService } from './support/services';
import { postOnce, postUntilAnswered, drawnOnce, statusCounts, waitAllFinal, waitCallbacks, waitProcessing, type Outcome } from './support/tasks';

/**
 * The gateway's Temporal dev server (one of the test's own) is stopped while tasks are in flight and
 * started again on the same port with the same database file. Meanwhile task polls keep answering from
 * PostgreSQL, and a new task either waits for Temporal (the client retries) or answers 503 in the error
 * format, never a 500 or a cut connection. Afterwards the same API and worker carry on without a restart:
 * every task finishes, nothing is charged twice, every callback arrives.
 */
const TASKS = atScale({ small: 12, full: 100 });
/** At full scale longer than the Temporal client retries a call (~20 s), so new tasks also meet 503s. */
const DOWN_MS = atScale({ small: 3000, full: 25_000 });
const PRICE_PER_SECOND = 2;
const SECONDS = 3;

describe('chaos: Temporal restart', () => {
  let temporal: OwnService;
  let gw: TestGateway;
  let receiver: WebhookReceiver;
  const seed = chaosSeed();
  const random = seededRandom(seed);

  beforeAll(async () => {
    temporal = await startOwnTemporal();
    gw = await startTestGateway({ services: { databaseUrl: testEnv().databaseUrl, temporalAddress: temporal.address } });
    receiver = await startWebhookReceiver();
  });
  afterAll(async () => {
    await receiver?.stop();
    await gw?.stop();
    await temporal?.dispose();
  });

  it(`finishes ${TASKS} tasks in flight across a Temporal restart`, async () => {
    const started = Date.now();
    const query: Query = (text, params) => sql(gw, text, params);
    const { model } = await createMockModel(gw, { category: 'video', pricing: { per_second: PRICE_PER_SECOND } });
    const customer = await createCustomer(gw, { credits: 1_000_000 });
    const body = drawnOnce((i) => ({
      model, prompt: `temporal ${i} [mock:duration=${between(random, 2000, atScale({ small: 5000, full: 9000 }))}]`, duration: SECONDS, callback_url: receiver.url(`/temporal/${i}`),
    }));
    const created = await mapLimit(Array.from({ length: TASKS }, (_, i) => i), 10, (i) => postUntilAnswered(`${gw.url}/v1/videos`, customer.key, body(i), `temporal-${i}`));
    for (const { answer } of created) expect('status' in answer ? answer.status : answer).toBe(200);
    const firstTaskId = (created[0]!.answer as { body: { id: string } }).body.id;

    await waitProcessing(query, customer.accountId, Math.min(3, TASKS));
    const inFlight = await statusCounts(query, customer.accountId);
    const downAt = Date.now();
    await temporal.stop();

    // While it is away: polls answer from the database; new tasks are sent (and not awaited here: the
    // Temporal client retries for a while, so a POST may only answer once the server is back).
    const polls: { status: number; body: unknown; headers: Headers }[] = [];
    const posts: Promise<Outcome>[] = [];
    let probe = 0;
    while (Date.now() - downAt < DOWN_MS) {
      probe += 1;
      posts.push(postOnce(`${gw.url}/v1/videos`, customer.key, body(1000 + probe), `temporal-outage-${probe}`));
      polls.push(await gw.request('GET', `/v1/tasks/${firstTaskId}`, { key: customer.key }));
      await sleep(300);
    }
    const upAt = Date.now();
    await temporal.start();
    const restartedMs = Date.now() - upAt;

    for (const poll of polls) expect({ status: poll.status, body: poll.body }).toMatchObject({ status: 200, body: { id: firstTaskId } });
    const outageAnswers = await Promise.all(posts);
    let refused503 = 0;
    for (const answer of outageAnswers) {
      if ('error' in answer) throw new Error(`POST while Temporal was away: ${answer.error}`);
      if (answer.status === 503) {
        refused503 += 1;
        expectApiError(answer as { status: number; body: unknown; headers: Headers }, 503, 'service_unavailable', 'gateway_error');
      } else {
        // Held until Temporal was back, then admitted: its task (the status is wherever it has got to since).
        expect({ status: answer.status, body: answer.body }).toMatchObject({ status: 200, body: { object: 'gateway.video.task' } });
      }
    }
    // The ones refused are retried with their key, as a client would; every one is admitted once.
    const retried = await mapLimit(Array.from({ length: probe }, (_, i) => i + 1), 10, (p) =>
      postUntilAnswered(`${gw.url}/v1/videos`, customer.key, body(1000 + p), `temporal-outage-${p}`),
    );
    for (const { answer } of retried) expect('status' in answer ? answer.status : answer).toBe(200);

    const total = TASKS + probe;
    const statuses = await waitAllFinal(query, customer.accountId, total, atScale({ small: 120_000, full: 300_000 }));
    expect(statuses).toEqual({ succeeded: total });
    const rows = await query<{ id: string; credits_charged: string }>('select id, credits_charged from tasks where account_id = ?', [customer.accountId]);
    expect(rows).toHaveLength(total);
    for (const row of rows) expect({ id: row.id, charged: Number(row.credits_charged) }).toEqual({ id: row.id, charged: SECONDS * PRICE_PER_SECOND });
    const invariants = await checkLedgerInvariants(query, [customer.accountId]);

    const ids = [...created, ...retried].map(({ answer }) => (answer as { body: { id: string } }).body.id);
    expect(new Set(ids).size).toBe(total);
    const callbacks = await waitCallbacks(receiver, ids, customer.webhookSecret, 'succeeded', 90_000);

    await reportFigures('temporal-restart', {
      seed,
      tasks: total,
      inFlightAtStop: inFlight,
      faultsInjected: { temporalRestarts: 1, downMs: upAt - downAt, restartMs: restartedMs },
      whileDown: { polls200: polls.length, posts: probe, postsAnswered503: refused503, postsHeldUntilBack: probe - refused503 },
      outcomes: statuses,
      invariantChecks: invariants.checks + polls.length,
      callbacks,
      seconds: Math.round((Date.now() - started) / 1000),
    });
  }, atScale({ small: 240_000, full: 480_000 }));
});
