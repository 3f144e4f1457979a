/**
 * Provider callbacks wake the workflow (issue 16), through the HTTP API, real PostgreSQL and Temporal and
 * the Replicate and fal fakes, which call back as the real providers do. The backstop poll is set to ten
 * minutes, so a task that finishes did so because of a callback: each test counts the provider's status
 * reads instead of timing anything. Forged, replayed and late callbacks change nothing (ledger literals).
 */
import { startFalFake, startReplicateFake, type FakeProvider, type FalFake, type ReplicateFake } from '../fakes';
import { accountOf, expectApiError, sql } from '../support/checks';
import { createCustomer, startTestGateway, uniqueId, waitForTask, type TestGateway } from '../support/harness';

const FAST = { queueMs: 30, runMs: 150 };
const NEVER = { queueMs: Infinity, runMs: Infinity };
const BACKSTOP_NEVER = 10 * 60 * 1000;
const FAL_MODEL = 'fal-ai/kling-video/v2.1/standard/text-to-video';

describe('provider callbacks', () => {
  let gw: TestGateway;
  const fakes: FakeProvider[] = [];

  beforeAll(async () => {
    gw = await startTestGateway();
  });
  afterEach(async () => {
    await Promise.all(fakes.splice(0).map((fake) => fake.close()));
  });
  afterAll(async () => {
    await gw?.stop();
  });

  /** A video model at 3 credits a second (5 s by default: 15 credits a task). */
  async function videoModel(): Promise<string> {
    const id = uniqueId('cb-video');
    await gw.admin('POST', '/admin/models', { id, category: 'video', pricing: { per_second: 3 }, default_duration: 5 });
    return id;
  }

  async function channel(provider: string, fake: FakeProvider, model: string, upstream: string, settings: Record<string, unknown> = {}, priority = 0): Promise<string> {
    fakes.push(fake);
    const created = await gw.admin('POST', '/admin/channels', {
      name: `${provider} for ${model}`, provider, base_url: fake.url, api_key: fake.apiKey, models: { [model]: upstream }, priority,
      settings: { pollIntervalMs: 100, timeoutMs: 5000, callbackBackstopPollMs: BACKSTOP_NEVER, ...settings },
    });
    return created.id as string;
  }

  async function replicateChannel(model: string, settings: Record<string, unknown> = {}, priority = 0): Promise<ReplicateFake> {
    const fake = await startReplicateFake({ jobPlan: FAST });
    await channel('replicate', fake, model, 'acme/wan-video', { webhookSecret: fake.webhookSecret, ...settings }, priority);
    return fake;
  }

  async function falChannel(model: string, settings: Record<string, unknown> = {}, priority = 0): Promise<FalFake> {
    const fake = await startFalFake({ jobPlan: FAST });
    await channel('fal', fake, model, FAL_MODEL, settings, priority);
    return fake;
  }

  async function startTask(model: string) {
    const customer = await createCustomer(gw, { credits: 100 });
    const created = await gw.request('POST', '/v1/videos', { key: customer.key, body: { model, prompt: 'a fox', duration: 5 } });
    expect(created.status).toBe(200);
    return { customer, taskId: created.body.id as string };
  }

  async function ledger(taskId: string): Promise<[string, number][]> {
    const rows = await sql<{ kind: string; amount: string | number }>(gw, 'select kind, amount from ledger_entries where ref = ? order by id', [taskId]);
    return rows.map((row) => [row.kind, Number(row.amount)]);
  }

  const replicateReads = (fake: ReplicateFake) => fake.requestsTo('GET', '/v1/predictions/').length;
  const falReads = (fake: FalFake) => fake.requests.filter((r) => r.method === 'GET' && r.path.endsWith('/status')).length;

  async function post(url: string, body: string, headers: Record<string, string> = {}) {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
  }

  it('replicate: the webhook is asked for; its callback finishes the task with one status read', async () => {
    const model = await videoModel();
    const replicate = await replicateChannel(model);
    const { customer, taskId } = await startTask(model);

    const task = await waitForTask(gw, customer.key, taskId);
    expect(task).toMatchObject({ status: 'succeeded', credits: { reserved: 15, charged: 15, refunded: 0 } });
    const [submit] = replicate.requestsTo('POST', '/v1/models/acme/wan-video/predictions');
    expect(submit.body).toMatchObject({
      webhook: expect.stringMatching(new RegExp(`^${gw.url}/v1/provider-callbacks/${taskId}/1/ch_[^/]+/[\\w-]+$`)),
      webhook_events_filter: ['completed'],
    });
    expect(replicate.callbacks.sent).toHaveLength(1);
    expect(replicate.callbacks.sent[0].status).toBe(200);
    expect(replicateReads(replicate)).toBe(1);
    expect(await accountOf(gw, customer.accountId)).toEqual(expect.objectContaining({ balance: 85, reserved: 0 }));
  });

  it('the webhook signing secret is never shown by the admin API, and a PATCH that sends it back as shown keeps it', async () => {
    const model = await videoModel();
    const replicate = await replicateChannel(model);
    const [listed] = ((await gw.admin('GET', '/admin/channels')).data as { models: Record<string, string>; id: string; settings: Record<string, unknown> }[])
      .filter((c) => c.models[model] !== undefined);
    expect(listed!.settings.webhookSecret).toBe('[hidden]');
    expect(JSON.stringify(await gw.admin('GET', `/admin/channels/${listed!.id}`))).not.toContain(replicate.webhookSecret);
    // The operator edits another setting and sends the settings back as they were shown.
    await gw.admin('PATCH', `/admin/channels/${listed!.id}`, { settings: { ...listed!.settings, pollIntervalMs: 150 } });
    const { customer, taskId } = await startTask(model);
    // Still signed with the stored secret: the callback verifies and finishes the task with one read.
    expect(await waitForTask(gw, customer.key, taskId)).toMatchObject({ status: 'succeeded', credits: { charged: 15 } });
    expect(replicate.callbacks.sent[0]!.status).toBe(200);
    expect(replicateReads(replicate)).toBe(1);
  });

  it('fal: fal_webhook is asked for; its callback finishes the task with one status read', async () => {
    const model = await videoModel();
    const fal = await falChannel(model);
    const { customer, taskId } = await startTask(model);

    const task = await waitForTask(gw, customer.key, taskId);
    expect(task).toMatchObject({ status: 'succeeded', credits: { reserved: 15, charged: 15, refunded: 0 } });
    const submit = fal.requests.find((r) => r.method === 'POST')!;
    expect(submit.query.fal_webhook).toMatch(new RegExp(`^${gw.url}/v1/provider-callbacks/${taskId}/1/`));
    expect(fal.callbacks.sent.map((c) => c.status)).toEqual([200]);
    expect(falReads(fal)).toBe(1);
  });

  it('a provider that never calls back: the backstop poll finishes the task', async () => {
    const model = await videoModel();
    const replicate = await replicateChannel(model, { callbackBackstopPollMs: 300 });
    replicate.callbacks.mode = 'never';
    const { customer, taskId } = await startTask(model);
    const task = await waitForTask(gw, customer.key, taskId);
    expect(task).toMatchObject({ status: 'succeeded', credits: { charged: 15 } });
    expect(replicate.callbacks.sent).toHaveLength(0);
    expect(replicateReads(replicate)).toBeGreaterThanOrEqual(1);
  });

  it('callbacks off on the channel: no webhook is asked for, and polling finishes the task', async () => {
    const model = await videoModel();
    const fal = await falChannel(model, { callbacks: false });
    const { customer, taskId } = await startTask(model);
    expect(await waitForTask(gw, customer.key, taskId)).toMatchObject({ status: 'succeeded' });
    expect(fal.requests.find((r) => r.method === 'POST')!.query.fal_webhook).toBeUndefined();
    expect(fal.callbacks.sent).toHaveLength(0);
  });

  it('forged callbacks (wrong token, other task or attempt, bad or missing signature, stale timestamp) change nothing', async () => {
    const model = await videoModel();
    const replicate = await replicateChannel(model);
    replicate.setJobPlan(NEVER);
    replicate.callbacks.mode = 'never';
    const { customer, taskId } = await startTask(model);
    await waitForTask(gw, customer.key, taskId, { until: (t) => t.status === 'processing' });
    const [submit] = replicate.requestsTo('POST', '/v1/models/');
    const url = (submit.body as { webhook: string }).webhook;
    const job = replicate.lastJob();
    replicate.finishJob(job.id);
    const signed = replicate.signedPrediction(job);

    const [, base, token] = /^(.*)\/([^/]+)$/.exec(url)!;
    const wrongToken = await post(`${base}/${token.slice(0, -2)}${token.endsWith('AA') ? 'BB' : 'AA'}`, signed.body, signed.headers);
    expectApiError(wrongToken, 404, 'not_found');
    const otherAttempt = await post(url.replace(`/${taskId}/1/`, `/${taskId}/2/`), signed.body, signed.headers);
    expectApiError(otherAttempt, 404, 'not_found');
    const otherTask = await post(url.replace(`/${taskId}/`, '/task_someoneelse/'), signed.body, signed.headers);
    expectApiError(otherTask, 404, 'not_found');
    const hostile = await post(`${gw.url}/v1/provider-callbacks/${'x'.repeat(500)}/1/ch_x/y`, '{}');
    expectApiError(hostile, 404, 'not_found');

    const tampered = await post(url, signed.body.replace('"succeeded"', '"failed"'), signed.headers);
    expectApiError(tampered, 400, 'invalid_callback');
    const unsigned = await post(url, signed.body);
    expectApiError(unsigned, 400, 'invalid_callback');
    const stale = replicate.signedPrediction(job, new Date(Date.now() - 10 * 60 * 1000));
    expectApiError(await post(url, stale.body, stale.headers), 400, 'invalid_callback');
    const notJson = await post(url, 'not json', signed.headers);
    expect(notJson.status).toBe(400);
    expect(notJson.body.error).toBeDefined();

    // Nothing moved: no status read, the task still processing, the money still held.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(replicateReads(replicate)).toBe(0);
    expect((await gw.request('GET', `/v1/tasks/${taskId}`, { key: customer.key })).body.status).toBe('processing');
    expect(await accountOf(gw, customer.accountId)).toEqual(expect.objectContaining({ balance: 85, reserved: 15 }));

    // The genuine callback still works.
    const genuine = await post(url, signed.body, signed.headers);
    expect(genuine).toMatchObject({ status: 200, body: { received: true, action: 'read_scheduled' } });
    expect(await waitForTask(gw, customer.key, taskId)).toMatchObject({ status: 'succeeded', credits: { charged: 15 } });
    expect(replicateReads(replicate)).toBe(1);
  });

  it('a callback replayed three times after the end changes nothing', async () => {
    const model = await videoModel();
    const replicate = await replicateChannel(model);
    const { customer, taskId } = await startTask(model);
    await waitForTask(gw, customer.key, taskId);
    const [sent] = replicate.callbacks.sent;
    expect(await ledger(taskId)).toEqual([['hold', 15], ['capture', 15]]);

    for (let i = 0; i < 3; i++) {
      const again = await replicate.callbacks.send(sent.url, sent);
      expect(again.status).toBe(200);
    }
    expect(await ledger(taskId)).toEqual([['hold', 15], ['capture', 15]]);
    expect(replicateReads(replicate)).toBe(1);
    expect(await accountOf(gw, customer.accountId)).toEqual(expect.objectContaining({ balance: 85, reserved: 0 }));
  });

  it('a late callback after polling already finished the task changes nothing', async () => {
    const model = await videoModel();
    const fal = await falChannel(model, { callbackBackstopPollMs: 200 });
    fal.callbacks.mode = 'never';
    const { customer, taskId } = await startTask(model);
    expect(await waitForTask(gw, customer.key, taskId)).toMatchObject({ status: 'succeeded', credits: { reserved: 15, charged: 15, refunded: 0 } });
    expect(await ledger(taskId)).toEqual([['hold', 15], ['capture', 15]]);
    const reads = falReads(fal);

    const url = fal.requests.find((r) => r.method === 'POST')!.query.fal_webhook!;
    const late = await post(url, JSON.stringify(fal.webhookBody(fal.lastJob())));
    expect(late).toMatchObject({ status: 200, body: { received: true, action: 'ignored' } });
    expect(await ledger(taskId)).toEqual([['hold', 15], ['capture', 15]]);
    expect(falReads(fal)).toBe(reads);
    expect(await accountOf(gw, customer.accountId)).toEqual(expect.objectContaining({ balance: 85, reserved: 0 }));
  });

  it('a status read that fails after a callback is retried at the poll interval, not the backstop', async () => {
    const model = await videoModel();
    const fal = await falChannel(model);
    fal.failNext('status', 'unavailable');
    const { customer, taskId } = await startTask(model);
    expect(await waitForTask(gw, customer.key, taskId)).toMatchObject({ status: 'succeeded', credits: { charged: 15 } });
    expect(falReads(fal)).toBe(2);
  });

  it('a task waiting for a callback can be cancelled: the prediction is cancelled upstream and the hold released', async () => {
    const model = await videoModel();
    const replicate = await replicateChannel(model);
    replicate.setJobPlan(NEVER);
    const { customer, taskId } = await startTask(model);
    await waitForTask(gw, customer.key, taskId, { until: (t) => t.status === 'processing' });
    const cancel = await gw.request('POST', `/v1/tasks/${taskId}/cancel`, { key: customer.key });
    expect(cancel.status).toBe(200);
    expect(await waitForTask(gw, customer.key, taskId)).toMatchObject({ status: 'cancelled', credits: { reserved: 15, charged: 0, refunded: 15 } });
    expect(replicate.requestsTo('POST', '/v1/predictions/')).toHaveLength(1);
    expect(await ledger(taskId)).toEqual([['hold', 15], ['release', 15]]);
  });

  it('failover between two protocols for one video model: replicate aborts (retryable), fal succeeds; one charge', async () => {
    const model = await videoModel();
    const replicate = await replicateChannel(model, {}, 10);
    replicate.planNextJobs({ outcome: { kind: 'abort' } });
    const fal = await falChannel(model, {}, 0);
    const { customer, taskId } = await startTask(model);

    const task = await waitForTask(gw, customer.key, taskId);
    expect(task).toMatchObject({ status: 'succeeded', credits: { reserved: 15, charged: 15, refunded: 0 } });
    expect(task.output).toHaveLength(1);
    expect(replicate.callbacks.sent).toHaveLength(1);
    expect(fal.callbacks.sent.map((c) => c.status)).toEqual([200]);
    expect(replicateReads(replicate)).toBe(1);
    expect(falReads(fal)).toBe(1);
    // The second attempt's URL is its own.
    expect(fal.requests.find((r) => r.method === 'POST')!.query.fal_webhook).toContain(`/${taskId}/2/`);
    expect(await accountOf(gw, customer.accountId)).toEqual(expect.objectContaining({ balance: 85, reserved: 0 }));
    expect(await ledger(taskId)).toEqual([['hold', 15], ['capture', 15]]);
  });
});
