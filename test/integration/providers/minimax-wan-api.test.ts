/**
 * The minimax and dashscope adapters through the HTTP API, real PostgreSQL and Temporal, and their fakes:
 * success with durable links, failures mapped to another channel or to a final refund, cancel while
 * PENDING, priced fields enforced. Every credit figure is a literal from the model's price.
 */
import { startDashScopeFake, startMiniMaxFake, type FakeProvider } from '../../fakes';
import { accountOf, expectApiError } from '../../support/checks';
import { createCustomer, startTestGateway, uniqueId, waitForTask, type TestGateway } from '../../support/harness';
import { channelOnFake, ledgerByKind, modelOnFakes } from '../../support/fake-channels';

const FAST = { queueMs: 30, runMs: 150 };
const MINIMAX_VIDEO = '/v1/video_generation';
const WAN_VIDEO = '/api/v1/services/aigc/video-generation/video-synthesis';
const WAN_IMAGE = '/api/v1/services/aigc/text2image/image-synthesis';

describe('minimax and dashscope through the API', () => {
  let gw: TestGateway;
  const fakes: FakeProvider[] = [];

  beforeAll(async () => {
    gw = await startTestGateway();
  });
  afterEach(async () => {
    await Promise.all(fakes.splice(0).map((fake) => fake.close()));
  });
  afterAll(async () => {
    await gw?.stop();
  });

  async function channel(provider: string, fake: FakeProvider, model: string, upstream: string, priority = 10): Promise<void> {
    fakes.push(fake);
    await channelOnFake(gw, provider, fake, model, upstream, { priority });
  }

  async function modelOn(provider: string, fake: FakeProvider, upstream: string, fields: Record<string, unknown>): Promise<string> {
    fakes.push(fake);
    return modelOnFakes(gw, provider, [fake], upstream, fields);
  }

  const ledger = (taskId: string) => ledgerByKind(gw, taskId);

  describe('dashscope (Wan)', () => {
    it('a 3 s video of the 5 priced: 9 credits charged, 6 released, a durable mp4 link', async () => {
      const wan = await startDashScopeFake({ jobPlan: FAST });
      const model = await modelOn('dashscope', wan, 'wan2.5-t2v-preview', { category: 'video', pricing: { per_second: 3 }, default_duration: 5, durations: [5, 10] });
      const customer = await createCustomer(gw, { credits: 100 });
      wan.planNextJobs({ seconds: 3 });
      const created = await gw.request('POST', '/v1/videos', { key: customer.key, body: { model, prompt: 'a fox', options: { prompt_extend: false } } });
      expect(created.status).toBe(200);
      const task = await waitForTask(gw, customer.key, created.body.id);
      expect(task).toMatchObject({ status: 'succeeded', credits: { reserved: 15, charged: 9, refunded: 6 } });
      expect(await ledger(created.body.id)).toEqual({ hold: 15, capture: 9, release: 6 });
      expect(await accountOf(gw, customer.accountId)).toEqual(expect.objectContaining({ balance: 91, reserved: 0 }));
      const [sent] = wan.requestsTo('POST', WAN_VIDEO);
      expect(sent.headers['x-dashscope-async']).toBe('enable');
      expect(sent.body).toMatchObject({ model: 'wan2.5-t2v-preview', parameters: { duration: 5, prompt_extend: false } });
      // The link is ours: it still works once DashScope's own URL has expired.
      wan.expireOutputs();
      const file = await fetch(task.output[0].url);
      expect(file.status).toBe(200);
      expect(task.output[0].content_type).toBe('video/mp4');
    });

    it('hostile priced options (size, duration, n) are refused before anything is reserved or sent', async () => {
      const wan = await startDashScopeFake({ jobPlan: FAST });
      const videoModel = await modelOn('dashscope', wan, 'wan2.5-t2v-preview', { category: 'video', pricing: { per_second: 3 }, default_duration: 5 });
      const imageModel = await modelOn('dashscope', wan, 'wan2.2-t2i-flash', { category: 'image', pricing: { per_image: 2 }, max_outputs: 4 });
      const customer = await createCustomer(gw, { credits: 100 });
      for (const [route, model, options] of [
        ['/v1/videos', videoModel, { size: '1920*1080' }],
        ['/v1/videos', videoModel, { duration: 10 }],
        ['/v1/images/generations', imageModel, { n: 4 }],
      ] as const) {
        const answer = await gw.request('POST', route, { key: customer.key, body: { model, prompt: 'a fox', options } });
        expectApiError(answer, 400, 'invalid_request');
        expect(answer.body.error.message).toContain(`options.${Object.keys(options)[0]}`);
      }
      expect(await accountOf(gw, customer.accountId)).toEqual(expect.objectContaining({ balance: 100, reserved: 0 }));
      expect(wan.requests.filter((r) => r.method === 'POST')).toHaveLength(0);
    });

    it('2 of 3 images made (a partial success): 4 credits charged, 2 released', async () => {
      const wan = await startDashScopeFake({ jobPlan: FAST });
      const model = await modelOn('dashscope', wan, 'wan2.2-t2i-flash', { category: 'image', pricing: { per_image: 2 }, max_outputs: 4 });
      const customer = await createCustomer(gw, { credits: 100 });
      wan.planNextJobs({ outputs: 2 });
      const created = await gw.request('POST', '/v1/images/generations', { key: customer.key, body: { model, prompt: 'a fox', n: 3 } });
      const task = await waitForTask(gw, customer.key, created.body.id);
      expect(task).toMatchObject({ status: 'succeeded', credits: { reserved: 6, charged: 4, refunded: 2 } });
      expect(task.output).toHaveLength(2);
      expect(wan.requestsTo('POST', WAN_IMAGE)[0].body).toMatchObject({ parameters: { n: 3 } });
    });

    it('cancel while PENDING: DashScope cancels, the task reads CANCELED, refunded in full', async () => {
      const wan = await startDashScopeFake({ jobPlan: { queueMs: Infinity, runMs: 100 } });
      const model = await modelOn('dashscope', wan, 'wan2.5-t2v-preview', { category: 'video', pricing: { per_second: 2 }, default_duration: 5 });
      const customer = await createCustomer(gw, { credits: 100 });
      const created = await gw.request('POST', '/v1/videos', { key: customer.key, body: { model, prompt: 'a fox' } });
      const taskId = created.body.id as string;
      await waitForTask(gw, customer.key, taskId, { until: (t) => t.status === 'processing', timeoutMs: 15_000 });
      await gw.request('POST', `/v1/tasks/${taskId}/cancel`, { key: customer.key });
      const task = await waitForTask(gw, customer.key, taskId, { timeoutMs: 15_000 });
      expect(task).toMatchObject({ status: 'cancelled', credits: { reserved: 10, charged: 0, refunded: 10 } });
      expect(await ledger(taskId)).toEqual({ hold: 10, release: 10 });
      expect(wan.requestsTo('POST', /\/tasks\/[^/]+\/cancel$/)).toHaveLength(1);
    });

    it('InternalError in flight moves the task to the next channel: charged once, for what the second made', async () => {
      const failing = await startDashScopeFake({ jobPlan: { ...FAST, outcome: { kind: 'fail', code: 'InternalError.Algo' } } });
      const healthy = await startDashScopeFake({ jobPlan: { ...FAST, seconds: 5 } });
      const model = uniqueId('mw-dashscope');
      await gw.admin('POST', '/admin/models', { id: model, category: 'video', pricing: { per_second: 2 }, default_duration: 5 });
      await channel('dashscope', failing, model, 'wan2.5-t2v-preview', 30);
      await channel('dashscope', healthy, model, 'wan2.5-t2v-preview', 20);
      const customer = await createCustomer(gw, { credits: 100 });
      const created = await gw.request('POST', '/v1/videos', { key: customer.key, body: { model, prompt: 'a fox' } });
      const task = await waitForTask(gw, customer.key, created.body.id, { timeoutMs: 20_000 });
      expect(task).toMatchObject({ status: 'succeeded', credits: { reserved: 10, charged: 10, refunded: 0 } });
      expect(failing.requestsTo('POST', WAN_VIDEO)).toHaveLength(1);
      expect(healthy.requestsTo('POST', WAN_VIDEO)).toHaveLength(1);
      expect(await ledger(created.body.id)).toEqual({ hold: 10, capture: 10 });
    });

    it('DataInspectionFailed in flight: final, refunded in full, no other channel asked', async () => {
      const wan = await startDashScopeFake({ jobPlan: { ...FAST, outcome: { kind: 'fail', code: 'DataInspectionFailed', message: 'Output data may contain inappropriate content.' } } });
      const spare = await startDashScopeFake({ jobPlan: FAST });
      const model = await modelOn('dashscope', wan, 'wan2.5-t2v-preview', { category: 'video', pricing: { per_second: 2 }, default_duration: 5 });
      await channel('dashscope', spare, model, 'wan2.5-t2v-preview', 1);
      const customer = await createCustomer(gw, { credits: 100 });
      const created = await gw.request('POST', '/v1/videos', { key: customer.key, body: { model, prompt: 'a fox' } });
      const task = await waitForTask(gw, customer.key, created.body.id, { timeoutMs: 15_000 });
      expect(task).toMatchObject({ status: 'failed', error: { code: 'content_policy_violation' }, credits: { reserved: 10, charged: 0, refunded: 10 } });
      expect(await ledger(created.body.id)).toEqual({ hold: 10, release: 10 });
      expect(spare.requests).toHaveLength(0);
    });
  });

  describe('minimax (Hailuo, music)', () => {
    it('a 6 s video: 12 credits, the upstream gets the priced duration and resolution, a durable link', async () => {
      const mm = await startMiniMaxFake({ jobPlan: FAST });
      const model = await modelOn('minimax', mm, 'MiniMax-Hailuo-02', { category: 'video', pricing: { per_second: 2 }, default_duration: 6, durations: [6, 10] });
      const customer = await createCustomer(gw, { credits: 100 });
      const created = await gw.request('POST', '/v1/videos', { key: customer.key, body: { model, prompt: 'a fox', resolution: '768P' } });
      const task = await waitForTask(gw, customer.key, created.body.id);
      expect(task).toMatchObject({ status: 'succeeded', credits: { reserved: 12, charged: 12, refunded: 0 } });
      expect(mm.requestsTo('POST', MINIMAX_VIDEO)[0].body).toMatchObject({ model: 'MiniMax-Hailuo-02', duration: 6, resolution: '768P' });
      mm.expireOutputs();
      expect((await fetch(task.output[0].url)).status).toBe(200);
    });

    it('a video that ends Fail with 1027 (sensitive output): final, refunded in full', async () => {
      const mm = await startMiniMaxFake({ jobPlan: { ...FAST, outcome: { kind: 'fail', code: '1027', message: 'output new_sensitive' } } });
      const model = await modelOn('minimax', mm, 'MiniMax-Hailuo-02', { category: 'video', pricing: { per_second: 2 }, default_duration: 6 });
      const customer = await createCustomer(gw, { credits: 100 });
      const created = await gw.request('POST', '/v1/videos', { key: customer.key, body: { model, prompt: 'a fox' } });
      const task = await waitForTask(gw, customer.key, created.body.id, { timeoutMs: 15_000 });
      expect(task).toMatchObject({ status: 'failed', error: { code: 'content_policy_violation' }, credits: { reserved: 12, charged: 0, refunded: 12 } });
      expect(await ledger(created.body.id)).toEqual({ hold: 12, release: 12 });
      expect(await accountOf(gw, customer.accountId)).toEqual(expect.objectContaining({ balance: 100, reserved: 0 }));
    });

    it('options.duration naming a priced field is refused: nothing reserved or sent', async () => {
      const mm = await startMiniMaxFake({ jobPlan: FAST });
      const model = await modelOn('minimax', mm, 'MiniMax-Hailuo-02', { category: 'video', pricing: { per_second: 2 }, default_duration: 6 });
      const customer = await createCustomer(gw, { credits: 100 });
      const answer = await gw.request('POST', '/v1/videos', { key: customer.key, body: { model, prompt: 'a fox', options: { duration: 10 } } });
      expectApiError(answer, 400, 'invalid_request');
      expect(await accountOf(gw, customer.accountId)).toEqual(expect.objectContaining({ balance: 100, reserved: 0 }));
      expect(mm.requests).toHaveLength(0);
    });

    it('music: the hex audio is stored as the track; 4 credits per song', async () => {
      const mm = await startMiniMaxFake();
      const model = await modelOn('minimax', mm, 'music-2.0', { category: 'music', pricing: { per_request: 4 } });
      const customer = await createCustomer(gw, { credits: 100 });
      mm.planNextJobs({ seconds: 3 });
      const created = await gw.request('POST', '/v1/music/generations', { key: customer.key, body: { model, prompt: 'Pop, melancholic', options: { lyrics: '[Verse]\nla la' } } });
      expect(created.status).toBe(200);
      const task = await waitForTask(gw, customer.key, created.body.id);
      expect(task).toMatchObject({ status: 'succeeded', credits: { reserved: 4, charged: 4, refunded: 0 } });
      expect(await ledger(created.body.id)).toEqual({ hold: 4, capture: 4 });
      expect(task.output[0].content_type).toBe('audio/mpeg');
      const track = Buffer.from(await (await fetch(task.output[0].url)).arrayBuffer());
      expect(track.equals(mm.lastJob().extra.audio as Buffer)).toBe(true);
    });

    it('1002 rate limit inside HTTP 200 moves to the next channel; charged once', async () => {
      const first = await startMiniMaxFake({ jobPlan: FAST });
      const second = await startMiniMaxFake({ jobPlan: FAST });
      first.failAlways('submit', 'rate_limited');
      const model = uniqueId('mw-minimax');
      await gw.admin('POST', '/admin/models', { id: model, category: 'video', pricing: { per_second: 2 }, default_duration: 6 });
      await channel('minimax', first, model, 'MiniMax-Hailuo-02', 30);
      await channel('minimax', second, model, 'MiniMax-Hailuo-02', 20);
      const customer = await createCustomer(gw, { credits: 100 });
      const created = await gw.request('POST', '/v1/videos', { key: customer.key, body: { model, prompt: 'a fox' } });
      const task = await waitForTask(gw, customer.key, created.body.id, { timeoutMs: 20_000 });
      expect(task).toMatchObject({ status: 'succeeded', credits: { reserved: 12, charged: 12, refunded: 0 } });
      expect(first.requestsTo('POST', MINIMAX_VIDEO).length).toBeGreaterThanOrEqual(1);
      expect(second.requestsTo('POST', MINIMAX_VIDEO)).toHaveLength(1);
      expect(await accountOf(gw, customer.accountId)).toEqual(expect.objectContaining({ balance: 88, reserved: 0 }));
    });

    it('1008 (no balance) inside HTTP 200 is final: refunded in full, the spare channel not asked', async () => {
      const broke = await startMiniMaxFake({ jobPlan: FAST });
      const spare = await startMiniMaxFake({ jobPlan: FAST });
      broke.failAlways('submit', { kind: 'invalid', code: '1008', message: 'insufficient balance' });
      const model = await modelOn('minimax', broke, 'MiniMax-Hailuo-02', { category: 'video', pricing: { per_second: 2 }, default_duration: 6 });
      await channel('minimax', spare, model, 'MiniMax-Hailuo-02', 1);
      const customer = await createCustomer(gw, { credits: 100 });
      const created = await gw.request('POST', '/v1/videos', { key: customer.key, body: { model, prompt: 'a fox' } });
      const task = await waitForTask(gw, customer.key, created.body.id, { timeoutMs: 15_000 });
      expect(task).toMatchObject({ status: 'failed', error: { code: 'upstream_insufficient_balance' }, credits: { reserved: 12, charged: 0, refunded: 12 } });
      expect(await ledger(created.body.id)).toEqual({ hold: 12, release: 12 });
      expect(spare.requests).toHaveLength(0);
      expect(await accountOf(gw, customer.accountId)).toEqual(expect.objectContaining({ balance: 100, reserved: 0 }));
    });
  });
});
