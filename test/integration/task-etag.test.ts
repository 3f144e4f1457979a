import { randomBytes } from 'node:crypto';
import { createCustomer, createMockModel, startTestGateway, waitForTask, type TestGateway } from '../support/harness';
import { expectApiError, sql } from '../support/checks';

/**
 * Polling with entity tags: GET /v1/tasks/{id} answers with a strong ETag of its body, and 304 with no
 * body when If-None-Match names it. Finished tasks are answered from memory; the cache never crosses
 * accounts.
 */
describe('task polling with ETag / If-None-Match', () => {
  let gw: TestGateway;
  let alice: Awaited<ReturnType<typeof createCustomer>>;
  let aliceSecond: string;
  let bob: Awaited<ReturnType<typeof createCustomer>>;
  let done: string;
  let running: string;

  beforeAll(async () => {
    gw = await startTestGateway();
    const { model } = await createMockModel(gw, { category: 'image', pricing: { per_request: 5 }, settings: { durationMs: 100 } });
    const { model: slow } = await createMockModel(gw, { category: 'video', pricing: { per_request: 7 }, settings: { durationMs: 3_600_000 } });
    alice = await createCustomer(gw, { credits: 1000 });
    aliceSecond = (await gw.admin('POST', '/admin/keys', { account_id: alice.accountId, name: 'second' })).key;
    bob = await createCustomer(gw, { credits: 1000 });
    const created = await gw.request('POST', '/v1/images/generations', { key: alice.key, body: { model, prompt: 'a fox' } });
    done = created.body.id;
    expect((await waitForTask(gw, alice.key, done)).status).toBe('succeeded');
    running = (await gw.request('POST', '/v1/videos', { key: alice.key, body: { model: slow, prompt: 'a long fox' } })).body.id;
  });
  afterAll(async () => {
    await gw?.stop();
  });

  const get = (taskId: string, key: string, ifNoneMatch?: string) =>
    gw.request('GET', `/v1/tasks/${taskId}`, { key, headers: ifNoneMatch === undefined ? {} : { 'if-none-match': ifNoneMatch } });

  it('tags a finished task and answers 304 without a body while it is unchanged', async () => {
    const first = await get(done, alice.key);
    expect(first.status).toBe(200);
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    expect(first.headers.get('content-type')).toMatch(/^application\/json/);
    expect(first.headers.get('cache-control')).toBe('private, no-cache');
    expect(first.body).toMatchObject({ id: done, status: 'succeeded' });
    expect(first.body.output[0].url).toContain('?sig=');

    // Served again (from memory): the same bytes, the same tag.
    const again = await get(done, alice.key);
    expect(again.status).toBe(200);
    expect(again.headers.get('etag')).toBe(etag);
    expect(again.body).toEqual(first.body);

    for (const header of [etag, `W/${etag}`, `"nope", ${etag}`, '*']) {
      const unchanged = await get(done, alice.key, header);
      expect(unchanged.status).toBe(304);
      expect(unchanged.body).toBeNull();
      expect(unchanged.headers.get('etag')).toBe(etag);
    }
    // The account's other key sees the same task, the same tag.
    expect((await get(done, aliceSecond, etag)).status).toBe(304);
  });

  it('answers 200 with the body for a stale, unknown or malformed If-None-Match', async () => {
    const etag = (await get(done, alice.key)).headers.get('etag')!;
    for (const header of ['"stale"', etag.slice(1, -1), `${etag}garbage`, `${etag}, not-a-tag`, 'W/', '""']) {
      const answer = await get(done, alice.key, header);
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ id: done, status: 'succeeded' });
    }
  });

  it("answers another account 404 for a cached task, whatever If-None-Match it sends", async () => {
    const etag = (await get(done, alice.key)).headers.get('etag')!;
    const nobody = `task_${randomBytes(8).toString('hex')}`;
    for (const header of [undefined, etag, '*']) {
      for (const taskId of [done, running, nobody]) {
        const theirs = await get(taskId, bob.key, header);
        expectApiError(theirs, 404, 'task_not_found', 'gateway_error');
        expect(theirs.headers.get('etag')).toBeNull();
        expect(JSON.stringify(theirs.body)).not.toContain('output');
      }
    }
    // And Alice's own answer is untouched by Bob's reads.
    expect((await get(done, alice.key, etag)).status).toBe(304);
  });

  it('tags a running task by its body: 304 while nothing changed, 200 with a new tag once it did', async () => {
    const first = await get(running, alice.key);
    expect(first.status).toBe(200);
    expect(['pending', 'queued', 'processing']).toContain(first.body.status);
    expect(first.headers.get('etag')).toMatch(/^"[A-Za-z0-9_-]+"$/);
    // Wait until the workflow has stopped moving the row (submitted; an hour-long mock job stays at 0%).
    await waitForTask(gw, alice.key, running, { until: (task) => task.status === 'processing' });
    const settled = (await get(running, alice.key)).headers.get('etag')!;
    expect((await get(running, alice.key, settled)).status).toBe(304);

    // A change in any shown field (here progress) changes the tag.
    await sql(gw, `update tasks set progress = 42 where id = ?`, [running]);
    const moved = await get(running, alice.key, settled);
    expect(moved.status).toBe(200);
    expect(moved.body.progress).toBe(42);
    expect(moved.headers.get('etag')).not.toBe(settled);

    // Cancelled: final now, a new tag again, then 304 from memory.
    const cancelled = await gw.request('POST', `/v1/tasks/${running}/cancel`, { key: alice.key });
    expect(cancelled.status).toBe(200);
    const final = await waitForTask(gw, alice.key, running);
    expect(final.status).toBe('cancelled');
    const finalAnswer = await get(running, alice.key, moved.headers.get('etag')!);
    expect(finalAnswer.status).toBe(200);
    expect(finalAnswer.body.status).toBe('cancelled');
    expect((await get(running, alice.key, finalAnswer.headers.get('etag')!)).status).toBe(304);
  });

  it('answers a cancel of a finished task with the task as it is, and its tag does not move', async () => {
    const before = await get(done, alice.key);
    const cancel = await gw.request('POST', `/v1/tasks/${done}/cancel`, { key: alice.key });
    expect(cancel.status).toBe(200);
    expect(cancel.body).toEqual(before.body);
    expect((await get(done, alice.key, before.headers.get('etag')!)).status).toBe(304);
  });
});
