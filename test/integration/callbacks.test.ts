import { Webhook } from 'standardwebhooks';
import { createCustomer, createMockModel, startTestGateway, waitForTask, type TestGateway } from '../support/harness';
import { accountOf, eventually, expectApiError, taskRowCount } from '../support/checks';
import { startWebhookReceiver, type ReceivedHook, type WebhookReceiver } from '../support/webhook-receiver';

/** Task callbacks: Standard Webhooks signatures, the payload of API.md, retries with a stable id, SSRF refusal. */
describe('callbacks', () => {
  let gw: TestGateway;
  let receiver: WebhookReceiver;
  let model: string;
  /** Paths whose first delivery the receiver refuses with 500. */
  const refuseFirst = new Set<string>();

  beforeAll(async () => {
    gw = await startTestGateway();
    receiver = await startWebhookReceiver((hook, _index) => {
      if (refuseFirst.has(hook.path)) {
        refuseFirst.delete(hook.path);
        return 500;
      }
      return 200;
    });
    ({ model } = await createMockModel(gw, { category: 'image', pricing: { per_image: 5 }, settings: { durationMs: 300 } }));
  });
  afterAll(async () => {
    await receiver?.stop();
    await gw?.stop();
  });

  /** Verifies one delivery with the key's secret (throws if the signature is wrong) and returns the parsed payload. */
  function verified(hook: ReceivedHook, secret: string): any {
    expect(hook.headers['content-type']).toMatch(/^application\/json/);
    expect(hook.headers['webhook-id']).toBeTruthy();
    expect(hook.headers['webhook-timestamp']).toMatch(/^\d+$/);
    expect(hook.headers['webhook-signature']).toMatch(/^v1,/);
    const payload = new Webhook(secret).verify(hook.body, hook.headers);
    expect(payload).toEqual(JSON.parse(hook.body));
    return payload;
  }

  async function expectDeliveredOnce(path: string, task: any, customer: { key: string; webhookSecret: string }, type: string): Promise<ReceivedHook> {
    const [hook] = await receiver.waitFor(1, (h) => h.path === path, 20_000);
    const payload = verified(hook!, customer.webhookSecret);
    expect(Object.keys(payload).sort()).toEqual(['data', 'timestamp', 'type']);
    expect(payload.type).toBe(type);
    expect(new Date(payload.timestamp).toISOString()).toBe(payload.timestamp);
    const current = await gw.request('GET', `/v1/tasks/${task.id}`, { key: customer.key });
    expect(current.status).toBe(200);
    expect(payload.data).toEqual(current.body);
    return hook!;
  }

  it('delivers a signed task.succeeded whose data is the task object', async () => {
    const customer = await createCustomer(gw, { credits: 100 });
    const path = `/ok-${Date.now()}`;
    const created = await gw.request('POST', '/v1/images/generations', { key: customer.key, body: { model, prompt: 'a lighthouse', callback_url: receiver.url(path) } });
    expect(created.status).toBe(200);
    const task = await waitForTask(gw, customer.key, created.body.id);
    expect(task.status).toBe('succeeded');

    const hook = await expectDeliveredOnce(path, task, customer, 'task.succeeded');
    expect(JSON.parse(hook.body).data).toMatchObject({ id: task.id, status: 'succeeded', credits: { charged: 5 } });
    expect(JSON.parse(hook.body).data.output).toHaveLength(1);

    // The signature is really checked: another secret, or a changed body, is refused.
    const other = await createCustomer(gw, { credits: 0 });
    expect(() => new Webhook(other.webhookSecret).verify(hook.body, hook.headers)).toThrow();
    expect(() => new Webhook(customer.webhookSecret).verify(hook.body.replace('"succeeded"', '"failed"'), hook.headers)).toThrow();
  });

  it('delivers a signed task.failed with the error object', async () => {
    const customer = await createCustomer(gw, { credits: 100 });
    const path = `/failed-${Date.now()}`;
    const created = await gw.request('POST', '/v1/images/generations', { key: customer.key, body: { model, prompt: 'doomed [mock:fail]', callback_url: receiver.url(path) } });
    expect(created.status).toBe(200);
    const task = await waitForTask(gw, customer.key, created.body.id);
    expect(task.status).toBe('failed');

    const hook = await expectDeliveredOnce(path, task, customer, 'task.failed');
    const data = JSON.parse(hook.body).data;
    expect(data.error).toMatchObject({ code: 'job_failed', type: 'upstream_error' });
    expect(data.credits).toEqual({ reserved: 5, charged: 0, refunded: 5 });
    expect(await accountOf(gw, customer.accountId)).toMatchObject({ balance: 100, reserved: 0 });
  });

  it('delivers task.cancelled for a task cancelled while it runs', async () => {
    const customer = await createCustomer(gw, { credits: 100 });
    const path = `/cancelled-${Date.now()}`;
    const created = await gw.request('POST', '/v1/images/generations', { key: customer.key, body: { model, prompt: 'slow [mock:duration=20000]', callback_url: receiver.url(path) } });
    expect(created.status).toBe(200);
    await waitForTask(gw, customer.key, created.body.id, { until: (t) => t.status === 'processing', timeoutMs: 15_000 });
    expect((await gw.request('POST', `/v1/tasks/${created.body.id}/cancel`, { key: customer.key })).status).toBe(200);
    const task = await waitForTask(gw, customer.key, created.body.id, { timeoutMs: 15_000 });
    expect(task.status).toBe('cancelled');
    const hook = await expectDeliveredOnce(path, task, customer, 'task.cancelled');
    expect(JSON.parse(hook.body).data.credits).toEqual({ reserved: 5, charged: 0, refunded: 5 });
  });

  it('retries a refused delivery with the same webhook-id, and the outcome of the task stays the same', async () => {
    const customer = await createCustomer(gw, { credits: 100 });
    const path = `/retry-${Date.now()}`;
    refuseFirst.add(path);
    const created = await gw.request('POST', '/v1/images/generations', { key: customer.key, body: { model, prompt: 'try again', callback_url: receiver.url(path) } });
    expect(created.status).toBe(200);
    const task = await waitForTask(gw, customer.key, created.body.id);
    expect(task.status).toBe('succeeded');

    // The retry policy's first retry comes ~10 s after the refusal.
    const hooks = await receiver.waitFor(2, (h) => h.path === path, 30_000);
    expect(hooks.map((h) => h.answeredWith)).toEqual([500, 200]);
    const [first, second] = hooks as [ReceivedHook, ReceivedHook];
    expect(second.headers['webhook-id']).toBe(first.headers['webhook-id']);
    const firstPayload = verified(first, customer.webhookSecret);
    const secondPayload = verified(second, customer.webhookSecret);
    expect(secondPayload.type).toBe('task.succeeded');
    expect(secondPayload.data).toEqual(firstPayload.data);

    // Delivered: no third attempt, and the task was charged once.
    await eventually('the delivery is recorded as delivered', async () => {
      const rows = await gw.gateway.orm.em.fork().getConnection().execute<{ delivered_at: Date | null; attempts: number }[]>(
        'select delivered_at, attempts from webhook_deliveries where task_id = ?', [task.id]);
      return rows[0]?.delivered_at ? rows[0] : undefined;
    });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(receiver.received.filter((h) => h.path === path)).toHaveLength(2);
    expect(await accountOf(gw, customer.accountId)).toMatchObject({ balance: 95, reserved: 0 });
    const after = await gw.request('GET', `/v1/tasks/${task.id}`, { key: customer.key });
    expect(after.body).toEqual(task);
  }, 45_000);

  it('refuses a callback_url on a private address that is not allowlisted, naming the field', async () => {
    const strict = await startTestGateway({ env: { OUTBOUND_ALLOWLIST: '' }, runWorker: false });
    try {
      expect(strict.config.outboundAllowlist).toEqual([]);
      const { model: strictModel } = await createMockModel(strict, { category: 'image', pricing: { per_image: 5 } });
      const customer = await createCustomer(strict, { credits: 100 });
      for (const url of [receiver.url('/private'), 'http://10.1.2.3/hook', 'http://192.168.0.10:8080/hook', 'http://169.254.169.254/latest/meta-data', 'http://[::1]:9/hook', 'http://localhost:9/hook']) {
        const answer = await strict.request('POST', '/v1/images/generations', { key: customer.key, body: { model: strictModel, prompt: 'x', callback_url: url } });
        expectApiError(answer, 400, 'invalid_request', 'invalid_request_error');
        expect(answer.body.error.message).toMatch(/\bcallback_url\b/);
      }
      expect(await accountOf(strict, customer.accountId)).toMatchObject({ balance: 100, reserved: 0 });
      expect(await taskRowCount(strict, customer.accountId)).toBe(0);
    } finally {
      await strict.stop();
    }
    expect(receiver.received.filter((h) => h.path === '/private')).toHaveLength(0);
  });
});
