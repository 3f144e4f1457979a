/**
 * Routing policy through the public API with real PostgreSQL and Temporal: priority tiers and weights,
 * key groups, a refused credential disabling its channel, the per-channel circuit breaker, Retry-After on
 * the only channel, and the configurable number of channel attempts. Every channel has its own fake
 * server, so the fake's request log says which channel was asked.
 */
import {
  startArkFake,
  startFalFake,
  startOpenAIFake,
  startReplicateFake,
  type FakeProvider,
  type JobPlan,
} from '../fakes';
import { accountOf, eventually } from '../support/checks';
import { createCustomer, startTestGateway, uniqueId, waitForTask, type TestGateway } from '../support/harness';

type ProviderId = 'openai' | 'ark' | 'replicate' | 'fal';

/** Per provider: how to start a fake, the upstream model the channels map to, and its job creations. */
const PROVIDERS: Record<ProviderId, { start(plan: Partial<JobPlan>): Promise<FakeProvider>; upstream: string; submitPath: string | RegExp }> = {
  openai: { start: (jobPlan) => startOpenAIFake({ jobPlan }), upstream: 'sora-2', submitPath: '/v1/videos' },
  ark: { start: (jobPlan) => startArkFake({ jobPlan }), upstream: 'seedance-1-0-pro-250528', submitPath: '/api/v3/contents/generations/tasks' },
  replicate: { start: (jobPlan) => startReplicateFake({ jobPlan }), upstream: 'bytedance/seedance-1-pro', submitPath: /^\/v1\/models\/.+\/predictions$/ },
  fal: { start: (jobPlan) => startFalFake({ jobPlan }), upstream: 'fal-ai/kling-video/v2/master/text-to-video', submitPath: /^\/fal-ai\// },
};

const FAST: Partial<JobPlan> = { queueMs: 50, runMs: 250 };
/** 4 s of video at 5 credits a second. */
const PRICE = 20;
const CREDITS = 200;
/** Set above the default (3) so the test below proves the setting is read. */
const MAX_CHANNEL_ATTEMPTS = 4;

interface ChannelSpec {
  name: string;
  priority?: number;
  weight?: number;
  groups?: string[];
  settings?: Record<string, unknown>;
  /** Sent as the channel's credential instead of the fake's own key. */
  apiKey?: string;
}

describe('routing policy', () => {
  let gw: TestGateway;
  const fakes: FakeProvider[] = [];

  beforeAll(async () => {
    gw = await startTestGateway({ env: { MAX_CHANNEL_ATTEMPTS: String(MAX_CHANNEL_ATTEMPTS) } });
  });
  afterEach(async () => {
    await Promise.all(fakes.splice(0).map((fake) => fake.close()));
  });
  afterAll(async () => {
    await gw?.stop();
  });

  /** A video model of its own and one channel (with its own fake) per spec. */
  async function setup(provider: ProviderId, specs: ChannelSpec[], model: { deadlineSeconds?: number } = {}) {
    const { start, upstream, submitPath } = PROVIDERS[provider];
    const id = uniqueId(`rp-${provider}`);
    await gw.admin('POST', '/admin/models', {
      id, category: 'video', pricing: { per_second: 5 }, default_duration: 5, ...(model.deadlineSeconds ? { deadline_seconds: model.deadlineSeconds } : {}),
    });
    const channels: Record<string, { id: string; fake: FakeProvider; submits(): number; submitTimes(): number[] }> = {};
    for (const spec of specs) {
      const fake = await start(FAST);
      fakes.push(fake);
      const created = await gw.admin('POST', '/admin/channels', {
        name: `${spec.name} for ${id}`, provider, base_url: fake.url, api_key: spec.apiKey ?? fake.apiKey,
        models: { [id]: upstream },
        ...(spec.priority !== undefined ? { priority: spec.priority } : {}),
        ...(spec.weight !== undefined ? { weight: spec.weight } : {}),
        ...(spec.groups ? { groups: spec.groups } : {}),
        settings: { pollIntervalMs: 100, timeoutMs: 5000, ...spec.settings },
      });
      channels[spec.name] = {
        id: created.id,
        fake,
        submits: () => fake.requestsTo('POST', submitPath).length,
        submitTimes: () => fake.requestsTo('POST', submitPath).map((r) => r.at),
      };
    }
    return { model: id, channels };
  }

  async function createVideo(key: string, model: string): Promise<string> {
    const created = await gw.request('POST', '/v1/videos', { key, body: { model, prompt: 'a lighthouse at dusk, waves crashing', duration: 4 } });
    expect(created.status).toBe(200);
    return created.body.id as string;
  }

  async function runTask(key: string, model: string): Promise<any> {
    return waitForTask(gw, key, await createVideo(key, model), { timeoutMs: 30_000 });
  }

  const channelView = (id: string) => gw.admin('GET', `/admin/channels/${id}`);
  const adminTask = (id: string) => gw.admin('GET', `/admin/tasks/${id}`);

  describe('priority and weight', () => {
    it('never uses a lower priority channel, nor a weight-0 one of the top tier, while the top channel works', async () => {
      const { model, channels } = await setup('ark', [
        { name: 'top', priority: 10, weight: 1 },
        { name: 'top-weight-0', priority: 10, weight: 0 },
        { name: 'low', priority: 1, weight: 100 },
      ]);
      const customer = await createCustomer(gw, { credits: CREDITS });
      const ids = await Promise.all(Array.from({ length: 4 }, () => createVideo(customer.key, model)));
      for (const id of ids) {
        const task = await waitForTask(gw, customer.key, id);
        expect(task).toMatchObject({ status: 'succeeded', credits: { reserved: PRICE, charged: PRICE, refunded: 0 } });
        expect((await adminTask(id)).channel_id).toBe(channels.top.id);
      }
      expect(channels.top.submits()).toBe(4);
      expect(channels['top-weight-0'].fake.requests).toHaveLength(0);
      expect(channels.low.fake.requests).toHaveLength(0);
      expect(await accountOf(gw, customer.accountId)).toMatchObject({ balance: CREDITS - 4 * PRICE, reserved: 0 });
    });
  });

  describe('groups', () => {
    it("routes a vip key only to channels whose groups include vip, a default key only to default ones, and fails a group nobody serves", async () => {
      const { model, channels } = await setup('fal', [
        { name: 'public', priority: 10 },
        { name: 'vip', priority: 1, groups: ['vip'] },
      ]);
      const vip = await createCustomer(gw, { credits: CREDITS, key: { group: 'vip' } });
      const regular = await createCustomer(gw, { credits: CREDITS });
      const other = await createCustomer(gw, { credits: CREDITS, key: { group: 'partners' } });

      const vipTask = await runTask(vip.key, model);
      expect(vipTask.status).toBe('succeeded');
      expect((await adminTask(vipTask.id)).channel_id).toBe(channels.vip.id);
      expect(channels.vip.submits()).toBe(1);
      expect(channels.public.fake.requests).toHaveLength(0);

      const regularTask = await runTask(regular.key, model);
      expect(regularTask.status).toBe('succeeded');
      expect((await adminTask(regularTask.id)).channel_id).toBe(channels.public.id);
      expect(channels.public.submits()).toBe(1);
      expect(channels.vip.submits()).toBe(1);

      const orphan = await runTask(other.key, model);
      expect(orphan.status).toBe('failed');
      expect(orphan.error).toMatchObject({ code: 'no_channel_available' });
      expect(orphan.credits).toEqual({ reserved: PRICE, charged: 0, refunded: PRICE });
      expect(await accountOf(gw, other.accountId)).toMatchObject({ balance: CREDITS, reserved: 0 });
      expect(channels.public.submits()).toBe(1);
      expect(channels.vip.submits()).toBe(1);
    });
  });

  describe('refused credentials', () => {
    it('fails the task on a 401 at submit, refunds it, disables the channel, and later tasks skip it', async () => {
      const wrongKey = `sk-proj-${'Wr0ngKey'.repeat(6)}`;
      const { model, channels } = await setup('openai', [
        { name: 'revoked', priority: 10, apiKey: wrongKey },
        { name: 'spare', priority: 1 },
      ]);
      const customer = await createCustomer(gw, { credits: CREDITS });

      const task = await runTask(customer.key, model);
      expect(task.status).toBe('failed');
      expect(task.error).toMatchObject({ type: 'upstream_error', code: 'upstream_auth_failed' });
      expect(task.credits).toEqual({ reserved: PRICE, charged: 0, refunded: PRICE });
      expect(await accountOf(gw, customer.accountId)).toMatchObject({ balance: CREDITS, reserved: 0 });
      expect(channels.revoked.submits()).toBe(1);
      expect(channels.spare.fake.requests).toHaveLength(0);
      // The provider echoes (a masked form of) the key it refused: none of it reaches the consumer.
      for (const piece of [wrongKey, wrongKey.slice(0, 12), wrongKey.slice(-8)]) expect(JSON.stringify(task)).not.toContain(piece);

      const view = await channelView(channels.revoked.id);
      expect(view.enabled).toBe(false);
      expect(typeof view.disabled_reason).toBe('string');
      expect(view.disabled_reason.length).toBeGreaterThan(0);

      const next = await runTask(customer.key, model);
      expect(next.status).toBe('succeeded');
      expect((await adminTask(next.id)).channel_id).toBe(channels.spare.id);
      expect(channels.revoked.submits()).toBe(1);
    });

    it('disables the channel too when the credential is refused while polling a running job', async () => {
      const { model, channels } = await setup('ark', [
        { name: 'revoked', priority: 10 },
        { name: 'spare', priority: 1 },
      ]);
      channels.revoked.fake.failNext('status', 'unauthorized');
      const customer = await createCustomer(gw, { credits: CREDITS });

      const task = await runTask(customer.key, model);
      expect(task.status).toBe('failed');
      expect(task.error).toMatchObject({ type: 'upstream_error', code: 'upstream_auth_failed' });
      expect(task.credits).toEqual({ reserved: PRICE, charged: 0, refunded: PRICE });
      expect(await accountOf(gw, customer.accountId)).toMatchObject({ balance: CREDITS, reserved: 0 });
      expect(channels.spare.fake.requests).toHaveLength(0);
      const view = await channelView(channels.revoked.id);
      expect(view).toMatchObject({ enabled: false });
      expect(typeof view.disabled_reason).toBe('string');
    });
  });

  describe('circuit breaker', () => {
    it('opens after circuitThreshold failures in a row, skips the channel, and closes after the cool-down on a success', async () => {
      const { model, channels } = await setup('replicate', [
        { name: 'flaky', priority: 10, settings: { circuitThreshold: 2, circuitCooldownMs: 2500 } },
        { name: 'steady', priority: 1 },
      ]);
      const customer = await createCustomer(gw, { credits: CREDITS });
      channels.flaky.fake.failAlways('submit', 'unavailable');

      for (let i = 1; i <= 2; i++) {
        const task = await runTask(customer.key, model);
        expect(task.status).toBe('succeeded');
        expect((await adminTask(task.id)).channel_id).toBe(channels.steady.id);
        expect(channels.flaky.submits()).toBe(i);
      }
      const open = await channelView(channels.flaky.id);
      expect(open.circuit).toMatchObject({ state: 'open', consecutive_failures: 2, last_error_code: 'upstream_unavailable' });
      expect(Date.parse(open.circuit.open_until)).toBeGreaterThan(Date.now());
      expect(open.enabled).toBe(true);

      // While open, the channel is not even asked.
      const skipped = await runTask(customer.key, model);
      expect(skipped.status).toBe('succeeded');
      expect((await adminTask(skipped.id)).attempts).toMatchObject([{ channelId: channels.steady.id, outcome: 'submitted' }]);
      expect(channels.flaky.submits()).toBe(2);

      // The provider recovers; once the cool-down is over the next task probes it and the success closes the circuit.
      channels.flaky.fake.failAlways('submit', null);
      await eventually('the circuit to become half-open', async () => (await channelView(channels.flaky.id)).circuit.state === 'half_open', 10_000);
      const probe = await runTask(customer.key, model);
      expect(probe.status).toBe('succeeded');
      expect((await adminTask(probe.id)).channel_id).toBe(channels.flaky.id);
      expect(channels.flaky.submits()).toBe(3);
      expect((await channelView(channels.flaky.id)).circuit).toMatchObject({ state: 'closed', consecutive_failures: 0, open_until: null });
      expect(await accountOf(gw, customer.accountId)).toMatchObject({ balance: CREDITS - 4 * PRICE, reserved: 0 });
    });

    it('counts jobs that fail mid-render for an infrastructure reason, not only refused submits', async () => {
      const { model, channels } = await setup('ark', [
        { name: 'broken-gpus', priority: 10, settings: { circuitThreshold: 2, circuitCooldownMs: 60_000 } },
        { name: 'steady', priority: 1 },
      ]);
      channels['broken-gpus'].fake.setJobPlan({ outcome: { kind: 'fail', code: 'InternalServiceError' } });
      const customer = await createCustomer(gw, { credits: CREDITS });

      for (let i = 1; i <= 2; i++) {
        const task = await runTask(customer.key, model);
        expect(task.status).toBe('succeeded');
        expect((await adminTask(task.id)).channel_id).toBe(channels.steady.id);
      }
      expect(channels['broken-gpus'].submits()).toBe(2);
      expect((await channelView(channels['broken-gpus'].id)).circuit).toMatchObject({ state: 'open', last_error_code: 'job_failed' });

      const third = await runTask(customer.key, model);
      expect(third.status).toBe('succeeded');
      expect(channels['broken-gpus'].submits()).toBe(2);
    });
  });

  describe('retries', () => {
    it.each([
      ['a connection reset', 'reset', 'connection_error'],
      ['a 502 HTML page from a proxy', 'bad_gateway', 'upstream_unavailable'],
      ['a 504', { kind: 'server_error', status: 504 }, 'upstream_unavailable'],
      ['a 503', 'unavailable', 'upstream_unavailable'],
      ['a cut JSON body', 'malformed', 'bad_response'],
    ] as const)('moves %s at submit to the next channel', async (_what, fault, code) => {
      const { model, channels } = await setup('ark', [
        { name: 'a', priority: 10 },
        { name: 'b', priority: 5 },
      ]);
      channels.a.fake.failNextSubmits(fault);
      const customer = await createCustomer(gw, { credits: CREDITS });

      const task = await runTask(customer.key, model);
      expect(task).toMatchObject({ status: 'succeeded', credits: { reserved: PRICE, charged: PRICE, refunded: 0 } });
      expect((await adminTask(task.id)).attempts).toMatchObject([
        { channelId: channels.a.id, outcome: 'failed', code },
        { channelId: channels.b.id, outcome: 'submitted' },
      ]);
      expect(channels.a.submits()).toBe(1);
      expect(channels.b.submits()).toBe(1);
    });

    it('ends invalid input failed at once: no other channel, full refund', async () => {
      const { model, channels } = await setup('ark', [
        { name: 'a', priority: 10 },
        { name: 'b', priority: 5 },
      ]);
      channels.a.fake.failNextSubmits('invalid');
      const customer = await createCustomer(gw, { credits: CREDITS });

      const task = await runTask(customer.key, model);
      expect(task.status).toBe('failed');
      expect(task.error).toMatchObject({ type: 'upstream_error', code: 'invalid_request' });
      expect(task.credits).toEqual({ reserved: PRICE, charged: 0, refunded: PRICE });
      expect(await accountOf(gw, customer.accountId)).toMatchObject({ balance: CREDITS, reserved: 0 });
      expect(channels.a.submits()).toBe(1);
      expect(channels.b.fake.requests).toHaveLength(0);
      expect((await channelView(channels.a.id)).circuit).toMatchObject({ state: 'closed', consecutive_failures: 0 });
    });

    it('cancels a task that is waiting out a Retry-After: no further submit, full refund', async () => {
      const { model, channels } = await setup('openai', [{ name: 'only' }]);
      channels.only.fake.failNextSubmits({ kind: 'rate_limited', retryAfter: '30' });
      const customer = await createCustomer(gw, { credits: CREDITS });
      const taskId = await createVideo(customer.key, model);
      await eventually('the 429 to be recorded', async () => ((await adminTask(taskId)).attempts as unknown[]).length === 1, 10_000);

      const started = Date.now();
      const cancelled = await gw.request('POST', `/v1/tasks/${taskId}/cancel`, { key: customer.key });
      expect(cancelled.status).toBe(200);
      const task = await waitForTask(gw, customer.key, taskId, { timeoutMs: 10_000 });
      expect(Date.now() - started).toBeLessThan(5000);
      expect(task).toMatchObject({ status: 'cancelled', credits: { reserved: PRICE, charged: 0, refunded: PRICE } });
      expect(await accountOf(gw, customer.accountId)).toMatchObject({ balance: CREDITS, reserved: 0 });
      expect(channels.only.submits()).toBe(1);
    });

    it('honours Retry-After when the only channel answers 429: the same channel succeeds on the second try', async () => {
      const { model, channels } = await setup('fal', [{ name: 'only' }]);
      channels.only.fake.failNextSubmits({ kind: 'rate_limited', retryAfter: '1' });
      const customer = await createCustomer(gw, { credits: CREDITS });

      const task = await runTask(customer.key, model);
      expect(task).toMatchObject({ status: 'succeeded', credits: { reserved: PRICE, charged: PRICE, refunded: 0 } });
      const [first, second] = channels.only.submitTimes();
      expect(channels.only.submits()).toBe(2);
      expect(second! - first!).toBeGreaterThanOrEqual(1000);
      expect(second! - first!).toBeLessThan(5000);
      expect((await adminTask(task.id)).attempts).toMatchObject([
        { channelId: channels.only.id, outcome: 'failed', code: 'rate_limited' },
        { channelId: channels.only.id, outcome: 'submitted' },
      ]);
    });

    it('waits the Retry-After the provider asked for, not just the default backoff', async () => {
      const { model, channels } = await setup('openai', [{ name: 'only' }]);
      channels.only.fake.failNextSubmits({ kind: 'rate_limited', retryAfter: '2' });
      const customer = await createCustomer(gw, { credits: CREDITS });

      const task = await runTask(customer.key, model);
      expect(task.status).toBe('succeeded');
      const [first, second] = channels.only.submitTimes();
      expect(second! - first!).toBeGreaterThanOrEqual(2000);
      expect(second! - first!).toBeLessThan(6000);
    });

    it(`tries at most MAX_CHANNEL_ATTEMPTS (${MAX_CHANNEL_ATTEMPTS}) channels, never the one that just failed twice in a row, then fails and refunds`, async () => {
      const { model, channels } = await setup('ark', [
        { name: 'a', priority: 10 },
        { name: 'b', priority: 5 },
      ]);
      channels.a.fake.failAlways('submit', 'unavailable');
      channels.b.fake.failAlways('submit', 'server_error');
      const customer = await createCustomer(gw, { credits: CREDITS });

      const task = await runTask(customer.key, model);
      expect(task.status).toBe('failed');
      expect(task.error).toMatchObject({ type: 'upstream_error', code: 'upstream_unavailable' });
      expect(task.credits).toEqual({ reserved: PRICE, charged: 0, refunded: PRICE });
      expect(await accountOf(gw, customer.accountId)).toMatchObject({ balance: CREDITS, reserved: 0 });
      const attempts = (await adminTask(task.id)).attempts as { channelId: string; outcome: string }[];
      expect(attempts.map((a) => a.channelId)).toEqual([channels.a.id, channels.b.id, channels.a.id, channels.b.id]);
      expect(attempts.every((a) => a.outcome === 'failed')).toBe(true);
      expect(channels.a.submits()).toBe(2);
      expect(channels.b.submits()).toBe(2);
    });

    it('moves on to a channel not tried yet before going back to one that failed', async () => {
      const { model, channels } = await setup('replicate', [
        { name: 'a', priority: 30 },
        { name: 'b', priority: 20 },
        { name: 'c', priority: 10 },
      ]);
      channels.a.fake.failNextSubmits({ kind: 'rate_limited', retryAfter: '30' });
      channels.b.fake.failNextSubmits('server_error');
      const customer = await createCustomer(gw, { credits: CREDITS });

      const started = Date.now();
      const task = await runTask(customer.key, model);
      expect(task).toMatchObject({ status: 'succeeded', credits: { reserved: PRICE, charged: PRICE, refunded: 0 } });
      expect(Date.now() - started).toBeLessThan(15_000);
      expect((await adminTask(task.id)).attempts.map((a: { channelId: string }) => a.channelId)).toEqual([
        channels.a.id, channels.b.id, channels.c.id,
      ]);
      expect(channels.a.submits()).toBe(1);
    });
  });
});
