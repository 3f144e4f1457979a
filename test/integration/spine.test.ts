import { createCustomer, createMockModel, startTestGateway, waitForTask, type TestGateway } from '../support/harness';

/** The whole life of a media task through the public API, on real PostgreSQL and Temporal. */
describe('media task spine', () => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startTestGateway();
  });
  afterAll(async () => {
    await gw?.stop();
  });

  async function balanceOf(accountId: string): Promise<{ balance: number; reserved: number }> {
    return gw.admin('GET', `/admin/accounts/${accountId}`);
  }

  it('creates a video task that succeeds with a durable asset and charges exactly the price', async () => {
    const { model } = await createMockModel(gw, { category: 'video', pricing: { per_second: 7 }, settings: { durationMs: 600 } });
    const customer = await createCustomer(gw, { credits: 1000 });

    const created = await gw.request('POST', '/v1/videos', { key: customer.key, body: { model, prompt: 'a red fox', duration: 4 } });
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({ object: 'gateway.video.task', status: 'pending' });
    expect(created.body.id).toMatch(/^task_/);
    expect(created.body.task_id).toBe(created.body.id);

    const task = await waitForTask(gw, customer.key, created.body.id);
    expect(task).toMatchObject({ status: 'succeeded', progress: 100, model, error: null, credits: { reserved: 28, charged: 28, refunded: 0 } });
    expect(typeof task.completed_at).toBe('number');
    expect(task.output).toHaveLength(1);
    expect(task.output[0].content_type).toBe('video/mp4');

    // The link works without any key and serves the bytes we stored.
    const download = await fetch(task.output[0].url);
    expect(download.status).toBe(200);
    const bytes = Buffer.from(await download.arrayBuffer());
    expect(bytes.length).toBe(task.output[0].bytes);
    expect(bytes.subarray(4, 8).toString('ascii')).toBe('ftyp');

    // A tampered signature is refused.
    // (Its first character changed to another one: replacing it with a fixed 'X' left 1 signature in 64 as it was.)
    const tampered = await fetch(task.output[0].url.replace(/sig=(.)/, (_: string, first: string) => `sig=${first === 'X' ? 'Y' : 'X'}`));
    expect(tampered.status).toBe(404);

    expect(await balanceOf(customer.accountId)).toMatchObject({ balance: 1000 - 28, reserved: 0 });
  });

  it('answers 402 and creates nothing when the wallet cannot cover the price', async () => {
    const { model } = await createMockModel(gw, { category: 'image', pricing: { per_image: 50 } });
    const customer = await createCustomer(gw, { credits: 99 });
    const response = await gw.request('POST', '/v1/images/generations', { key: customer.key, body: { model, prompt: 'x', n: 2 } });
    expect(response.status).toBe(402);
    expect(response.body).toEqual({ error: { message: 'Insufficient credits', type: 'gateway_error', code: 'insufficient_credits' } });
    expect(await balanceOf(customer.accountId)).toMatchObject({ balance: 99, reserved: 0 });
    const usage = await gw.admin('GET', `/admin/usage?account_id=${customer.accountId}`);
    expect(usage.data).toHaveLength(0);
  });

  it('ends a failed mock job failed with the error object and gives every credit back', async () => {
    const { model } = await createMockModel(gw, { category: 'music', pricing: { per_second: 3 }, defaultDuration: 10, settings: { durationMs: 400 } });
    const customer = await createCustomer(gw, { credits: 500 });
    const created = await gw.request('POST', '/v1/music/generations', { key: customer.key, body: { model, prompt: 'lofi [mock:fail]' } });
    expect(created.status).toBe(200);
    expect(created.body.object).toBe('gateway.music.task');
    const task = await waitForTask(gw, customer.key, created.body.id);
    expect(task.status).toBe('failed');
    expect(task.error).toMatchObject({ type: 'upstream_error', code: 'job_failed' });
    expect(typeof task.error.message).toBe('string');
    expect(task.credits).toEqual({ reserved: 30, charged: 0, refunded: 30 });
    expect(task.output).toEqual([]);
    expect(await balanceOf(customer.accountId)).toMatchObject({ balance: 500, reserved: 0 });
  });

  it('gives one task and one charge for the same Idempotency-Key, and refuses it with another body', async () => {
    const { model } = await createMockModel(gw, { category: 'image', pricing: { per_image: 10 } });
    const customer = await createCustomer(gw, { credits: 100 });
    const body = { model, prompt: 'same request' };
    const headers = { 'idempotency-key': 'retry-me-1' };
    const [first, second] = await Promise.all([
      gw.request('POST', '/v1/images/generations', { key: customer.key, body, headers }),
      gw.request('POST', '/v1/images/generations', { key: customer.key, body, headers }),
    ]);
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(second.body.id).toBe(first.body.id);
    await waitForTask(gw, customer.key, first.body.id);
    const third = await gw.request('POST', '/v1/images/generations', { key: customer.key, body, headers });
    // The replay is the first answer again (as Stripe's), not the task's later state.
    expect(third.body).toEqual(first.body);
    expect(third.body.status).toBe('pending');
    expect(await balanceOf(customer.accountId)).toMatchObject({ balance: 90, reserved: 0 });

    const other = await gw.request('POST', '/v1/images/generations', { key: customer.key, body: { ...body, prompt: 'another' }, headers });
    expect(other.status).toBe(409);
    expect(other.body.error.code).toBe('idempotency_key_reused');
  });

  it('admits exactly as many tasks as the wallet covers under 40 parallel POSTs', async () => {
    const { model } = await createMockModel(gw, { category: 'image', pricing: { per_image: 10 }, settings: { durationMs: 3000 } });
    const customer = await createCustomer(gw, { credits: 100 });
    const responses = await Promise.all(
      Array.from({ length: 40 }, (_, i) => gw.request('POST', '/v1/images/generations', { key: customer.key, body: { model, prompt: `p${i}` } })),
    );
    const admitted = responses.filter((r) => r.status === 200);
    const refused = responses.filter((r) => r.status === 402);
    expect(admitted).toHaveLength(10);
    expect(refused).toHaveLength(30);
    for (const r of refused) expect(r.body.error.code).toBe('insufficient_credits');
    const afterAdmission = await balanceOf(customer.accountId);
    expect(afterAdmission.balance).toBe(0);
    // Some tasks may already have settled on a busy machine: whatever is not held has been captured.
    const captured = await gw.gateway.orm.em.fork().getConnection().execute(
      `select coalesce(sum(amount), 0)::int as n from ledger_entries where account_id = ? and kind = 'capture'`,
      [customer.accountId],
    );
    expect(afterAdmission.reserved + captured[0].n).toBe(100);
    for (const r of admitted) await waitForTask(gw, customer.key, r.body.id);
    expect(await balanceOf(customer.accountId)).toMatchObject({ balance: 0, reserved: 0 });
  });
});
