/**
 * The wallet can't leak, media half (issue 11), through the HTTP API, real PostgreSQL and Temporal and
 * the fake providers: the hostile bodies of the table are refused before anything is reserved or
 * charged in full; tasks settle at what was delivered, never above the quote; price tiers apply and go
 * upstream; a cancel the provider can't honour is followed to the end. Every expected credit figure is a
 * literal from the model's price table.
 */
import { startArkFake, startFalFake, startOpenAIFake, startReplicateFake, type FakeProvider } from '../fakes';
import { accountOf, expectApiError, taskRowCount } from '../support/checks';
import { createCustomer, startTestGateway, uniqueId, waitForTask, type TestGateway } from '../support/harness';
import { ledgerByKind, modelOnFakes } from '../support/fake-channels';

const FAST = { queueMs: 30, runMs: 150 };

describe('the wallet cannot leak: media', () => {
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

  /** A model with `fields` (pricing, units...) on one channel of `provider` at `fake`, mapped to `upstream`. */
  async function modelOn(provider: string, fake: FakeProvider, upstream: string, fields: Record<string, unknown>): Promise<string> {
    fakes.push(fake);
    return modelOnFakes(gw, provider, [fake], upstream, fields);
  }

  const ledger = (taskId: string) => ledgerByKind(gw, taskId);

  const ARK_TASKS = '/api/v3/contents/generations/tasks';

  describe("the issue's table", () => {
    it('ark per_second 3, duration 5 with options.duration 12: refused, nothing reserved or sent', async () => {
      const ark = await startArkFake({ jobPlan: FAST });
      const model = await modelOn('ark', ark, 'seedance-1-0-lite-t2v-250428', { category: 'video', pricing: { per_second: 3 }, default_duration: 5 });
      const customer = await createCustomer(gw, { credits: 100 });

      const answer = await gw.request('POST', '/v1/videos', { key: customer.key, body: { model, prompt: 'a fox', duration: 5, options: { duration: 12 } } });
      expectApiError(answer, 400, 'invalid_request');
      expect(answer.body.error.message).toContain('options.duration');
      expect(await accountOf(gw, customer.accountId)).toEqual(expect.objectContaining({ balance: 100, reserved: 0 }));
      expect(await taskRowCount(gw, customer.accountId)).toBe(0);
      expect(ark.requestsTo('POST', ARK_TASKS)).toHaveLength(0);

      // The frames spelling of the same thing, as an unknown top-level field.
      const frames = await gw.request('POST', '/v1/videos', { key: customer.key, body: { model, prompt: 'a fox', frames: 289 } });
      expectApiError(frames, 400, 'invalid_request');
      expect(frames.body.error.message).toContain('frames');
    });

    it('ark lite channel with options.model naming the pro model: refused', async () => {
      const ark = await startArkFake({ jobPlan: FAST });
      const model = await modelOn('ark', ark, 'seedance-1-0-lite-t2v-250428', { category: 'video', pricing: { per_second: 3 }, default_duration: 5 });
      const customer = await createCustomer(gw, { credits: 100 });
      const answer = await gw.request('POST', '/v1/videos', { key: customer.key, body: { model, prompt: 'a fox', options: { model: 'seedance-1-0-pro-250528' } } });
      expectApiError(answer, 400, 'invalid_request');
      expect(answer.body.error.message).toContain('options.model');
      expect(await accountOf(gw, customer.accountId)).toEqual(expect.objectContaining({ balance: 100, reserved: 0 }));
      expect(ark.requestsTo('POST', ARK_TASKS)).toHaveLength(0);
    });

    it('ark per_second without default_duration: the admin refuses it; with one, no duration is charged and sent in full', async () => {
      const refused = await gw.request('POST', '/admin/models', { admin: true, body: { id: uniqueId('w-nodur'), category: 'video', pricing: { per_second: 3 } } });
      expectApiError(refused, 400, 'invalid_request');
      expect(refused.body.error.message).toContain('default_duration');

      const ark = await startArkFake({ jobPlan: FAST });
      const model = await modelOn('ark', ark, 'seedance-1-0-lite-t2v-250428', { category: 'video', pricing: { per_second: 3 }, default_duration: 5 });
      const customer = await createCustomer(gw, { credits: 100 });
      const created = await gw.request('POST', '/v1/videos', { key: customer.key, body: { model, prompt: 'a fox' } });
      expect(created.status).toBe(200);
      const task = await waitForTask(gw, customer.key, created.body.id);
      expect(task).toMatchObject({ status: 'succeeded', credits: { reserved: 15, charged: 15, refunded: 0 } });
      expect(ark.requestsTo('POST', ARK_TASKS)[0].body).toMatchObject({ model: 'seedance-1-0-lite-t2v-250428', duration: 5 });
      expect(await accountOf(gw, customer.accountId)).toEqual(expect.objectContaining({ balance: 85, reserved: 0 }));
    });

    it('fal per_image 2, n 1 with options.num_images 4 (or num_images 4 at the top): refused', async () => {
      const fal = await startFalFake({ jobPlan: FAST });
      const model = await modelOn('fal', fal, 'fal-ai/flux/dev', { category: 'image', pricing: { per_image: 2 } });
      const customer = await createCustomer(gw, { credits: 100 });
      for (const body of [{ n: 1, options: { num_images: 4 } }, { n: 1, num_images: 4 }]) {
        const answer = await gw.request('POST', '/v1/images/generations', { key: customer.key, body: { model, prompt: 'a fox', ...body } });
        expectApiError(answer, 400, 'invalid_request');
        expect(answer.body.error.message).toContain('num_images');
      }
      expect(await accountOf(gw, customer.accountId)).toEqual(expect.objectContaining({ balance: 100, reserved: 0 }));
      expect(fal.requests.filter((r) => r.method === 'POST')).toHaveLength(0);

      // Without n, fal still gets the priced count: 1 image, 2 credits.
      const created = await gw.request('POST', '/v1/images/generations', { key: customer.key, body: { model, prompt: 'a fox' } });
      const task = await waitForTask(gw, customer.key, created.body.id);
      expect(task).toMatchObject({ status: 'succeeded', credits: { reserved: 2, charged: 2, refunded: 0 } });
      expect(task.output).toHaveLength(1);
      expect(fal.requests.find((r) => r.method === 'POST')!.body).toMatchObject({ num_images: 1 });
    });
  });

  describe('settles at what was delivered, never above the quote', () => {
    it('ark makes a 3 s video of the 5 asked: 9 credits charged, 6 released', async () => {
      const ark = await startArkFake({ jobPlan: FAST });
      const model = await modelOn('ark', ark, 'seedance-1-0-pro-250528', { category: 'video', pricing: { per_second: 3 }, default_duration: 5 });
      const customer = await createCustomer(gw, { credits: 100 });
      ark.planNextJobs({ seconds: 3 });
      const created = await gw.request('POST', '/v1/videos', { key: customer.key, body: { model, prompt: 'a fox', duration: 5 } });
      const task = await waitForTask(gw, customer.key, created.body.id);
      expect(task).toMatchObject({ status: 'succeeded', credits: { reserved: 15, charged: 9, refunded: 6 } });
      expect(await ledger(created.body.id)).toEqual({ hold: 15, capture: 9, release: 6 });
      expect(await accountOf(gw, customer.accountId)).toEqual(expect.objectContaining({ balance: 91, reserved: 0 }));
    });

    it('fal makes 2 of 3 images: 4 credits charged, 2 released', async () => {
      const fal = await startFalFake({ jobPlan: FAST });
      const model = await modelOn('fal', fal, 'fal-ai/flux/dev', { category: 'image', pricing: { per_image: 2 }, max_outputs: 4 });
      const customer = await createCustomer(gw, { credits: 100 });
      fal.planNextJobs({ outputs: 2 });
      const created = await gw.request('POST', '/v1/images/generations', { key: customer.key, body: { model, prompt: 'a fox', n: 3 } });
      const task = await waitForTask(gw, customer.key, created.body.id);
      expect(task).toMatchObject({ status: 'succeeded', credits: { reserved: 6, charged: 4, refunded: 2 } });
      expect(task.output).toHaveLength(2);
      expect(fal.requests.find((r) => r.method === 'POST')!.body).toMatchObject({ num_images: 3 });
    });

    it('openai says the video is 8 s although 4 were asked: charged the 4 s quote, never more', async () => {
      const openai = await startOpenAIFake({ jobPlan: FAST });
      const model = await modelOn('openai', openai, 'sora-2', { category: 'video', pricing: { per_second: 5 }, default_duration: 4, durations: [4, 8, 12] });
      const customer = await createCustomer(gw, { credits: 100 });
      openai.planNextJobs({ seconds: 8 });
      const created = await gw.request('POST', '/v1/videos', { key: customer.key, body: { model, prompt: 'a fox' } });
      const task = await waitForTask(gw, customer.key, created.body.id);
      expect(task).toMatchObject({ status: 'succeeded', credits: { reserved: 20, charged: 20, refunded: 0 } });
      expect(openai.requestsTo('POST', '/v1/videos')[0].body).toMatchObject({ seconds: '4' });
    });

    it('replicate reports no video length: charged the quote, which is exactly what went upstream', async () => {
      const replicate = await startReplicateFake({ jobPlan: FAST });
      const model = await modelOn('replicate', replicate, 'wavespeedai/wan-2.1-t2v-480p', { category: 'video', pricing: { per_second: 2, per_request: 1 }, default_duration: 5 });
      const customer = await createCustomer(gw, { credits: 100 });
      const created = await gw.request('POST', '/v1/videos', { key: customer.key, body: { model, prompt: 'a fox', options: { guidance: 5 } } });
      const task = await waitForTask(gw, customer.key, created.body.id);
      expect(task).toMatchObject({ status: 'succeeded', credits: { reserved: 11, charged: 11, refunded: 0 } });
      expect(replicate.requests.find((r) => r.method === 'POST')!.body).toMatchObject({ input: { duration: 5, guidance: 5 } });
    });
  });

  describe('durations and counts against the model', () => {
    it.each([
      ['seconds "0"', { seconds: '0' }],
      ['seconds "999"', { seconds: '999' }],
      ['a fraction', { duration: 4.5 }],
      ['zero', { duration: 0 }],
      ['a negative', { duration: -4 }],
      ['a duration the model does not list', { duration: 6 }],
      ['seconds that disagree with duration', { duration: 4, seconds: '8' }],
      ['two videos in one task', { n: 2 }],
    ])('refuses %s with 400 and reserves nothing', async (_name, fields) => {
      const openai = await startOpenAIFake({ jobPlan: FAST });
      const model = await modelOn('openai', openai, 'sora-2', { category: 'video', pricing: { per_second: 5 }, default_duration: 4, durations: [4, 8, 12] });
      const customer = await createCustomer(gw, { credits: 100 });
      const answer = await gw.request('POST', '/v1/videos', { key: customer.key, body: { model, prompt: 'a fox', ...fields } });
      expectApiError(answer, 400, 'invalid_request');
      expect(await accountOf(gw, customer.accountId)).toEqual(expect.objectContaining({ balance: 100, reserved: 0 }));
      expect(openai.requests).toHaveLength(0);
    });

    it('refuses more images than max_outputs', async () => {
      const fal = await startFalFake({ jobPlan: FAST });
      const model = await modelOn('fal', fal, 'fal-ai/flux/dev', { category: 'image', pricing: { per_image: 2 }, max_outputs: 2 });
      const customer = await createCustomer(gw, { credits: 100 });
      const answer = await gw.request('POST', '/v1/images/generations', { key: customer.key, body: { model, prompt: 'a fox', n: 3 } });
      expectApiError(answer, 400, 'invalid_request');
      expect(answer.body.error.details ?? answer.body.error.message).toBeDefined();
    });
  });

  describe('price tiers', () => {
    it('720p / 1080p per second: listed by GET /v1/models, applied at creation, the tier value sent upstream', async () => {
      const ark = await startArkFake({ jobPlan: FAST });
      const tiers = { by: 'resolution', default: '720p', prices: { '720p': { per_second: 3 }, '1080p': { per_second: 7 } } };
      const model = await modelOn('ark', ark, 'seedance-1-0-pro-250528', { category: 'video', pricing: { per_second: 3 }, default_duration: 5, durations: [5, 10], price_tiers: tiers });
      const customer = await createCustomer(gw, { credits: 200 });

      const listed = await gw.request('GET', '/v1/models', { key: customer.key });
      expect(listed.body.data.find((m: { id: string }) => m.id === model)).toMatchObject({ price_tiers: tiers, default_duration: 5, durations: [5, 10] });

      const hd = await gw.request('POST', '/v1/videos', { key: customer.key, body: { model, prompt: 'a fox', resolution: '1080p', duration: 10 } });
      expect((await waitForTask(gw, customer.key, hd.body.id)).credits).toEqual({ reserved: 70, charged: 70, refunded: 0 });
      const sd = await gw.request('POST', '/v1/videos', { key: customer.key, body: { model, prompt: 'a fox' } });
      expect((await waitForTask(gw, customer.key, sd.body.id)).credits).toEqual({ reserved: 15, charged: 15, refunded: 0 });
      const bodies = ark.requestsTo('POST', ARK_TASKS).map((r) => r.body as Record<string, unknown>);
      expect(bodies).toEqual([
        expect.objectContaining({ resolution: '1080p', duration: 10 }),
        expect.objectContaining({ resolution: '720p', duration: 5 }),
      ]);
      expect(await accountOf(gw, customer.accountId)).toEqual(expect.objectContaining({ balance: 115, reserved: 0 }));

      expectApiError(await gw.request('POST', '/v1/videos', { key: customer.key, body: { model, prompt: 'a fox', resolution: '4k' } }), 400, 'invalid_request');
      expectApiError(await gw.request('POST', '/v1/videos', { key: customer.key, body: { model, prompt: 'a fox', options: { resolution: '1080p' } } }), 400, 'invalid_request');
    });

    it('the admin refuses a tier table whose default is not a tier', async () => {
      const answer = await gw.request('POST', '/admin/models', {
        admin: true,
        body: { id: uniqueId('w-tier'), category: 'image', pricing: { per_image: 1 }, price_tiers: { by: 'quality', default: 'ultra', prices: { low: { per_image: 1 } } } },
      });
      expectApiError(answer, 400, 'invalid_request');
      expect(answer.body.error.message).toContain('price_tiers');
    });
  });

  describe('a cancel refunds only what the provider did not bill', () => {
    it('fal acknowledges the cancel of a running request that then completes: settled as delivered, output kept', async () => {
      const fal = await startFalFake({ jobPlan: { queueMs: 20, runMs: Infinity }, honorCancelInProgress: false });
      const model = await modelOn('fal', fal, 'fal-ai/kling-video/v2/master/text-to-video', { category: 'video', pricing: { per_second: 2 }, default_duration: 5 });
      const customer = await createCustomer(gw, { credits: 100 });
      const created = await gw.request('POST', '/v1/videos', { key: customer.key, body: { model, prompt: 'a fox' } });
      const taskId = created.body.id as string;
      await waitForTask(gw, customer.key, taskId, { until: (t) => t.status === 'processing', timeoutMs: 15_000 });
      const job = await waitForJob(fal);
      fal.startJob(job);

      const cancel = await gw.request('POST', `/v1/tasks/${taskId}/cancel`, { key: customer.key });
      expect(cancel.status).toBe(200);
      expect(cancel.body.status).toBe('processing');
      expect(fal.requestsTo('PUT', /\/cancel$/)).toHaveLength(1);
      fal.finishJob(job);

      const task = await waitForTask(gw, customer.key, taskId, { timeoutMs: 15_000 });
      expect(task).toMatchObject({ status: 'succeeded', credits: { reserved: 10, charged: 10, refunded: 0 } });
      expect(task.output).toHaveLength(1);
      expect(await accountOf(gw, customer.accountId)).toEqual(expect.objectContaining({ balance: 90, reserved: 0 }));
    });

    it('a request that completes despite the cancel but whose output the gateway refuses: refunded in full, never left held', async () => {
      // The output is served from 127.0.0.2, which the tests' allowlist does not cover: the copy is refused.
      const fal = await startFalFake({ jobPlan: { queueMs: 20, runMs: Infinity, serve: { host: 'private' } }, honorCancelInProgress: false });
      const model = await modelOn('fal', fal, 'fal-ai/kling-video/v2/master/text-to-video', { category: 'video', pricing: { per_second: 2 }, default_duration: 5 });
      const customer = await createCustomer(gw, { credits: 100 });
      const created = await gw.request('POST', '/v1/videos', { key: customer.key, body: { model, prompt: 'a fox' } });
      const taskId = created.body.id as string;
      await waitForTask(gw, customer.key, taskId, { until: (t) => t.status === 'processing', timeoutMs: 15_000 });
      const job = await waitForJob(fal);
      fal.startJob(job);
      await gw.request('POST', `/v1/tasks/${taskId}/cancel`, { key: customer.key });
      fal.finishJob(job);

      const task = await waitForTask(gw, customer.key, taskId, { timeoutMs: 30_000 });
      expect(task).toMatchObject({ status: 'failed', credits: { reserved: 10, charged: 0, refunded: 10 }, error: { code: 'output_refused' } });
      expect(await ledger(taskId)).toEqual({ hold: 10, release: 10 });
      expect(await accountOf(gw, customer.accountId)).toEqual(expect.objectContaining({ balance: 100, reserved: 0 }));
    });

    it('fal stops a queued request: refunded in full', async () => {
      const fal = await startFalFake({ jobPlan: { queueMs: Infinity, runMs: 100 } });
      const model = await modelOn('fal', fal, 'fal-ai/kling-video/v2/master/text-to-video', { category: 'video', pricing: { per_second: 2 }, default_duration: 5 });
      const customer = await createCustomer(gw, { credits: 100 });
      const created = await gw.request('POST', '/v1/videos', { key: customer.key, body: { model, prompt: 'a fox' } });
      const taskId = created.body.id as string;
      await waitForTask(gw, customer.key, taskId, { until: (t) => t.status === 'processing', timeoutMs: 15_000 });
      await gw.request('POST', `/v1/tasks/${taskId}/cancel`, { key: customer.key });
      const task = await waitForTask(gw, customer.key, taskId, { timeoutMs: 15_000 });
      expect(task).toMatchObject({ status: 'cancelled', credits: { reserved: 10, charged: 0, refunded: 10 } });
      expect(await ledger(taskId)).toEqual({ hold: 10, release: 10 });
    });
  });

  async function waitForJob(fake: FakeProvider): Promise<string> {
    const until = Date.now() + 10_000;
    while (Date.now() < until) {
      if (fake.jobs.size > 0) return fake.lastJob().id;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error('no job reached the fake');
  }
});
