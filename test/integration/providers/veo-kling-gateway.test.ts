/**
 * The gemini (Veo) and kling adapters through the public API, real PostgreSQL and Temporal, and their
 * fakes: priced fields the consumer may not override, what goes upstream, durable outputs, and the
 * failures that end a task with a refund (every credit figure a literal from the model's price).
 */
import { startGeminiFake, startKlingFake, type FakeProvider } from '../../fakes';
import { accountOf, expectApiError, taskRowCount } from '../../support/checks';
import { createCustomer, startTestGateway, uniqueId, waitForTask, type TestGateway } from '../../support/harness';
import { ledgerByKind, modelOnFakes } from '../../support/fake-channels';
import { isMp4, isPng } from './helpers';

const FAST = { queueMs: 30, runMs: 150 };
const VEO_CREATE = /:predictLongRunning$/;

describe('gemini and kling through the gateway', () => {
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

  /** A model with `fields` on one channel per fake (first fake asked first), each mapped to `upstream`. */
  async function modelOn(provider: string, upstream: string, fields: Record<string, unknown>, ...on: FakeProvider[]): Promise<string> {
    fakes.push(...on);
    return modelOnFakes(gw, provider, on, upstream, fields);
  }

  const ledger = (taskId: string) => ledgerByKind(gw, taskId);

  describe('gemini', () => {
    const veo = (fields: Record<string, unknown> = {}) => ({ category: 'video', pricing: { per_second: 5 }, default_duration: 8, ...fields });

    it('refuses options naming a priced Veo parameter: nothing reserved, nothing sent', async () => {
      const fake = await startGeminiFake({ jobPlan: FAST });
      const model = await modelOn('gemini', 'veo-3.1-generate-preview', veo(), fake);
      const customer = await createCustomer(gw, { credits: 100 });
      for (const [body, named] of [
        [{ duration: 4, options: { durationSeconds: 8 } }, 'options.durationSeconds'],
        [{ duration: 4, options: { sampleCount: 2 } }, 'options.sampleCount'],
        [{ duration: 4, numberOfVideos: 2 }, 'numberOfVideos'],
      ] as const) {
        const answer = await gw.request('POST', '/v1/videos', { key: customer.key, body: { model, prompt: 'a fox', ...body } });
        expectApiError(answer, 400, 'invalid_request');
        expect(answer.body.error.message).toContain(named);
      }
      expect(await accountOf(gw, customer.accountId)).toEqual(expect.objectContaining({ balance: 100, reserved: 0 }));
      expect(await taskRowCount(gw, customer.accountId)).toBe(0);
      expect(fake.requestsTo('POST', VEO_CREATE)).toHaveLength(0);
    });

    it('4 s at 5 credits a second: 20 charged, durationSeconds 4 upstream, the video kept behind our own link', async () => {
      const fake = await startGeminiFake({ jobPlan: FAST });
      const model = await modelOn('gemini', 'veo-3.1-fast-generate-preview', veo(), fake);
      const customer = await createCustomer(gw, { credits: 100 });
      const created = await gw.request('POST', '/v1/videos', { key: customer.key, body: { model, prompt: 'a fox', duration: 4, aspect_ratio: '9:16' } });
      expect(created.status).toBe(200);
      const task = await waitForTask(gw, customer.key, created.body.id);
      expect(task).toMatchObject({ status: 'succeeded', credits: { reserved: 20, charged: 20, refunded: 0 } });
      expect(await ledger(created.body.id)).toEqual({ hold: 20, capture: 20 });
      const [sent] = fake.requestsTo('POST', VEO_CREATE);
      expect(sent.path).toBe('/v1beta/models/veo-3.1-fast-generate-preview:predictLongRunning');
      expect((sent.body as { parameters: unknown }).parameters).toEqual({ aspectRatio: '9:16', durationSeconds: 4, sampleCount: 1 });
      fake.expireOutputs();
      const file = await fetch(task.output[0].url);
      expect(file.status).toBe(200);
      expect(isMp4(Buffer.from(await file.arrayBuffer()))).toBe(true);
      expect(fake.keyLeaks()).toBe(0);
      expect(await accountOf(gw, customer.accountId)).toEqual(expect.objectContaining({ balance: 80, reserved: 0 }));
    });

    it('a video blocked by the RAI filter fails as a content-policy violation, on no other channel, refunded in full', async () => {
      const a = await startGeminiFake({ jobPlan: FAST });
      const b = await startGeminiFake({ jobPlan: FAST });
      const model = await modelOn('gemini', 'veo-3.1-generate-preview', veo(), a, b);
      const customer = await createCustomer(gw, { credits: 100 });
      a.planNextJobs({ outcome: { kind: 'fail', code: 'rai', message: 'The input resembles a public figure.' } });
      const created = await gw.request('POST', '/v1/videos', { key: customer.key, body: { model, prompt: 'a famous face', duration: 8 } });
      const task = await waitForTask(gw, customer.key, created.body.id);
      expect(task.status).toBe('failed');
      expect(task.error).toMatchObject({ type: 'upstream_error', code: 'content_policy_violation' });
      expect(task.credits).toEqual({ reserved: 40, charged: 0, refunded: 40 });
      expect(await ledger(created.body.id)).toEqual({ hold: 40, release: 40 });
      expect(b.requests).toHaveLength(0);
      expect(await accountOf(gw, customer.accountId)).toEqual(expect.objectContaining({ balance: 100, reserved: 0 }));
    });
  });

  describe('kling', () => {
    it('refuses options naming a priced Kling field: nothing reserved, nothing sent', async () => {
      const fake = await startKlingFake({ jobPlan: FAST });
      const model = await modelOn('kling', 'kling-v2-6', { category: 'video', pricing: { per_second: 3 }, default_duration: 5 }, fake);
      const customer = await createCustomer(gw, { credits: 100 });
      for (const [body, named] of [
        [{ options: { duration: '10' } }, 'options.duration'],
        [{ options: { mode: 'pro' } }, 'options.mode'],
        [{ options: { model_name: 'kling-v3' } }, 'options.model_name'],
        [{ sound: 'on' }, 'sound'],
      ] as const) {
        const answer = await gw.request('POST', '/v1/videos', { key: customer.key, body: { model, prompt: 'a fox', ...body } });
        expectApiError(answer, 400, 'invalid_request');
        expect(answer.body.error.message).toContain(named);
      }
      expect(await accountOf(gw, customer.accountId)).toEqual(expect.objectContaining({ balance: 100, reserved: 0 }));
      expect(fake.requests.filter((r) => r.method === 'POST')).toHaveLength(0);
    });

    it('5 s video at 3 a second: 15 charged, duration "5" as a string upstream; 2 images at 2 each: 4 charged, n 2', async () => {
      const fake = await startKlingFake({ jobPlan: FAST });
      const videoModel = await modelOn('kling', 'kling-v2-6', { category: 'video', pricing: { per_second: 3 }, default_duration: 5 }, fake);
      const imageModel = uniqueId('vk-kling-img');
      await gw.admin('POST', '/admin/models', { id: imageModel, category: 'image', pricing: { per_image: 2 }, max_outputs: 4 });
      await gw.admin('POST', '/admin/channels', {
        name: `kling images ${imageModel}`, provider: 'kling', base_url: fake.url, api_key: fake.apiKey, models: { [imageModel]: 'kling-v2-1' },
        settings: { pollIntervalMs: 100 },
      });
      const customer = await createCustomer(gw, { credits: 100 });

      const video = await gw.request('POST', '/v1/videos', { key: customer.key, body: { model: videoModel, prompt: 'a fox' } });
      const videoTask = await waitForTask(gw, customer.key, video.body.id);
      expect(videoTask).toMatchObject({ status: 'succeeded', credits: { reserved: 15, charged: 15, refunded: 0 } });
      expect(fake.requestsTo('POST', '/v1/videos/text2video')[0].body).toMatchObject({ model_name: 'kling-v2-6', duration: '5' });
      expect(isMp4(Buffer.from(await (await fetch(videoTask.output[0].url)).arrayBuffer()))).toBe(true);

      const images = await gw.request('POST', '/v1/images/generations', { key: customer.key, body: { model: imageModel, prompt: 'a fox', n: 2 } });
      const imageTask = await waitForTask(gw, customer.key, images.body.id);
      expect(imageTask).toMatchObject({ status: 'succeeded', credits: { reserved: 4, charged: 4, refunded: 0 } });
      expect(imageTask.output).toHaveLength(2);
      expect(fake.requestsTo('POST', '/v1/images/generations')[0].body).toMatchObject({ model_name: 'kling-v2-1', n: 2 });
      expect(isPng(Buffer.from(await (await fetch(imageTask.output[1].url)).arrayBuffer()))).toBe(true);
      expect(await accountOf(gw, customer.accountId)).toEqual(expect.objectContaining({ balance: 81, reserved: 0 }));
    });

    it('price tiers by quality: pro at 12 a second is 60 for 5 s and goes upstream as mode pro; the default tier is std', async () => {
      const fake = await startKlingFake({ jobPlan: FAST });
      const model = await modelOn('kling', 'kling-v2-6', {
        category: 'video', pricing: { per_second: 7 }, default_duration: 5,
        price_tiers: { by: 'quality', default: 'std', prices: { std: { per_second: 7 }, pro: { per_second: 12 } } },
      }, fake);
      const customer = await createCustomer(gw, { credits: 200 });
      const pro = await gw.request('POST', '/v1/videos', { key: customer.key, body: { model, prompt: 'a fox', quality: 'pro' } });
      expect(await waitForTask(gw, customer.key, pro.body.id)).toMatchObject({ status: 'succeeded', credits: { reserved: 60, charged: 60, refunded: 0 } });
      const std = await gw.request('POST', '/v1/videos', { key: customer.key, body: { model, prompt: 'a fox' } });
      expect(await waitForTask(gw, customer.key, std.body.id)).toMatchObject({ status: 'succeeded', credits: { reserved: 35, charged: 35, refunded: 0 } });
      expect(fake.requestsTo('POST', '/v1/videos/text2video').map((r) => (r.body as { mode?: string }).mode)).toEqual(['pro', 'std']);
      expect(await accountOf(gw, customer.accountId)).toEqual(expect.objectContaining({ balance: 105, reserved: 0 }));
    });

    it('a depleted resource pack (HTTP 429, code 1102) is final: no other channel, refunded in full', async () => {
      const a = await startKlingFake({ jobPlan: FAST });
      const b = await startKlingFake({ jobPlan: FAST });
      a.setBalance(0);
      const model = await modelOn('kling', 'kling-v2-6', { category: 'video', pricing: { per_second: 3 }, default_duration: 5 }, a, b);
      const customer = await createCustomer(gw, { credits: 100 });
      const created = await gw.request('POST', '/v1/videos', { key: customer.key, body: { model, prompt: 'a fox', duration: 10 } });
      const task = await waitForTask(gw, customer.key, created.body.id);
      expect(task.status).toBe('failed');
      expect(task.error).toMatchObject({ type: 'upstream_error', code: 'upstream_auth_failed' });
      expect(task.credits).toEqual({ reserved: 30, charged: 0, refunded: 30 });
      expect(await ledger(created.body.id)).toEqual({ hold: 30, release: 30 });
      expect(a.requestsTo('POST', '/v1/videos/')).toHaveLength(1);
      expect(b.requests).toHaveLength(0);
      expect(await accountOf(gw, customer.accountId)).toEqual(expect.objectContaining({ balance: 100, reserved: 0 }));
      // The account can't pay: the channel is disabled until the operator tops it up.
      const listed = await gw.admin('GET', '/admin/channels');
      const channels = (Array.isArray(listed) ? listed : listed.data) as { base_url: string; enabled: boolean }[];
      expect(channels.find((c) => c.base_url === a.url)).toMatchObject({ enabled: false });
      expect(channels.find((c) => c.base_url === b.url)).toMatchObject({ enabled: true });
    });

    it('concurrency over the pack (429, code 1303) moves the task to the next channel', async () => {
      const a = await startKlingFake({ jobPlan: FAST, maxConcurrent: 0 });
      const b = await startKlingFake({ jobPlan: FAST });
      const model = await modelOn('kling', 'kling-v2-6', { category: 'video', pricing: { per_second: 3 }, default_duration: 5 }, a, b);
      const customer = await createCustomer(gw, { credits: 100 });
      const created = await gw.request('POST', '/v1/videos', { key: customer.key, body: { model, prompt: 'a fox' } });
      const task = await waitForTask(gw, customer.key, created.body.id);
      expect(task).toMatchObject({ status: 'succeeded', credits: { reserved: 15, charged: 15, refunded: 0 } });
      expect(a.requestsTo('POST', '/v1/videos/')).toHaveLength(1);
      expect(b.requestsTo('POST', '/v1/videos/')).toHaveLength(1);
    });
  });
});
