import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { Connection, Client } from '@temporalio/client';
import { existsSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { createS3Client } from '../../src/storage/s3-asset-store';
import { ASSET_BUCKET } from '../../scripts/stack/topology';
import { checkLedgerInvariants, mapLimit, sleep, until } from '../chaos/support/chaos';
import { postUntilAnswered, waitAllFinal, waitProcessing } from '../chaos/support/tasks';
import { createCustomer, createMockModel } from '../support/harness';
import { answeredBy, livingApiProcesses, startTestStack, type TestStack } from './support';

const PRICE = 5;

/**
 * The production topology (scripts/stack): PostgreSQL, the Temporal server on it, versitygw, an API
 * cluster of 2 processes and 2 workers, all separate processes. Tasks spread across the workers, an
 * asset written by a worker is served by every API process, and a rolling restart of every process,
 * a Temporal server restart and a PostgreSQL restart lose nothing and charge nothing twice.
 */
describe('stack: the production topology', () => {
  let t: TestStack;
  let temporal: Client;
  let connection: Connection;

  beforeAll(async () => {
    t = await startTestStack();
    connection = await Connection.connect({ address: t.stack.temporalAddress });
    temporal = new Client({ connection });
  }, 600_000);
  afterAll(async () => {
    await connection?.close();
    await t?.dispose();
  }, 300_000);

  async function submit(model: string, key: string, count: number, prefix: string): Promise<string[]> {
    const created = await mapLimit(Array.from({ length: count }, (_, i) => i), 8, (i) =>
      postUntilAnswered(`${t.stack.url}/v1/images/generations`, key, { model, prompt: `${prefix} ${i}` }, `${prefix}-${i}`));
    return created.map(({ answer }) => {
      if ('error' in answer || answer.status !== 200) throw new Error(`POST refused: ${JSON.stringify(answer)}`);
      return answer.body.id as string;
    });
  }

  /** Every task succeeded, charged exactly once its price, and the ledger balances. */
  async function expectAllChargedOnce(accountId: string, taskIds: string[], timeoutMs: number): Promise<void> {
    const statuses = await waitAllFinal(t.query, accountId, taskIds.length, timeoutMs);
    expect(statuses).toEqual({ succeeded: taskIds.length });
    const rows = await t.query<{ id: string; credits_charged: string }>('select id, credits_charged from tasks where account_id = ? order by id', [accountId]);
    expect(rows.map((row) => row.id)).toEqual([...taskIds].sort());
    for (const row of rows) expect({ id: row.id, charged: Number(row.credits_charged) }).toEqual({ id: row.id, charged: PRICE });
    await checkLedgerInvariants(t.query, [accountId]);
  }

  it('spreads tasks across both workers', async () => {
    const { model } = await createMockModel(t, { category: 'image', pricing: { per_image: PRICE }, settings: { durationMs: 1500 } });
    const customer = await createCustomer(t, { credits: 10_000 });
    const ids = await submit(model, customer.key, 16, 'spread');
    await expectAllChargedOnce(customer.accountId, ids, 180_000);

    const identities = new Set<string>();
    for (const id of ids) {
      const history = await temporal.workflow.getHandle(id).fetchHistory();
      for (const event of history.events ?? []) {
        const identity = event.activityTaskStartedEventAttributes?.identity;
        if (identity) identities.add(identity);
      }
    }
    // Activity identities are `pid@host` of the worker that ran them: every worker took a share.
    const workerPids = t.stack.workers.map((worker) => String(worker.pid));
    const pidsSeen = [...identities].map((identity) => identity.split('@')[0]!);
    expect(new Set(pidsSeen)).toEqual(new Set(workerPids));
  }, 300_000);

  it('serves an asset a worker wrote to the bucket from every API process', async () => {
    const { model } = await createMockModel(t, { category: 'image', pricing: { per_image: PRICE }, settings: { durationMs: 300 } });
    const customer = await createCustomer(t, { credits: 1000 });
    const [taskId] = await submit(model, customer.key, 1, 'asset');
    await waitAllFinal(t.query, customer.accountId, 1, 60_000);
    const task: any = await (await fetch(`${t.stack.url}/v1/tasks/${taskId}`, { headers: { authorization: `Bearer ${customer.key}` } })).json();
    const link: string = task.output[0].url;
    const assetPath = new URL(link).pathname;

    // In the bucket, and not on any process's disk.
    const s3 = createS3Client({
      endpoint: t.stack.s3.endpoint, bucket: ASSET_BUCKET, region: t.stack.s3.region, forcePathStyle: true, prefix: '',
      credentials: { accessKeyId: t.stack.s3.accessKeyId, secretAccessKey: t.stack.s3.secretAccessKey },
    });
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: ASSET_BUCKET, Prefix: `tasks/${taskId}/` }));
    s3.destroy();
    expect(listed.Contents?.map((object) => object.Size)).toEqual([task.output[0].bytes]);
    expect(existsSync(path.join(t.stack.gatewayEnv.DATA_DIR!, 'assets'))).toBe(false);

    // A new connection each time: the cluster hands connections round-robin to its processes.
    for (let i = 0; i < 6; i++) {
      const { status, bytes } = await getOnNewConnection(link);
      expect({ status, bytes }).toEqual({ status: 200, bytes: task.output[0].bytes });
    }
    await sleep(500); // the request log line is written as the answer ends
    expect(new Set(await answeredBy(t.stack, assetPath))).toEqual(new Set(['api-1', 'api-2']));
  }, 180_000);

  it('loses no task, drops no accepted POST and charges nothing twice through a rolling restart of every process', async () => {
    const { model } = await createMockModel(t, { category: 'image', pricing: { per_image: PRICE }, settings: { durationMs: 1000 } });
    const customer = await createCustomer(t, { credits: 1_000_000 });
    let running = true;
    const accepted: string[] = [];
    let sent = 0;
    // Steady load: a POST every 250 ms, each retried with its Idempotency-Key as a careful client does.
    const load = (async () => {
      const inFlight = new Set<Promise<void>>();
      while (running) {
        const i = sent++;
        const post = postUntilAnswered(`${t.stack.url}/v1/images/generations`, customer.key, { model, prompt: `rolling ${i}` }, `rolling-${i}`, { tries: 60, pauseMs: 500 })
          .then(({ answer }) => {
            if ('status' in answer && answer.status === 200) accepted.push(answer.body.id);
            else throw new Error(`POST rolling-${i} never accepted: ${JSON.stringify(answer)}`);
          });
        const tracked = post.finally(() => inFlight.delete(tracked));
        inFlight.add(tracked);
        await sleep(250);
      }
      await Promise.all(inFlight);
    })();

    let before: { pid: number; name: string }[] = [];
    try {
      await until('some tasks accepted', async () => accepted.length >= 5, 60_000, 100);
      before = await livingApiProcesses(t.stack);
      expect(before).toHaveLength(2);
      for (const old of before) {
        process.kill(old.pid, 'SIGTERM');
        await until(`API process ${old.pid} replaced`, async () => {
          const now = await livingApiProcesses(t.stack);
          return now.length === 2 && !now.some((p) => p.pid === old.pid);
        }, 180_000, 200);
      }
      for (const worker of t.stack.workers) await worker.restart();
      await sleep(2000);
    } finally {
      running = false;
      await load;
    }

    const after = await livingApiProcesses(t.stack);
    expect(after.filter((p) => before.some((b) => b.pid === p.pid))).toEqual([]);
    expect(accepted.length).toBe(sent);
    await expectAllChargedOnce(customer.accountId, accepted, 240_000);
  }, 900_000);

  it('finishes every task in flight across a Temporal server restart', async () => {
    const { model } = await createMockModel(t, { category: 'image', pricing: { per_image: PRICE }, settings: { durationMs: 4000 } });
    const customer = await createCustomer(t, { credits: 10_000 });
    const ids = await submit(model, customer.key, 10, 'temporal-restart');
    await waitProcessing(t.query, customer.accountId, 3);
    await t.stack.restartTemporal({ downMs: 2000 });
    await expectAllChargedOnce(customer.accountId, ids, 240_000);
  }, 400_000);

  it('finishes every task in flight across a PostgreSQL restart', async () => {
    const { model } = await createMockModel(t, { category: 'image', pricing: { per_image: PRICE }, settings: { durationMs: 4000 } });
    const customer = await createCustomer(t, { credits: 10_000 });
    const ids = await submit(model, customer.key, 10, 'pg-restart');
    await waitProcessing(t.query, customer.accountId, 3);
    await t.stack.restartPostgres({ downMs: 3000 });
    await expectAllChargedOnce(customer.accountId, ids, 240_000);
  }, 400_000);
});

function getOnNewConnection(url: string): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    http.get(url, { agent: false, headers: { connection: 'close' } }, (response) => {
      let bytes = 0;
      response.on('data', (chunk: Buffer) => (bytes += chunk.length));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, bytes }));
      response.on('error', reject);
    }).on('error', reject);
  });
}
