import { expectApiError, eventually, sql } from '../support/checks';
import { createCustomer, createMockModel, startTestGateway, waitForTask, type TestGateway } from '../support/harness';
import { checkLedgerInvariants } from '../chaos/support/chaos';
import { execFile } from 'node:child_process';
import path from 'node:path';

/** `npm run admin -- ...args` pointed at the test gateway; resolves with its stdout. */
function adminCli(gw: TestGateway, args: string[]): Promise<string> {
  const root = path.resolve(__dirname, '../..');
  return new Promise((resolve, reject) => {
    execFile(path.join(root, 'node_modules/.bin/tsx'), ['scripts/cli.ts', ...args], { cwd: root, env: { ...process.env, GATEWAY_URL: gw.url, ADMIN_TOKEN: gw.adminToken }, timeout: 60_000 },
      (error, stdout, stderr) => (error ? reject(new Error(`${error.message}: ${stderr}`)) : resolve(stdout)));
  });
}

/**
 * POST /admin/tasks/repair: a task whose workflow an operator terminated keeps its hold open (the
 * workflow never ran its refund). The repair finds it, gives every credit back and fails the task;
 * it leaves running tasks alone, can be dry-run, and is idempotent.
 */
describe('task repair', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway();
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('refunds and fails a task whose workflow was terminated by hand, and nothing else', async () => {
    const { model } = await createMockModel(gw, { category: 'video', pricing: { per_second: 10 }, settings: { durationMs: 120_000 } });
    const customer = await createCustomer(gw, { credits: 1000 });
    const post = (prompt: string) => gw.request('POST', '/v1/videos', { key: customer.key, body: { model, prompt, duration: 5 } });
    const [doomed, alive] = [await post('terminated by hand'), await post('keeps running')];
    expect([doomed.status, alive.status]).toEqual([200, 200]);
    for (const id of [doomed.body.id, alive.body.id]) await waitForTask(gw, customer.key, id, { until: (task) => task.status === 'processing' });

    await gw.gateway.temporal.workflow.getHandle(doomed.body.id).terminate('operator cleanup');
    expect(await gw.admin('GET', `/admin/accounts/${customer.accountId}`)).toMatchObject({ balance: 900, reserved: 100 });

    // Too young by default (a minute): nothing to do yet.
    expect(await gw.admin('POST', '/admin/tasks/repair', {})).toEqual({ object: 'list', data: [], dry_run: false });

    const dry = await gw.admin('POST', '/admin/tasks/repair', { dry_run: true, min_age_seconds: 0 });
    // The operators' CLI says the same: `npm run admin -- tasks repair --dry-run`.
    expect(JSON.parse(await adminCli(gw, ['tasks', 'repair', '--dry-run', '--min-age', '0', '--json']))).toEqual(dry);
    expect(dry).toEqual({ object: 'list', dry_run: true, data: [{ task_id: doomed.body.id, workflow_status: 'TERMINATED', action: 'would_refund', refunded: 50 }] });
    expect(await gw.admin('GET', `/admin/accounts/${customer.accountId}`)).toMatchObject({ balance: 900, reserved: 100 });

    const repaired = await gw.admin('POST', '/admin/tasks/repair', { min_age_seconds: 0 });
    expect(repaired.data).toEqual([{ task_id: doomed.body.id, workflow_status: 'TERMINATED', action: 'refunded', refunded: 50 }]);
    expect(await gw.admin('GET', `/admin/accounts/${customer.accountId}`)).toMatchObject({ balance: 950, reserved: 50 });
    const task = (await gw.request('GET', `/v1/tasks/${doomed.body.id}`, { key: customer.key })).body;
    expect(task).toMatchObject({ status: 'failed', credits: { reserved: 50, charged: 0, refunded: 50 }, error: { code: 'workflow_ended' } });
    expect((await gw.request('GET', `/v1/tasks/${alive.body.id}`, { key: customer.key })).body.status).toBe('processing');

    // Idempotent: a second run finds nothing, and the ledger balances with the running task's hold open.
    expect((await gw.admin('POST', '/admin/tasks/repair', { min_age_seconds: 0 })).data).toEqual([]);
    await checkLedgerInvariants((text, params) => sql(gw, text, params), [customer.accountId]);

    // The running one finishes normally once cancelled, untouched by the repair.
    await gw.request('POST', `/v1/tasks/${alive.body.id}/cancel`, { key: customer.key });
    await eventually('the live task cancelled', async () => (await gw.request('GET', `/v1/tasks/${alive.body.id}`, { key: customer.key })).body.status === 'cancelled', 60_000);
    expect(await gw.admin('GET', `/admin/accounts/${customer.accountId}`)).toMatchObject({ balance: 1000, reserved: 0 });
  });

  it('can be aimed at one task, and refuses a malformed request without changing anything', async () => {
    expect(await gw.admin('POST', '/admin/tasks/repair', { task_id: 'task_doesnotexist', min_age_seconds: 0 })).toEqual({ object: 'list', data: [], dry_run: false });
    expectApiError(await gw.request('POST', '/admin/tasks/repair', { admin: true, body: { task_id: '../etc' } }), 400, 'invalid_request');
    expectApiError(await gw.request('POST', '/admin/tasks/repair', { admin: true, body: { dry_run: 'yes' } }), 400, 'invalid_request');
    expectApiError(await gw.request('POST', '/admin/tasks/repair', { admin: true, body: { everything: true } }), 400, 'invalid_request');
    expectApiError(await gw.request('POST', '/admin/tasks/repair', { body: {} }), 401, 'invalid_admin_token');
  });
});
