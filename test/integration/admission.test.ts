import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { taskIdForIdempotencyKey } from '../../src/ids';
import { sweepUnstartedTasks, type SweepOutcome } from '../../src/modules/tasks/unstarted-tasks';
import { checkLedgerInvariants } from '../chaos/support/chaos';
import { accountOf, sql } from '../support/checks';
import { createCustomer, createMockModel, startTestGateway, waitForTask, type TestGateway } from '../support/harness';

/**
 * Admission without waiting on a worker: the API reserves (task row and hold in one transaction), answers,
 * and starts the workflow; a reservation whose workflow never started (its API died between the commit and
 * the start, simulated here by a start that fails) is started by a retried POST or by the sweeper, once,
 * or refunded once if it can't start any more.
 */
describe('admission by the API', () => {
  let gw: TestGateway;
  let temporal: Client;
  beforeAll(async () => {
    gw = await startTestGateway();
    temporal = gw.gateway.temporal;
  });
  afterAll(async () => {
    await gw?.stop();
  });

  /** Runs `fn` while every workflow start of the gateway fails, as if its API died right after the commit. */
  async function withStartsFailing<T>(fn: () => Promise<T>): Promise<T> {
    const workflows = temporal.workflow as unknown as { start: unknown };
    workflows.start = async () => {
      throw new Error('simulated: the API died between the commit and the start');
    };
    try {
      return await fn();
    } finally {
      delete workflows.start;
    }
  }

  async function workflowRunOf(taskId: string): Promise<string | null> {
    try {
      return (await temporal.workflow.getHandle(taskId).describe()).runId;
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return null;
      throw error;
    }
  }

  async function pendingStartOf(taskId: string): Promise<unknown> {
    return (await sql<{ pending_start: unknown }>(gw, 'select pending_start from tasks where id = ?', [taskId]))[0]?.pending_start;
  }

  /** Two sweeps at once, as two API replicas would run them, until one of them got the lock. */
  async function sweepTwiceAtOnce(): Promise<SweepOutcome[]> {
    for (;;) {
      const outcomes = await Promise.all([0, 1].map(() => sweepUnstartedTasks(gw.gateway, { olderThanMs: 0 })));
      if (outcomes.some((o) => o.swept)) return outcomes;
      // Another gateway of the test run held the lock for its own pass: try again.
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  it('answers 402 with nothing behind it: no task row, no workflow', async () => {
    const { model } = await createMockModel(gw, { category: 'image', pricing: { per_image: 50 } });
    const customer = await createCustomer(gw, { credits: 49 });
    const response = await gw.request('POST', '/v1/images/generations', { key: customer.key, body: { model, prompt: 'too dear' }, headers: { 'idempotency-key': 'broke-1' } });
    expect(response.status).toBe(402);
    expect(response.body.error.code).toBe('insufficient_credits');
    const taskId = taskIdForIdempotencyKey(customer.accountId, 'broke-1');
    expect(await sql(gw, 'select id from tasks where id = ?', [taskId])).toEqual([]);
    expect(await workflowRunOf(taskId)).toBeNull();
    expect(await accountOf(gw, customer.accountId)).toMatchObject({ balance: 49, reserved: 0 });
  });

  it('starts the workflow of a task whose first POST died after the commit when the POST is retried: same task, one run, one charge', async () => {
    const { model } = await createMockModel(gw, { category: 'image', pricing: { per_image: 10 } });
    const customer = await createCustomer(gw, { credits: 100 });
    const body = { model, prompt: 'retried after a crash' };
    const headers = { 'idempotency-key': 'crash-then-retry' };
    const first = await withStartsFailing(() => gw.request('POST', '/v1/images/generations', { key: customer.key, body, headers }));
    // The reservation is durable, so the task is the answer even though its workflow did not start.
    expect(first.status).toBe(200);
    const taskId = first.body.id;
    expect(taskId).toBe(taskIdForIdempotencyKey(customer.accountId, 'crash-then-retry'));
    expect(await workflowRunOf(taskId)).toBeNull();
    expect(await pendingStartOf(taskId)).toMatchObject({ taskQueue: gw.taskQueue });
    expect(await accountOf(gw, customer.accountId)).toMatchObject({ balance: 90, reserved: 10 });

    const [retry, twin] = await Promise.all([0, 1].map(() => gw.request('POST', '/v1/images/generations', { key: customer.key, body, headers })));
    expect(retry!.body).toEqual(first.body);
    expect(twin!.body).toEqual(first.body);
    expect(await pendingStartOf(taskId)).toBeNull();
    const run = await workflowRunOf(taskId);
    expect(run).not.toBeNull();
    // The sweeper finds nothing left to start.
    const swept = await sweepTwiceAtOnce();
    expect(swept.reduce((n, o) => n + o.started + o.refunded, 0)).toBe(0);

    const task = await waitForTask(gw, customer.key, taskId);
    expect(task).toMatchObject({ status: 'succeeded', credits: { reserved: 10, charged: 10, refunded: 0 } });
    expect(await workflowRunOf(taskId)).toBe(run);
    expect(await accountOf(gw, customer.accountId)).toMatchObject({ balance: 90, reserved: 0 });
    await checkLedgerInvariants((text, params) => sql(gw, text, params), [customer.accountId]);
  });

  it('sweeper: starts a reserved task with no workflow exactly once, whichever replica sweeps, and a later pass changes nothing', async () => {
    const { model } = await createMockModel(gw, { category: 'image', pricing: { per_image: 7 } });
    const customer = await createCustomer(gw, { credits: 100 });
    const created = await withStartsFailing(() => gw.request('POST', '/v1/images/generations', { key: customer.key, body: { model, prompt: 'left unstarted' } }));
    expect(created.status).toBe(200);
    const taskId = created.body.id;
    expect(await workflowRunOf(taskId)).toBeNull();

    const outcomes = await sweepTwiceAtOnce();
    expect(outcomes.reduce((n, o) => n + o.started, 0)).toBe(1);
    expect(outcomes.reduce((n, o) => n + o.refunded, 0)).toBe(0);
    const run = await workflowRunOf(taskId);
    expect(run).not.toBeNull();
    expect(await pendingStartOf(taskId)).toBeNull();

    const again = await sweepTwiceAtOnce();
    expect(again.reduce((n, o) => n + o.started + o.existed + o.refunded, 0)).toBe(0);
    const task = await waitForTask(gw, customer.key, taskId);
    expect(task).toMatchObject({ status: 'succeeded', credits: { reserved: 7, charged: 7, refunded: 0 } });
    expect(await workflowRunOf(taskId)).toBe(run);
    expect(await accountOf(gw, customer.accountId)).toMatchObject({ balance: 93, reserved: 0 });
    await checkLedgerInvariants((text, params) => sql(gw, text, params), [customer.accountId]);
  });

  it('sweeper: refunds a reserved task that can no longer start (model gone, or deadline passed) exactly once, and starts nothing', async () => {
    const { model } = await createMockModel(gw, { category: 'image', pricing: { per_image: 6 } });
    const customer = await createCustomer(gw, { credits: 100 });
    const post = (prompt: string) => withStartsFailing(() => gw.request('POST', '/v1/images/generations', { key: customer.key, body: { model, prompt } }));
    const gone = (await post('its model is removed')).body.id;
    const late = (await post('its deadline passes')).body.id;
    expect(await accountOf(gw, customer.accountId)).toMatchObject({ balance: 88, reserved: 12 });
    await sql(gw, `update tasks set model = 'model-removed-meanwhile' where id = ?`, [gone]);
    await sql(gw, `update tasks set created_at = now() - interval '2 hours', pending_start = jsonb_set(pending_start, '{deadlineSeconds}', '60') where id = ?`, [late]);

    const outcomes = [...(await sweepTwiceAtOnce()), ...(await sweepTwiceAtOnce())];
    expect(outcomes.reduce((n, o) => n + o.refunded, 0)).toBe(2);
    expect(outcomes.reduce((n, o) => n + o.started, 0)).toBe(0);
    for (const taskId of [gone, late]) {
      expect(await workflowRunOf(taskId)).toBeNull();
      expect(await pendingStartOf(taskId)).toBeNull();
    }
    const rows = await sql<{ id: string; status: string; error: { code: string }; credits_refunded: string }>(gw, 'select id, status, error, credits_refunded from tasks where id in (?, ?)', [gone, late]);
    const byId = new Map(rows.map((row) => [row.id, row]));
    expect(byId.get(gone)).toMatchObject({ status: 'failed', error: { code: 'model_not_found' }, credits_refunded: '6' });
    expect(byId.get(late)).toMatchObject({ status: 'failed', error: { code: 'not_started' }, credits_refunded: '6' });
    const releases = await sql<{ n: number }>(gw, `select count(*)::int as n from ledger_entries where account_id = ? and kind = 'release'`, [customer.accountId]);
    expect(releases[0]!.n).toBe(2);
    expect(await accountOf(gw, customer.accountId)).toMatchObject({ balance: 100, reserved: 0 });
    await checkLedgerInvariants((text, params) => sql(gw, text, params), [customer.accountId]);
  });
});
