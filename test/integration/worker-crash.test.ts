import { createCustomer, createMockModel, startTestGateway, waitForTask, type TestGateway } from '../support/harness';
import { accountOf, sql } from '../support/checks';
import { spawnWorker, type WorkerProcess } from '../support/worker-process';

/**
 * A worker killed with SIGKILL in the middle of provider jobs: a new worker picks the tasks up, and each
 * task ends succeeded exactly once with exactly one charge.
 */
describe('worker crash', () => {
  let gw: TestGateway;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    gw = await startTestGateway({ runWorker: false });
  });
  afterAll(async () => {
    for (const worker of workers) await worker.kill();
    await gw?.stop();
  });

  it('finishes every task once, charging once, after the worker is killed mid-job', async () => {
    expect(gw.gateway.worker).toBeNull();
    const first = spawnWorker(gw);
    workers.push(first);

    const { model } = await createMockModel(gw, { category: 'video', pricing: { per_second: 3 } });
    const START = 1000;
    const customer = await createCustomer(gw, { credits: START });
    const durations = [2, 3, 4, 5];
    // The POST waits for the reservation, which the child worker runs once it is up.
    const created = await Promise.all(
      durations.map((duration, i) =>
        gw.request('POST', '/v1/videos', { key: customer.key, body: { model, prompt: `crash ${i} [mock:duration=6000]`, duration } }),
      ),
    );
    for (const answer of created) expect(answer.status).toBe(200);
    const ids = created.map((answer) => answer.body.id as string);
    const prices = durations.map((d) => d * 3);
    const total = prices.reduce((a, b) => a + b, 0);

    const jobIds = new Map<string, string>();
    for (const id of ids) {
      // Progress above 0 is written by waitForProvider: the submission is done and recorded.
      const task = await waitForTask(gw, customer.key, id, { until: (t) => t.status === 'processing' && t.progress > 0, timeoutMs: 60_000 })
        .catch((error: Error) => {
          throw new Error(`${error.message}\nworker output:\n${first.output()}`);
        });
      expect(task.status).toBe('processing');
      const row = await gw.admin('GET', `/admin/tasks/${id}`);
      expect(row.provider_job_id).toBeTruthy();
      jobIds.set(id, row.provider_job_id);
    }
    expect(await accountOf(gw, customer.accountId)).toMatchObject({ balance: START - total, reserved: total });

    await first.kill();
    // Nothing moves the tasks on while no worker runs.
    for (const id of ids) {
      const during = await gw.request('GET', `/v1/tasks/${id}`, { key: customer.key });
      expect(during.body.status).toBe('processing');
    }

    const second = spawnWorker(gw);
    workers.push(second);
    const finished = [];
    for (const id of ids) {
      finished.push(
        await waitForTask(gw, customer.key, id, { timeoutMs: 90_000 }).catch((error: Error) => {
          throw new Error(`${error.message}\nworker output:\n${second.output()}`);
        }),
      );
    }

    finished.forEach((task, i) => {
      expect(task).toMatchObject({ status: 'succeeded', progress: 100, error: null, credits: { reserved: prices[i], charged: prices[i], refunded: 0 } });
      expect(task.output).toHaveLength(1);
    });
    expect(await accountOf(gw, customer.accountId)).toMatchObject({ balance: START - total, reserved: 0 });

    // The new worker carried on waiting for the same provider jobs rather than paying for new ones.
    for (const id of ids) {
      const row = await gw.admin('GET', `/admin/tasks/${id}`);
      expect(row.provider_job_id).toBe(jobIds.get(id));
      expect(row.attempts.filter((a: { outcome: string }) => a.outcome === 'submitted')).toHaveLength(1);
    }

    const ledger = await sql<{ ref: string; kind: string; n: string | number; amount: string | number }>(
      gw,
      `select ref, kind, count(*) as n, sum(amount) as amount from ledger_entries where account_id = ? and kind <> 'topup' group by ref, kind`,
      [customer.accountId],
    );
    for (const [i, id] of ids.entries()) {
      const rows = ledger.filter((row) => row.ref === id).map((row) => ({ kind: row.kind, n: Number(row.n), amount: Number(row.amount) }));
      expect(rows.sort((a, b) => a.kind.localeCompare(b.kind))).toEqual([
        { kind: 'capture', n: 1, amount: prices[i] },
        { kind: 'hold', n: 1, amount: prices[i] },
      ]);
    }
    const holds = await sql<{ id: string; status: string; captured: string | number }>(gw, 'select id, status, captured from holds where account_id = ?', [customer.accountId]);
    expect(holds).toHaveLength(ids.length);
    for (const hold of holds) expect(hold.status).toBe('captured');

    const usage = await gw.admin('GET', `/admin/usage?account_id=${customer.accountId}`);
    expect(usage.data).toHaveLength(ids.length);
    expect(usage.data.map((row: { ref: string }) => row.ref).sort()).toEqual([...ids].sort());
    for (const row of usage.data) {
      expect(row.status).toBe('succeeded');
      expect(row.credits).toBe(prices[ids.indexOf(row.ref)]);
    }

    // One stored asset per task, and it downloads.
    const assets = await sql<{ task_id: string; n: string | number }>(gw, 'select task_id, count(*) as n from assets where account_id = ? group by task_id', [customer.accountId]);
    expect(assets.map((row) => [row.task_id, Number(row.n)]).sort()).toEqual(ids.map((id) => [id, 1]).sort());
    const download = await fetch(finished[0].output[0].url);
    expect(download.status).toBe(200);
    expect((await download.arrayBuffer()).byteLength).toBe(finished[0].output[0].bytes);
  }, 180_000);
});
