import { createCustomer, createMockModel, startTestGateway, waitForTask, type TestGateway } from '../support/harness';
import { accountOf, expectApiError, sql } from '../support/checks';

/** Ending a task early: a consumer's cancel and the model's deadline both give every credit back. */
describe('cancel and deadline', () => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startTestGateway();
  });
  afterAll(async () => {
    await gw?.stop();
  });

  async function ledgerKinds(taskId: string): Promise<Record<string, number>> {
    const rows = await sql<{ kind: string; amount: string | number }>(gw, 'select kind, amount from ledger_entries where ref = ? order by id', [taskId]);
    return Object.fromEntries(rows.map((row) => [row.kind, Number(row.amount)]));
  }

  it('cancels a running task, refunds it in full, and lets no other account touch it', async () => {
    const { model } = await createMockModel(gw, { category: 'video', pricing: { per_second: 6 } });
    const owner = await createCustomer(gw, { credits: 500 });
    const stranger = await createCustomer(gw, { credits: 500 });

    const created = await gw.request('POST', '/v1/videos', { key: owner.key, body: { model, prompt: 'a long take [mock:duration=20000]', duration: 5 } });
    expect(created.status).toBe(200);
    const taskId: string = created.body.id;
    await waitForTask(gw, owner.key, taskId, { until: (task) => task.status === 'processing', timeoutMs: 15_000 });
    expect(await accountOf(gw, owner.accountId)).toMatchObject({ balance: 470, reserved: 30 });

    // Another account can neither see nor cancel it, and its attempt changes nothing.
    const strangerGet = await gw.request('GET', `/v1/tasks/${taskId}`, { key: stranger.key });
    expectApiError(strangerGet, 404, 'task_not_found', 'gateway_error');
    const strangerCancel = await gw.request('POST', `/v1/tasks/${taskId}/cancel`, { key: stranger.key });
    expectApiError(strangerCancel, 404, 'task_not_found', 'gateway_error');
    const afterStranger = await gw.request('GET', `/v1/tasks/${taskId}`, { key: owner.key });
    expect(afterStranger.body.status).toBe('processing');
    expect(await accountOf(gw, owner.accountId)).toMatchObject({ balance: 470, reserved: 30 });
    expect(await accountOf(gw, stranger.accountId)).toMatchObject({ balance: 500, reserved: 0 });

    const cancelled = await gw.request('POST', `/v1/tasks/${taskId}/cancel`, { key: owner.key });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.id).toBe(taskId);
    expect(['processing', 'cancelled']).toContain(cancelled.body.status);

    const task = await waitForTask(gw, owner.key, taskId, { timeoutMs: 20_000 });
    expect(task.status).toBe('cancelled');
    expect(task.credits).toEqual({ reserved: 30, charged: 0, refunded: 30 });
    expect(task.output).toEqual([]);
    expect(typeof task.completed_at).toBe('number');
    expect(await accountOf(gw, owner.accountId)).toMatchObject({ balance: 500, reserved: 0 });
    expect(await ledgerKinds(taskId)).toEqual({ hold: 30, release: 30 });

    // Cancelling a finished task changes nothing and answers the task as it is.
    const again = await gw.request('POST', `/v1/tasks/${taskId}/cancel`, { key: owner.key });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ id: taskId, status: 'cancelled', credits: { reserved: 30, charged: 0, refunded: 30 } });
    expect(await accountOf(gw, owner.accountId)).toMatchObject({ balance: 500, reserved: 0 });

    const usage = await gw.admin('GET', `/admin/usage?account_id=${owner.accountId}`);
    expect(usage.data).toHaveLength(1);
    expect(usage.data[0]).toMatchObject({ ref: taskId, status: 'cancelled', credits: 0 });
  });

  it('leaves a succeeded task succeeded when it is cancelled afterwards', async () => {
    const { model } = await createMockModel(gw, { category: 'image', pricing: { per_image: 4 }, settings: { durationMs: 200 } });
    const customer = await createCustomer(gw, { credits: 100 });
    const created = await gw.request('POST', '/v1/images/generations', { key: customer.key, body: { model, prompt: 'a quick sketch' } });
    const done = await waitForTask(gw, customer.key, created.body.id);
    expect(done.status).toBe('succeeded');
    const cancel = await gw.request('POST', `/v1/tasks/${created.body.id}/cancel`, { key: customer.key });
    expect(cancel.status).toBe(200);
    expect(cancel.body).toMatchObject({ status: 'succeeded', credits: { reserved: 4, charged: 4, refunded: 0 } });
    expect(await accountOf(gw, customer.accountId)).toMatchObject({ balance: 96, reserved: 0 });
  });

  it('fails a task that outlives its model deadline with deadline_exceeded and refunds it in full', async () => {
    const { model } = await createMockModel(gw, { category: 'video', pricing: { per_second: 2 }, defaultDuration: 5, deadlineSeconds: 2 });
    const customer = await createCustomer(gw, { credits: 100 });
    const created = await gw.request('POST', '/v1/videos', { key: customer.key, body: { model, prompt: 'too slow [mock:duration=20000]' } });
    expect(created.status).toBe(200);
    const taskId: string = created.body.id;

    const task = await waitForTask(gw, customer.key, taskId, { timeoutMs: 20_000 });
    expect(task.status).toBe('failed');
    expect(task.error).toMatchObject({ code: 'deadline_exceeded' });
    expect(typeof task.error.message).toBe('string');
    expect(typeof task.error.type).toBe('string');
    expect(task.credits).toEqual({ reserved: 10, charged: 0, refunded: 10 });
    expect(task.output).toEqual([]);
    expect(await accountOf(gw, customer.accountId)).toMatchObject({ balance: 100, reserved: 0 });
    expect(await ledgerKinds(taskId)).toEqual({ hold: 10, release: 10 });

    const stranger = await createCustomer(gw, { credits: 1 });
    expectApiError(await gw.request('GET', `/v1/tasks/${taskId}`, { key: stranger.key }), 404, 'task_not_found', 'gateway_error');
    // Tasks belong to the account: another key of the same account sees it.
    const sibling = await gw.admin('POST', '/admin/keys', { account_id: customer.accountId, name: 'sibling' });
    const seen = await gw.request('GET', `/v1/tasks/${taskId}`, { key: sibling.key });
    expect(seen.status).toBe(200);
    expect(seen.body).toEqual(task);
  });
});
