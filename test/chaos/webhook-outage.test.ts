import { createCustomer, createMockModel, startTestGateway, type TestGateway } from '../support/harness';
import { sql } from '../support/checks';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver';
import { checkCallbacks } from './support/callbacks';
import { atScale, between, chaosSeed, checkLedgerInvariants, mapLimit, reportFigures, seededRandom, sleep, until, type Query } from './support/chaos';
import { postUntilAnswered, waitAllFinal } from './support/tasks';

/**
 * The callback receiver's port is closed before the tasks are sent and stays closed until every task is
 * final and at least DOWN_MS has passed: each delivery meets a refused connection. The tasks' outcomes do
 * not wait for the receiver, the failed attempts are recorded, and once the receiver listens again every
 * callback arrives (the policy retries within a minute first), with one webhook-id per task.
 */
const TASKS = atScale({ small: 12, full: 100 });
const DOWN_MS = atScale({ small: 8000, full: 30_000 });

describe('chaos: webhook receiver down, then back', () => {
  let gw: TestGateway;
  let receiver: WebhookReceiver;
  const seed = chaosSeed();
  const random = seededRandom(seed);

  beforeAll(async () => {
    gw = await startTestGateway();
    receiver = await startWebhookReceiver();
  });
  afterAll(async () => {
    await receiver?.stop();
    await gw?.stop();
  });

  it(`delivers all ${TASKS} callbacks once the receiver is back`, async () => {
    const started = Date.now();
    const query: Query = (text, params) => sql(gw, text, params);
    const { model } = await createMockModel(gw, { category: 'music', pricing: { per_request: 4 } });
    const customer = await createCustomer(gw, { credits: 1_000_000 });
    // One in five fails at the provider: its task.failed callback must arrive too.
    const plans = Array.from({ length: TASKS }, (_, i) => ({
      i, fails: random() < 0.2, durationMs: between(random, 500, atScale({ small: 4000, full: 15_000 })),
    }));

    await receiver.goDown();
    const downAt = Date.now();
    const created = await mapLimit(plans, 10, (plan) =>
      postUntilAnswered(`${gw.url}/v1/music/generations`, customer.key, {
        model, prompt: `hook ${plan.i} [mock:duration=${plan.durationMs}]${plan.fails ? ' [mock:fail]' : ''}`, callback_url: receiver.url(`/hook/${plan.i}`),
      }, `hook-${plan.i}`),
    );
    for (const { answer } of created) expect('status' in answer ? answer.status : answer).toBe(200);
    const ids = created.map(({ answer }) => (answer as { body: { id: string } }).body.id);

    // Outcomes are final while the receiver is still away.
    const statuses = await waitAllFinal(query, customer.accountId, TASKS, atScale({ small: 60_000, full: 180_000 }));
    expect(statuses).toEqual({ ...(plans.some((p) => !p.fails) ? { succeeded: plans.filter((p) => !p.fails).length } : {}), ...(plans.some((p) => p.fails) ? { failed: plans.filter((p) => p.fails).length } : {}) });
    await sleep(Math.max(0, DOWN_MS - (Date.now() - downAt)));
    // Every task has tried at least once and failed; none was marked delivered.
    const attempts = await until('a failed delivery attempt for every task', async () => {
      const rows = await query<{ task_id: string; attempts: number; delivered_at: Date | null; last_error: string | null }>(
        `select task_id, attempts, delivered_at, last_error from webhook_deliveries where task_id in (${ids.map(() => '?').join(', ')})`,
        ids,
      );
      return rows.length === TASKS ? rows : null;
    }, 30_000, 250);
    for (const row of attempts) expect({ id: row.task_id, delivered: row.delivered_at, failed: row.last_error !== null }).toEqual({ id: row.task_id, delivered: null, failed: true });
    const failedAttempts = attempts.reduce((n, row) => n + Number(row.attempts), 0);
    expect(receiver.received).toHaveLength(0);

    await receiver.comeBack();
    const upAt = Date.now();
    await until('every callback accepted', async () => {
      const seen = new Set(receiver.received.filter((hook) => hook.answeredWith < 300).map((hook) => hook.path));
      return plans.every((plan) => seen.has(`/hook/${plan.i}`));
    }, atScale({ small: 90_000, full: 150_000 }), 250);
    const allDeliveredMs = Date.now() - upAt;
    const rows = await query<{ id: string; status: string }>('select id, status from tasks where account_id = ?', [customer.accountId]);
    const callbacks = checkCallbacks(receiver.received, new Map(rows.map((row) => [row.id, { secret: customer.webhookSecret, status: row.status }])));
    const delivered = await query<{ n: string }>(`select count(*) as n from webhook_deliveries where task_id in (${ids.map(() => '?').join(', ')}) and delivered_at is not null`, ids);
    expect(Number(delivered[0]!.n)).toBe(TASKS);
    const invariants = await checkLedgerInvariants(query, [customer.accountId]);

    await reportFigures('webhook-outage', {
      seed,
      tasks: TASKS,
      outcomes: statuses,
      faultsInjected: { receiverDownMs: upAt - downAt, refusedDeliveryAttempts: failedAttempts },
      secondsToDeliverAllAfterBack: Math.round(allDeliveredMs / 100) / 10,
      invariantChecks: invariants.checks + TASKS,
      callbacks,
      seconds: Math.round((Date.now() - started) / 1000),
    });
  }, atScale({ small: 240_000, full: 480_000 }));
});
