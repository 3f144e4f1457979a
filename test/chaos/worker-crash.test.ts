import { createCustomer, createMockModel, startTestGateway, type TestGateway } from '../support/harness';
import { sql } from '../support/checks';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver';
import { spawnWorker, type WorkerProcess } from '../support/worker-process';
import { checkCallbacks } from './support/callbacks';
import { atScale, between, chaosSeed, checkLedgerInvariants, mapLimit, reportFigures, seededRandom, sleep, until, type Query } from './support/chaos';
import { latencies, postUntilAnswered, waitAllFinal } from './support/tasks';

/**
 * The worker process is SIGKILLed at random moments while tasks are in flight, and started again. Every
 * task ends in the status its prompt asked for, the ledger balances, nothing is charged or refunded twice,
 * and every callback arrives, with one webhook-id per task however often it was retried.
 */
const TASKS = atScale({ small: 20, full: 300 });
const KILLS = atScale({ small: 1, full: 3 });
const PRICE_PER_SECOND = 2;

describe('chaos: worker crash', () => {
  let gw: TestGateway;
  let receiver: WebhookReceiver;
  const workers: WorkerProcess[] = [];
  const seed = chaosSeed();
  const random = seededRandom(seed);
  /** Paths whose first delivery the receiver refuses, so some callbacks are retried on purpose. */
  const refuseFirst = new Set<string>();

  beforeAll(async () => {
    gw = await startTestGateway({ runWorker: false });
    receiver = await startWebhookReceiver((hook) => (refuseFirst.delete(hook.path) ? 500 : 200));
  });
  afterAll(async () => {
    for (const worker of workers) await worker.kill();
    await receiver?.stop();
    await gw?.stop();
  });

  it(`finishes ${TASKS} tasks exactly once through ${KILLS} worker kills`, async () => {
    const started = Date.now();
    const query: Query = (text, params) => sql(gw, text, params);
    const { model } = await createMockModel(gw, { category: 'video', pricing: { per_second: PRICE_PER_SECOND }, settings: { durationMs: 3000 } });
    const customer = await createCustomer(gw, { credits: 1_000_000 });
    let worker = spawnWorker(gw);
    workers.push(worker);

    // 80% succeed, 10% fail for good in flight, 10% fail retryably on every channel attempt: all refunded.
    const plans = Array.from({ length: TASKS }, (_, i) => {
      const draw = random();
      const outcome = draw < 0.1 ? 'fail' : draw < 0.2 ? 'infra' : 'ok';
      const seconds = between(random, 1, 8);
      // Long enough that most tasks are still at the provider when the kills come, after the submissions.
      const durationMs = between(random, atScale({ small: 2000, full: 5000 }), atScale({ small: 5000, full: 30_000 }));
      const marker = outcome === 'fail' ? ' [mock:fail]' : outcome === 'infra' ? ' [mock:fail=infra]' : '';
      const path = `/crash/${i}`;
      if (random() < 0.1) refuseFirst.add(path);
      return { i, outcome, seconds, path, body: { model, prompt: `crash ${i} [mock:duration=${durationMs}]${marker}`, duration: seconds, callback_url: receiver.url(path) } };
    });

    let postRetries = 0;
    const created = await mapLimit(plans, atScale({ small: 20, full: 50 }), async (plan) => {
      const { answer, tries } = await postUntilAnswered(`${gw.url}/v1/videos`, customer.key, plan.body, `crash-${plan.i}`);
      postRetries += tries - 1;
      return answer;
    });
    const submittedMs = Date.now() - started;
    for (const answer of created) expect('status' in answer ? answer.status : answer).toBe(200);
    const ids = created.map((answer) => ('body' in answer ? (answer.body.id as string) : ''));
    expect(new Set(ids).size).toBe(TASKS);

    // The killer, once every task is in: waits a random 1-3 s (2-8 s at full scale) after each (re)start,
    // SIGKILLs the worker with the tasks still in flight, and restarts it 0-1.5 s later.
    const kills: { atMs: number; inFlight: number; downMs: number }[] = [];
    for (let k = 0; k < KILLS; k++) {
      await sleep(between(random, atScale({ small: 1000, full: 2000 }), atScale({ small: 3000, full: 8000 })));
      const [open] = await query<{ n: string }>(`select count(*) as n from tasks where account_id = ? and status not in ('succeeded', 'failed', 'cancelled')`, [customer.accountId]);
      const atMs = Date.now() - started;
      await worker.kill();
      const downMs = between(random, 0, 1500);
      await sleep(downMs);
      worker = spawnWorker(gw);
      workers.push(worker);
      kills.push({ atMs, inFlight: Number(open!.n), downMs });
    }
    // The premise: every kill hit tasks in flight.
    for (const kill of kills) expect(kill.inFlight).toBeGreaterThan(0);

    const statuses = await waitAllFinal(query, customer.accountId, TASKS, atScale({ small: 150_000, full: 420_000 })).catch((error: Error) => {
      throw new Error(`${error.message}\nlast worker output:\n${worker.output()}`);
    });
    const finishedMs = Date.now() - started;

    // Each task ended as its prompt asked, charged its price once or refunded in full.
    const rows = await query<{ id: string; status: string; credits_reserved: string; credits_charged: string; credits_refunded: string; attempts: { outcome: string }[] }>(
      'select id, status, credits_reserved, credits_charged, credits_refunded, attempts from tasks where account_id = ?',
      [customer.accountId],
    );
    expect(rows).toHaveLength(TASKS);
    const byId = new Map(rows.map((row) => [row.id, row]));
    let resubmittedAfterCrash = 0;
    for (const [index, plan] of plans.entries()) {
      const row = byId.get(ids[index]!)!;
      const price = plan.seconds * PRICE_PER_SECOND;
      const credits = { reserved: Number(row.credits_reserved), charged: Number(row.credits_charged), refunded: Number(row.credits_refunded) };
      if (plan.outcome === 'ok') {
        expect({ i: plan.i, status: row.status, credits }).toEqual({ i: plan.i, status: 'succeeded', credits: { reserved: price, charged: price, refunded: 0 } });
        if (row.attempts.filter((attempt) => attempt.outcome === 'submitted').length > 1) resubmittedAfterCrash += 1;
      } else {
        expect({ i: plan.i, status: row.status, credits }).toEqual({ i: plan.i, status: 'failed', credits: { reserved: price, charged: 0, refunded: price } });
      }
    }
    const assets = await query<{ task_id: string; n: string }>('select task_id, count(*) as n from assets where account_id = ? group by task_id', [customer.accountId]);
    expect(assets.every((row) => Number(row.n) === 1)).toBe(true);
    expect(assets).toHaveLength(plans.filter((plan) => plan.outcome === 'ok').length);

    const invariants = await checkLedgerInvariants(query, [customer.accountId]);

    // Every callback arrives; retries (refused on purpose, or cut by a kill) keep their webhook-id.
    const expectations = new Map(ids.map((id) => [id, { secret: customer.webhookSecret, status: byId.get(id)!.status }]));
    await until('every callback accepted', async () => {
      const accepted = new Set(receiver.received.filter((hook) => hook.answeredWith < 300).map((hook) => hook.path));
      return plans.every((plan) => accepted.has(plan.path));
    }, 120_000, 500);
    const callbacks = checkCallbacks(receiver.received, expectations);

    await reportFigures('worker-crash', {
      seed,
      tasks: TASKS,
      outcomes: statuses,
      faultsInjected: { workerKills: kills.length, kills, callbackRefusals: callbacks.refusedByReceiver },
      workersStarted: workers.length,
      postRetries,
      resubmittedAfterCrash,
      invariantChecks: invariants.checks,
      callbacks,
      taskSeconds: await latencies(query, customer.accountId),
      seconds: { submitted: Math.round(submittedMs / 1000), allFinal: Math.round(finishedMs / 1000), total: Math.round((Date.now() - started) / 1000) },
    });
  }, atScale({ small: 300_000, full: 600_000 }));
});
