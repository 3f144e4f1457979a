/**
 * Workflows started before a change to mediaTaskWorkflow must still complete after it. The `polling`
 * fixtures are histories recorded from the workflow as it was before provider callbacks (one long polling
 * activity); the `callbacks` one from the first version with them (signal, one read, backstop timer).
 * Replaying them against today's code must raise no nondeterminism error.
 *
 * RECORD_WORKFLOW_HISTORY=1 npm test -- test/integration/workflow-replay.test.ts records the fixtures that
 * do not exist yet (never overwrites one: it stands for workflows already running somewhere).
 */
import { access, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { startFalFake, startReplicateFake, type FakeProvider } from '../fakes';
import { createCustomer, createMockModel, startTestGateway, testEnv, uniqueId, waitForTask, type TestGateway } from '../support/harness';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver';

const FIXTURES = path.resolve(__dirname, '../fixtures');
const HISTORIES = [
  'media-task-polling-success.history.json',
  'media-task-polling-failover.history.json',
  'media-task-callbacks-failover.history.json',
  // Recorded from main at 2fd22b0 (2026-12-05), before the task-cost work of issue 13.
  ...generation('main-2fd22b0'),
  // Recorded after it: runs the API reserved itself (input admittedByApi), lean history, shared poller.
  ...generation('admitted-lean'),
];

/** The four fixtures recorded of one version of the workflow, named after it. */
function generation(prefix: string): string[] {
  return ['mock-instant-callback', 'mock-cancelled', 'fal-polling-success', 'mock-failover'].map((name) => `${prefix}-${name}.history.json`);
}
const record = process.env.RECORD_WORKFLOW_HISTORY === '1';

describe('replay of histories recorded before provider callbacks', () => {
  if (record) {
    let gw: TestGateway;
    let receiver: WebhookReceiver;
    const fakes: FakeProvider[] = [];
    beforeAll(async () => {
      gw = await startTestGateway();
      receiver = await startWebhookReceiver();
    });
    afterAll(async () => {
      await Promise.all(fakes.map((fake) => fake.close()));
      await receiver?.stop();
      await gw?.stop();
    });

    async function channel(provider: string, fake: FakeProvider, model: string, upstream: string, priority = 0, settings: Record<string, unknown> = {}) {
      fakes.push(fake);
      await gw.admin('POST', '/admin/channels', {
        name: `${provider} for ${model}`, provider, base_url: fake.url, api_key: fake.apiKey, models: { [model]: upstream }, priority,
        settings: { pollIntervalMs: 100, timeoutMs: 5000, ...settings },
      });
    }

    async function runAndSave(model: string, file: string, opts: { body?: Record<string, unknown>; cancel?: boolean; expected?: string } = {}): Promise<void> {
      const exists = await access(path.join(FIXTURES, file)).then(() => true, () => false);
      if (exists) return;
      const customer = await createCustomer(gw, { credits: 100 });
      const created = await gw.request('POST', '/v1/videos', { key: customer.key, body: { model, prompt: 'a fox', duration: 5, ...opts.body } });
      expect(created.status).toBe(200);
      if (opts.cancel) {
        await waitForTask(gw, customer.key, created.body.id, { until: (t) => t.status === 'processing' });
        expect((await gw.request('POST', `/v1/tasks/${created.body.id}/cancel`, { key: customer.key })).status).toBe(200);
      }
      const task = await waitForTask(gw, customer.key, created.body.id);
      expect(task.status).toBe(opts.expected ?? 'succeeded');
      // The workflow closes after the callback; wait for it so the history is complete.
      await gw.gateway.temporal.workflow.getHandle(created.body.id).result().catch(() => undefined);
      const history = await gw.gateway.temporal.workflow.getHandle(created.body.id).fetchHistory();
      await writeFile(path.join(FIXTURES, file), JSON.stringify(history, null, 1) + '\n');
    }

    it('records a task that polls fal to success', async () => {
      const model = uniqueId('replay-video');
      await gw.admin('POST', '/admin/models', { id: model, category: 'video', pricing: { per_second: 3 }, default_duration: 5 });
      await channel('fal', await startFalFake({ jobPlan: { queueMs: 100, runMs: 400 } }), model, 'fal-ai/kling-video/v2.1/standard/text-to-video');
      await runAndSave(model, HISTORIES[0]);
    });

    it('records a task that fails over from replicate (prediction aborted in flight, retryable) to fal', async () => {
      const model = uniqueId('replay-failover');
      await gw.admin('POST', '/admin/models', { id: model, category: 'video', pricing: { per_second: 3 }, default_duration: 5 });
      const replicate = await startReplicateFake({ jobPlan: { queueMs: 50, runMs: 200 } });
      replicate.planNextJobs({ outcome: { kind: 'abort' } });
      await channel('replicate', replicate, model, 'acme/wan-video', 10);
      await channel('fal', await startFalFake({ jobPlan: { queueMs: 100, runMs: 400 } }), model, 'fal-ai/kling-video/v2.1/standard/text-to-video', 0);
      await runAndSave(model, HISTORIES[1]);
    });

    it('records a task that fails over from replicate to fal, both calling back (backstop high)', async () => {
      const model = uniqueId('replay-callbacks');
      await gw.admin('POST', '/admin/models', { id: model, category: 'video', pricing: { per_second: 3 }, default_duration: 5 });
      const replicate = await startReplicateFake({ jobPlan: { queueMs: 50, runMs: 200 } });
      replicate.planNextJobs({ outcome: { kind: 'abort' } });
      const settings = { callbackBackstopPollMs: 600_000 };
      await channel('replicate', replicate, model, 'acme/wan-video', 10, settings);
      await channel('fal', await startFalFake({ jobPlan: { queueMs: 100, runMs: 400 } }), model, 'fal-ai/kling-video/v2.1/standard/text-to-video', 0, settings);
      await runAndSave(model, HISTORIES[2]);
    });

    // Each version's four: only the newest is recorded (the older files exist and are never overwritten).
    for (const [prefix, first] of [['main-2fd22b0', 3], ['admitted-lean', 7]] as const) {
      it(`records (${prefix}) a mock task that finishes at submit, with a consumer callback`, async () => {
        const { model } = await createMockModel(gw, { category: 'video', pricing: { per_second: 3 }, settings: { durationMs: 0 } });
        await runAndSave(model, HISTORIES[first]!, { body: { callback_url: receiver.url('/replay-instant') } });
      });

      it(`records (${prefix}) a mock task cancelled while processing, with a consumer callback`, async () => {
        const { model } = await createMockModel(gw, { category: 'video', pricing: { per_second: 3 }, settings: { durationMs: 60_000 } });
        await runAndSave(model, HISTORIES[first + 1]!, { body: { callback_url: receiver.url('/replay-cancel') }, cancel: true, expected: 'cancelled' });
      });

      it(`records (${prefix}) a task that polls fal to success`, async () => {
        const model = uniqueId(`replay-video-${prefix}`);
        await gw.admin('POST', '/admin/models', { id: model, category: 'video', pricing: { per_second: 3 }, default_duration: 5 });
        await channel('fal', await startFalFake({ jobPlan: { queueMs: 100, runMs: 400 } }), model, 'fal-ai/kling-video/v2.1/standard/text-to-video');
        await runAndSave(model, HISTORIES[first + 2]!);
      });

      it(`records (${prefix}) a mock task that fails in flight (retryable) and succeeds on a second channel`, async () => {
        const { model } = await createMockModel(gw, { category: 'video', pricing: { per_second: 3 }, settings: { durationMs: 300, failRate: 1 } });
        await gw.admin('POST', '/admin/channels', { name: `second mock for ${model}`, provider: 'mock', models: [model], priority: -1, settings: { durationMs: 200 } });
        await runAndSave(model, HISTORIES[first + 3]!);
      });
    }
  }

  it('replays a run the new API started but an older worker began (APIs upgraded before workers) as that worker ran it', async () => {
    // main 2fd22b0's instant task, its input given the field the current API sets: the older worker
    // ignored it and reserved; with no admitted-lean marker in the history, current code must do the same.
    const recorded = JSON.parse(await readFile(path.join(FIXTURES, 'main-2fd22b0-mock-instant-callback.history.json'), 'utf8'));
    const payload = recorded.events[0].workflowExecutionStartedEventAttributes.input.payloads[0];
    const input = JSON.parse(Buffer.from(payload.data, 'base64').toString('utf8'));
    expect(input.admittedByApi).toBeUndefined();
    payload.data = Buffer.from(JSON.stringify({ ...input, admittedByApi: true })).toString('base64');
    const history = temporal.api.history.v1.History.fromObject(recorded);
    await Worker.runReplayHistory({ workflowBundle: { codePath: testEnv().bundlePath } }, history, 'replay-api-before-workers');
  });

  it.each(HISTORIES)('%s replays against the current workflow code', async (file) => {
    // Saved as the client's own JSON (JSON.stringify of the fetched History); fromObject reads it back.
    // (The SDK's historyFromJSON trips over its two protobufjs versions here.)
    const history = temporal.api.history.v1.History.fromObject(JSON.parse(await readFile(path.join(FIXTURES, file), 'utf8')));
    await Worker.runReplayHistory({ workflowBundle: { codePath: testEnv().bundlePath } }, history, `replay-${file}`);
  });
});
