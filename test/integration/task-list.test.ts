import { createCustomer, createMockModel, startTestGateway, waitForTask, type TestGateway } from '../support/harness';

/** GET /v1/tasks paging and the long poll of GET /v1/tasks/{id}?wait=. */
describe('task listing and long polling', () => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startTestGateway();
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('pages newest first with a stable cursor while new tasks arrive, and filters', async () => {
    const { model } = await createMockModel(gw, { category: 'image', pricing: { per_image: 1 }, settings: { durationMs: 0 } });
    const customer = await createCustomer(gw, { credits: 100 });
    const other = await createCustomer(gw, { credits: 100 });
    const create = async (key: string, prompt: string) =>
      (await gw.request('POST', '/v1/images/generations', { key, body: { model, prompt } })).body.id as string;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await create(customer.key, `p${i}`));
    await create(other.key, 'not mine');

    const first = await gw.request('GET', '/v1/tasks?limit=2', { key: customer.key });
    expect(first.status).toBe(200);
    expect(first.body.object).toBe('list');
    expect(first.body.data.map((t: { id: string }) => t.id)).toEqual([ids[4], ids[3]]);
    expect(first.body.has_more).toBe(true);

    // Tasks created between pages do not shift the next page.
    await create(customer.key, 'newer');
    const second = await gw.request('GET', `/v1/tasks?limit=2&after=${first.body.last_id}`, { key: customer.key });
    expect(second.body.data.map((t: { id: string }) => t.id)).toEqual([ids[2], ids[1]]);
    const third = await gw.request('GET', `/v1/tasks?limit=2&after=${second.body.last_id}`, { key: customer.key });
    expect(third.body.data.map((t: { id: string }) => t.id)).toEqual([ids[0]]);
    expect(third.body.has_more).toBe(false);

    for (const id of ids) await waitForTask(gw, customer.key, id);
    const failed = await create(customer.key, 'x [mock:fail]');
    await waitForTask(gw, customer.key, failed);
    const onlyFailed = await gw.request('GET', '/v1/tasks?status=failed', { key: customer.key });
    expect(onlyFailed.body.data.map((t: { id: string }) => t.id)).toEqual([failed]);
    const byKind = await gw.request('GET', '/v1/tasks?kind=video', { key: customer.key });
    expect(byKind.body.data).toEqual([]);
    const foreignCursor = await gw.request('GET', `/v1/tasks?after=${ids[0]}`, { key: other.key });
    expect(foreignCursor.status).toBe(400);
  });

  it('long poll answers on a status change, and after its wait when nothing changes', async () => {
    const { model } = await createMockModel(gw, { category: 'video', pricing: { per_second: 1 }, defaultDuration: 1 });
    const customer = await createCustomer(gw, { credits: 100 });
    const slow = await gw.request('POST', '/v1/videos', { key: customer.key, body: { model, prompt: 'slow [mock:duration=60000]' } });
    const running = await waitForTask(gw, customer.key, slow.body.id, { until: (t) => t.status === 'processing' });
    expect(running.status).toBe('processing');

    const started = Date.now();
    const unchanged = await gw.request('GET', `/v1/tasks/${slow.body.id}?wait=2`, { key: customer.key });
    expect(unchanged.status).toBe(200);
    expect(unchanged.body.status).toBe('processing');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);

    const waitStarted = Date.now();
    const waiting = gw.request('GET', `/v1/tasks/${slow.body.id}?wait=30`, { key: customer.key });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await gw.request('POST', `/v1/tasks/${slow.body.id}/cancel`, { key: customer.key });
    const changed = await waiting;
    expect(changed.body.status).toBe('cancelled');
    // It answered because the status changed, not because its 30 s ran out.
    expect(Date.now() - waitStarted).toBeLessThan(25_000);

    const badWait = await gw.request('GET', `/v1/tasks/${slow.body.id}?wait=600`, { key: customer.key });
    expect(badWait.status).toBe(400);
  });
});
