import { createCustomer, startTestGateway, uniqueId, type TestGateway } from '../support/harness';
import { sql } from '../support/checks';
import { startOpenAIFake, type OpenAIFake, type RandomFault } from '../fakes';
import { atScale, chaosSeed, checkLedgerInvariants, mapLimit, reportFigures, type Query } from './support/chaos';
import { latencies, postUntilAnswered, waitAllFinal } from './support/tasks';

/**
 * Three channels of one model, each an OpenAI-compatible upstream (the fake, over real HTTP) where every
 * submit and every status poll answers 5xx 30% of the time (500, 502 page, 503), 429 10% and hangs 5%.
 * Hangs end at the channel's `timeoutMs` (1 s). At least 99% of the tasks succeed; every failed one is
 * refunded exactly, and the ledger balances.
 *
 * A call fails 45% of the time, so a task needs several channel attempts: MAX_CHANNEL_ATTEMPTS is 8 here
 * (0.45^8 = 0.17% of tasks would fail every submit), against 3 by default.
 */
const TASKS = atScale({ small: 20, full: 300 });
const MAX_CHANNEL_ATTEMPTS = 8;
/**
 * At least 99% of 300 at full scale (the figure). Twenty tasks cannot show 99%: a task fails when
 * all 8 attempts draw a fault (0.2-0.3% of tasks; 1 of 300 in a full run), so one such failure among 20
 * happens in about 5% of runs. The small run inside `npm test` allows that one; two (under 0.2% of runs)
 * fail it.
 */
const MIN_SUCCEEDED = atScale({ small: TASKS - 1, full: Math.ceil(TASKS * 0.99) });
const SECONDS = 4;
const FAULTS: RandomFault[] = [
  { fault: 'server_error', rate: 0.1 },
  { fault: 'bad_gateway', rate: 0.1 },
  { fault: 'unavailable', rate: 0.1 },
  { fault: 'rate_limited', rate: 0.1 },
  { fault: 'hang', rate: 0.05 },
];

describe('chaos: flaky providers', () => {
  let gw: TestGateway;
  const fakes: OpenAIFake[] = [];
  const seed = chaosSeed();

  beforeAll(async () => {
    gw = await startTestGateway({ env: { MAX_CHANNEL_ATTEMPTS: String(MAX_CHANNEL_ATTEMPTS) } });
    for (let i = 0; i < 3; i++) {
      const fake = await startOpenAIFake({ jobPlan: { queueMs: 200, runMs: 800 } });
      fake.failRandomly('submit', FAULTS, { seed: seed + i }).failRandomly('status', FAULTS, { seed: seed + 10 + i });
      fakes.push(fake);
    }
  });
  afterAll(async () => {
    for (const fake of fakes) await fake.close();
    await gw?.stop();
  });

  it(`succeeds at least 99% of ${TASKS} tasks and refunds every failed one`, async () => {
    const started = Date.now();
    const query: Query = (text, params) => sql(gw, text, params);
    const model = uniqueId('m-video');
    await gw.admin('POST', '/admin/models', { id: model, category: 'video', pricing: { per_second: 1 }, default_duration: 5 });
    for (const [i, fake] of fakes.entries()) {
      await gw.admin('POST', '/admin/channels', {
        name: `flaky ${i}`, provider: 'openai', base_url: fake.url, api_key: fake.apiKey, models: { [model]: 'sora-2' },
        settings: { timeoutMs: 1000, pollIntervalMs: 300 },
      });
    }
    const customer = await createCustomer(gw, { credits: TASKS * SECONDS });

    const answers = await mapLimit(Array.from({ length: TASKS }, (_, i) => i), 30, (i) =>
      postUntilAnswered(`${gw.url}/v1/videos`, customer.key, { model, prompt: `flaky ${i}`, duration: SECONDS }, `flaky-${i}`),
    );
    for (const { answer } of answers) expect('status' in answer ? answer.status : answer).toBe(200);
    const outcomes = await waitAllFinal(query, customer.accountId, TASKS, atScale({ small: 180_000, full: 400_000 }));

    const rows = await query<{ id: string; status: string; error: { code: string; type: string } | null; credits_charged: string; credits_refunded: string; attempts: { outcome: string; code?: string }[] }>(
      'select id, status, error, credits_charged, credits_refunded, attempts from tasks where account_id = ?',
      [customer.accountId],
    );
    expect(rows).toHaveLength(TASKS);
    const succeeded = rows.filter((row) => row.status === 'succeeded');
    const failed = rows.filter((row) => row.status !== 'succeeded');
    expect(succeeded.length).toBeGreaterThanOrEqual(MIN_SUCCEEDED);
    for (const row of succeeded) expect({ id: row.id, charged: Number(row.credits_charged), refunded: Number(row.credits_refunded) }).toEqual({ id: row.id, charged: SECONDS, refunded: 0 });
    for (const row of failed) {
      expect({ id: row.id, status: row.status, type: row.error?.type, charged: Number(row.credits_charged), refunded: Number(row.credits_refunded) })
        .toEqual({ id: row.id, status: 'failed', type: 'upstream_error', charged: 0, refunded: SECONDS });
    }
    const invariants = await checkLedgerInvariants(query, [customer.accountId]);
    expect(await gw.admin('GET', `/admin/accounts/${customer.accountId}`)).toMatchObject({ balance: failed.length * SECONDS, reserved: 0 });

    const injected: Record<string, number> = {};
    for (const fake of fakes) for (const [kind, n] of Object.entries(fake.injected)) injected[kind] = (injected[kind] ?? 0) + n;
    const calls = fakes.reduce((n, fake) => n + fake.requestsTo('POST', '/v1/videos').length + fake.requests.filter((r) => r.method === 'GET' && /^\/v1\/videos\/[^/]+$/.test(r.path)).length, 0);
    const attempts = rows.map((row) => row.attempts.length);
    await reportFigures('flaky-providers', {
      seed,
      tasks: TASKS,
      outcomes,
      successRate: Math.round((succeeded.length / TASKS) * 10_000) / 100,
      failedRefundedExactly: failed.length,
      maxChannelAttempts: MAX_CHANNEL_ATTEMPTS,
      providerCalls: calls,
      faultsInjected: { total: Object.values(injected).reduce((a, b) => a + b, 0), ...injected },
      channelAttempts: { total: attempts.reduce((a, b) => a + b, 0), maxPerTask: Math.max(...attempts), tasksNeedingMoreThanOne: attempts.filter((n) => n > 1).length },
      invariantChecks: invariants.checks,
      taskSeconds: await latencies(query, customer.accountId),
      seconds: Math.round((Date.now() - started) / 1000),
    });
  }, atScale({ small: 240_000, full: 480_000 }));
});
