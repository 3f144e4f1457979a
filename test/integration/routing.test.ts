/**
 * Channel routing and the retry policy across every real adapter, through the public API with real
 * PostgreSQL and Temporal. Each scenario makes its own model, two channels of one provider (each on its own
 * fake server, so the fake's request log says which channel was called) and a customer, then checks the
 * task, the credits, the wallet and what each fake received.
 */
import {
  startArkFake,
  startFalFake,
  startGeminiFake,
  startKlingFake,
  startOpenAIFake,
  startReplicateFake,
  type FakeProvider,
  type JobOutcome,
  type JobPlan,
  type RecordedRequest,
} from '../fakes';
import { accountOf, eventually } from '../support/checks';
import { createCustomer, startTestGateway, uniqueId, waitForTask, type TestGateway } from '../support/harness';

type ProviderId = 'openai' | 'ark' | 'replicate' | 'fal' | 'gemini' | 'kling';

/** What differs between adapters in these scenarios. */
interface AdapterCase {
  provider: ProviderId;
  start(): Promise<FakeProvider>;
  /** The upstream model name each channel maps the public model to (channel A, B, C). */
  upstream: [string, string, string];
  /** The upstream model of every job creation the fake received, in order. */
  submitted(fake: FakeProvider): string[];
  /** A job that fails mid-render for an infrastructure reason (worth another channel). */
  infraFailure: Extract<JobOutcome, { kind: 'fail' }>;
  /** Where the job sits while it is cancelled: ark can cancel only a queued task. */
  cancelPlan: Partial<JobPlan>;
  /** The HTTP method of the provider's cancel call; null when the protocol has none. */
  cancelMethod: 'DELETE' | 'POST' | 'PUT' | null;
}

/** Fast jobs: a few hundred milliseconds from submit to result. */
const FAST: Partial<JobPlan> = { queueMs: 50, runMs: 250 };
/** A job that is running and never ends by itself. */
const RUNNING_FOREVER: Partial<JobPlan> = { queueMs: 20, runMs: Infinity };

const CASES: AdapterCase[] = [
  {
    provider: 'openai',
    start: () => startOpenAIFake({ jobPlan: FAST }),
    upstream: ['sora-2', 'sora-2-pro', 'sora-2-2025-10-06'],
    submitted: (fake) => fake.requestsTo('POST', '/v1/videos').map((r) => String((r.body as { model?: unknown }).model)),
    infraFailure: { kind: 'fail', code: 'internal_error', message: 'Video generation failed because of an internal error.' },
    cancelPlan: RUNNING_FOREVER,
    cancelMethod: null,
  },
  {
    provider: 'ark',
    start: () => startArkFake({ jobPlan: FAST }),
    upstream: ['seedance-1-0-pro-250528', 'seedance-1-0-lite-t2v-250428', 'seedance-1-0-pro-fast-251015'],
    submitted: (fake) =>
      fake.requestsTo('POST', '/api/v3/contents/generations/tasks').map((r) => String((r.body as { model?: unknown }).model)),
    infraFailure: { kind: 'fail', code: 'InternalServiceError' },
    cancelPlan: { queueMs: Infinity },
    cancelMethod: 'DELETE',
  },
  {
    provider: 'replicate',
    start: () => startReplicateFake({ jobPlan: FAST }),
    upstream: ['bytedance/seedance-1-pro', 'minimax/video-01', 'wan-video/wan-2.2-t2v-fast'],
    submitted: (fake) =>
      fake
        .requestsTo('POST', /^\/v1\/models\/[^/]+\/[^/]+\/predictions$/)
        .map((r) => r.path.split('/').slice(3, 5).map(decodeURIComponent).join('/')),
    infraFailure: { kind: 'fail', message: 'CUDA out of memory. Tried to allocate 2.00 GiB' },
    cancelPlan: RUNNING_FOREVER,
    cancelMethod: 'POST',
  },
  {
    provider: 'fal',
    start: () => startFalFake({ jobPlan: FAST }),
    upstream: ['fal-ai/kling-video/v2/master/text-to-video', 'fal-ai/wan/v2.2-a14b/text-to-video', 'fal-ai/minimax/hailuo-02/standard/text-to-video'],
    submitted: (fake) => fake.requestsTo('POST', /^\//).map((r) => r.path.slice(1).split('/').map(decodeURIComponent).join('/')),
    infraFailure: { kind: 'fail', code: 'runner_disconnected', message: 'The runner disconnected while processing the request.' },
    cancelPlan: RUNNING_FOREVER,
    cancelMethod: 'PUT',
  },
  {
    provider: 'gemini',
    start: () => startGeminiFake({ jobPlan: FAST }),
    upstream: ['veo-3.1-generate-preview', 'veo-3.1-fast-generate-preview', 'veo-3.1-lite-generate-preview'],
    submitted: (fake) =>
      fake.requestsTo('POST', /:predictLongRunning$/).map((r) => decodeURIComponent(r.path.split('/')[3]!.replace(/:predictLongRunning$/, ''))),
    infraFailure: { kind: 'fail', code: '13', message: 'Internal error encountered.' },
    cancelPlan: RUNNING_FOREVER,
    cancelMethod: null,
  },
  {
    provider: 'kling',
    start: () => startKlingFake({ jobPlan: FAST }),
    upstream: ['kling-v2-6', 'kling-v2-5-turbo', 'kling-v3'],
    submitted: (fake) => fake.requestsTo('POST', /^\/v1\/videos\//).map((r) => String((r.body as { model_name?: unknown }).model_name)),
    infraFailure: { kind: 'fail', message: 'internal error, please try again later' },
    cancelPlan: RUNNING_FOREVER,
    cancelMethod: null,
  },
];

/** 4 s of video at 5 credits a second. */
const PRICE = 20;
const CREDITS = 100;

describe('routing across adapters', () => {
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

  /**
   * A model of its own, `channels` channels of the provider (A priority 30, B 20, C 10: A is asked first),
   * each on its own fake and mapping the model to its own upstream name, and a customer with 100 credits.
   */
  async function scenario(spec: AdapterCase, opts: { channels?: number; deadlineSeconds?: number; settings?: Record<string, unknown>[] } = {}) {
    const model = uniqueId(`rt-${spec.provider}`);
    await gw.admin('POST', '/admin/models', {
      id: model, category: 'video', pricing: { per_second: 5 }, default_duration: 5,
      ...(opts.deadlineSeconds ? { deadline_seconds: opts.deadlineSeconds } : {}),
    });
    const channels: { id: string; fake: FakeProvider; upstream: string }[] = [];
    for (let i = 0; i < (opts.channels ?? 2); i++) {
      const fake = await spec.start();
      fakes.push(fake);
      const channel = await gw.admin('POST', '/admin/channels', {
        name: `${spec.provider} ${'ABC'[i]} for ${model}`,
        provider: spec.provider,
        base_url: fake.url,
        api_key: fake.apiKey,
        models: { [model]: spec.upstream[i] },
        priority: 30 - 10 * i,
        settings: { pollIntervalMs: 100, timeoutMs: 5000, ...opts.settings?.[i] },
      });
      channels.push({ id: channel.id as string, fake, upstream: spec.upstream[i] });
    }
    const customer = await createCustomer(gw, { credits: CREDITS });
    return { model, channels, customer };
  }

  async function createVideo(key: string, model: string): Promise<string> {
    const created = await gw.request('POST', '/v1/videos', { key, body: { model, prompt: 'a red fox running through fresh snow', duration: 4 } });
    expect(created.status).toBe(200);
    return created.body.id as string;
  }

  async function adminTask(taskId: string): Promise<any> {
    return gw.admin('GET', `/admin/tasks/${taskId}`);
  }

  /** The provider job our task is on now (from the admin view). */
  async function providerJobId(taskId: string): Promise<string> {
    const task = await adminTask(taskId);
    expect(typeof task.provider_job_id).toBe('string');
    return task.provider_job_id as string;
  }

  /** Requests other than reads that name the job: the provider's cancel calls. */
  function cancelCalls(fake: FakeProvider, jobId: string): RecordedRequest[] {
    return fake.requests.filter((r) => r.method !== 'GET' && r.path.includes(jobId));
  }

  /** The channel keys appear nowhere: not in Temporal history (payloads decoded), the task objects or the error. */
  async function expectNoSecrets(taskId: string, consumerKey: string, keys: string[], mustMention: string): Promise<void> {
    const history = await gw.gateway.temporal.workflow.getHandle(taskId).fetchHistory();
    // Payload bytes come as base64 strings (or bytes): decode them so a key inside would show.
    const historyText = JSON.stringify(history, function (this: Record<string, unknown>, name, value) {
      const raw = this[name];
      if (raw instanceof Uint8Array) return Buffer.from(raw).toString('utf8');
      if (name === 'data' && typeof raw === 'string') return Buffer.from(raw, 'base64').toString('utf8');
      return value;
    });
    // The payloads really are readable here: the activity inputs name the upstream model.
    expect(historyText).toContain(mustMention);
    const publicTask = JSON.stringify((await gw.request('GET', `/v1/tasks/${taskId}`, { key: consumerKey })).body);
    const operatorTask = JSON.stringify(await adminTask(taskId));
    const pieces = keys.flatMap((key) => [key, ...key.split(':')]).filter((piece) => piece.length >= 8);
    for (const piece of pieces) {
      expect(historyText).not.toContain(piece);
      expect(publicTask).not.toContain(piece);
      expect(operatorTask).not.toContain(piece);
    }
  }

  describe.each(CASES)('$provider', (spec) => {
    it('succeeds on the first channel with its upstream model name and keeps the output after the provider URL expired', async () => {
      const { model, channels, customer } = await scenario(spec);
      const [a, b] = channels;
      const taskId = await createVideo(customer.key, model);

      const task = await waitForTask(gw, customer.key, taskId);
      expect(task).toMatchObject({ status: 'succeeded', progress: 100, model, error: null, credits: { reserved: PRICE, charged: PRICE, refunded: 0 } });
      expect(spec.submitted(a.fake)).toEqual([a.upstream]);
      expect(b.fake.requests).toHaveLength(0);
      expect(await accountOf(gw, customer.accountId)).toMatchObject({ balance: CREDITS - PRICE, reserved: 0 });
      expect((await adminTask(taskId)).channel_id).toBe(a.id);

      // The provider's link dies; ours still serves the same bytes, without any key.
      const job = a.fake.job(await providerJobId(taskId));
      const providerFile = job.files?.[0];
      expect(providerFile).toBeDefined();
      a.fake.expireOutputs();
      expect((await fetch(providerFile!.url)).status).not.toBe(200);
      expect(task.output).toHaveLength(1);
      expect(task.output[0].content_type).toBe('video/mp4');
      const download = await fetch(task.output[0].url);
      expect(download.status).toBe(200);
      const bytes = Buffer.from(await download.arrayBuffer());
      expect(bytes.equals(providerFile!.bytes)).toBe(true);
      expect(task.output[0].bytes).toBe(bytes.length);

      await expectNoSecrets(taskId, customer.key, [a.fake.apiKey, b.fake.apiKey], a.upstream);
    });

    it('moves a 429 at submit to the next channel, which serves it', async () => {
      const { model, channels, customer } = await scenario(spec);
      const [a, b] = channels;
      a.fake.failNextSubmits({ kind: 'rate_limited', retryAfter: '30' });
      const taskId = await createVideo(customer.key, model);

      const task = await waitForTask(gw, customer.key, taskId);
      expect(task).toMatchObject({ status: 'succeeded', error: null, credits: { reserved: PRICE, charged: PRICE, refunded: 0 } });
      expect(spec.submitted(a.fake)).toEqual([a.upstream]);
      expect(spec.submitted(b.fake)).toEqual([b.upstream]);
      const operator = await adminTask(taskId);
      expect(operator.channel_id).toBe(b.id);
      expect(operator.attempts).toMatchObject([
        { channelId: a.id, outcome: 'failed', code: 'rate_limited' },
        { channelId: b.id, outcome: 'submitted' },
      ]);
      expect(await accountOf(gw, customer.accountId)).toMatchObject({ balance: CREDITS - PRICE, reserved: 0 });
    });

    it('moves a 5xx at submit to the next channel', async () => {
      const { model, channels, customer } = await scenario(spec);
      const [a, b] = channels;
      a.fake.failNextSubmits('server_error');
      const taskId = await createVideo(customer.key, model);

      const task = await waitForTask(gw, customer.key, taskId);
      expect(task).toMatchObject({ status: 'succeeded', credits: { reserved: PRICE, charged: PRICE, refunded: 0 } });
      expect(spec.submitted(a.fake)).toEqual([a.upstream]);
      expect(spec.submitted(b.fake)).toEqual([b.upstream]);
      expect((await adminTask(taskId)).attempts).toMatchObject([
        { channelId: a.id, outcome: 'failed', code: 'upstream_unavailable' },
        { channelId: b.id, outcome: 'submitted' },
      ]);
      expect(await accountOf(gw, customer.accountId)).toMatchObject({ balance: CREDITS - PRICE, reserved: 0 });
    });

    it('gives up on a channel that hangs after its timeoutMs and moves to the next', async () => {
      const { model, channels, customer } = await scenario(spec, { settings: [{ timeoutMs: 1500 }] });
      const [a, b] = channels;
      a.fake.failNextSubmits('hang');
      const started = Date.now();
      const taskId = await createVideo(customer.key, model);

      const task = await waitForTask(gw, customer.key, taskId);
      expect(task).toMatchObject({ status: 'succeeded', credits: { reserved: PRICE, charged: PRICE, refunded: 0 } });
      expect(spec.submitted(a.fake)).toEqual([a.upstream]);
      expect(spec.submitted(b.fake)).toEqual([b.upstream]);
      // B was asked only once A's timeout had passed, and not much later.
      const bAsked = b.fake.requests[0]!.at - started;
      expect(bAsked).toBeGreaterThanOrEqual(1400);
      expect(bAsked).toBeLessThan(10_000);
      expect((await adminTask(taskId)).attempts).toMatchObject([
        { channelId: a.id, outcome: 'failed', code: 'timeout' },
        { channelId: b.id, outcome: 'submitted' },
      ]);
    });

    it('ends a content-policy refusal failed without trying another channel, refunds it and never echoes the key', async () => {
      const { model, channels, customer } = await scenario(spec);
      const [a, b] = channels;
      // A provider that echoes the credential in its refusal must not leak it through us.
      a.fake.failNextSubmits({ kind: 'policy', message: `NSFW content detected in the prompt (request by ${a.fake.apiKey})` });
      const taskId = await createVideo(customer.key, model);

      const task = await waitForTask(gw, customer.key, taskId);
      expect(task.status).toBe('failed');
      expect(task.error).toMatchObject({ type: 'upstream_error', code: 'content_policy_violation' });
      expect(typeof task.error.message).toBe('string');
      expect(task.error.message.length).toBeGreaterThan(0);
      expect(task.credits).toEqual({ reserved: PRICE, charged: 0, refunded: PRICE });
      expect(task.output).toEqual([]);
      expect(spec.submitted(a.fake)).toEqual([a.upstream]);
      expect(b.fake.requests).toHaveLength(0);
      expect(await accountOf(gw, customer.accountId)).toMatchObject({ balance: CREDITS, reserved: 0 });
      expect((await adminTask(taskId)).attempts).toMatchObject([{ channelId: a.id, outcome: 'failed', code: 'content_policy_violation' }]);
      // Not an operator problem: the channel stays enabled and its circuit closed.
      const channel = await gw.admin('GET', `/admin/channels/${a.id}`);
      expect(channel).toMatchObject({ enabled: true, disabled_reason: null, circuit: { state: 'closed', consecutive_failures: 0 } });

      await expectNoSecrets(taskId, customer.key, [a.fake.apiKey, b.fake.apiKey], a.upstream);
    });

    it('resubmits a job that failed mid-render for an infrastructure reason to the next channel', async () => {
      const { model, channels, customer } = await scenario(spec);
      const [a, b] = channels;
      // The provider's failure text echoes the credential: it must not travel on through us.
      const message = `${spec.infraFailure.message ?? 'The job failed'} (worker token ${a.fake.apiKey})`;
      a.fake.planNextJobs({ outcome: { ...spec.infraFailure, message } });
      const taskId = await createVideo(customer.key, model);

      const task = await waitForTask(gw, customer.key, taskId);
      expect(task).toMatchObject({ status: 'succeeded', error: null, credits: { reserved: PRICE, charged: PRICE, refunded: 0 } });
      expect(task.output).toHaveLength(1);
      expect(spec.submitted(a.fake)).toEqual([a.upstream]);
      expect(a.fake.jobPhase(a.fake.lastJob().id)).toBe('failed');
      expect(spec.submitted(b.fake)).toEqual([b.upstream]);
      const operator = await adminTask(taskId);
      expect(operator.channel_id).toBe(b.id);
      expect(operator.provider_job_id).toBe(b.fake.lastJob().id);
      expect(operator.attempts).toMatchObject([
        { channelId: a.id, outcome: 'submitted', jobId: a.fake.lastJob().id },
        { channelId: b.id, outcome: 'submitted', jobId: b.fake.lastJob().id },
      ]);
      expect(await accountOf(gw, customer.accountId)).toMatchObject({ balance: CREDITS - PRICE, reserved: 0 });

      await expectNoSecrets(taskId, customer.key, [a.fake.apiKey, b.fake.apiKey], b.upstream);
    });

    it(`cancels: ${spec.cancelMethod ? `${spec.cancelMethod} upstream, ends cancelled, refunds exactly` : 'no cancel upstream (the protocol has none): follows the job and charges what it delivered'}`, async () => {
      const { model, channels, customer } = await scenario(spec);
      const [a, b] = channels;
      a.fake.planNextJobs(spec.cancelPlan);
      const taskId = await createVideo(customer.key, model);
      await waitForTask(gw, customer.key, taskId, { until: (t) => t.status === 'processing', timeoutMs: 15_000 });
      const jobId = await providerJobId(taskId);
      expect(await accountOf(gw, customer.accountId)).toMatchObject({ balance: CREDITS - PRICE, reserved: PRICE });

      const cancelled = await gw.request('POST', `/v1/tasks/${taskId}/cancel`, { key: customer.key });
      expect(cancelled.status).toBe(200);
      expect(cancelled.body.id).toBe(taskId);

      if (!spec.cancelMethod) {
        // The provider bills a job it can't stop: the task follows it and is settled as delivered.
        expect(cancelled.body.status).toBe('processing');
        a.fake.finishJob(jobId);
        const delivered = await waitForTask(gw, customer.key, taskId, { timeoutMs: 15_000 });
        expect(delivered).toMatchObject({ status: 'succeeded', credits: { reserved: PRICE, charged: PRICE, refunded: 0 } });
        expect(delivered.output).toHaveLength(1);
        expect(await accountOf(gw, customer.accountId)).toMatchObject({ balance: CREDITS - PRICE, reserved: 0 });
        expect(cancelCalls(a.fake, jobId)).toEqual([]);
        return;
      }
      const task = await waitForTask(gw, customer.key, taskId, { timeoutMs: 15_000 });
      expect(task).toMatchObject({ status: 'cancelled', credits: { reserved: PRICE, charged: 0, refunded: PRICE }, output: [] });
      expect(await accountOf(gw, customer.accountId)).toMatchObject({ balance: CREDITS, reserved: 0 });
      expect(cancelCalls(a.fake, jobId).map((r) => r.method)).toEqual([spec.cancelMethod]);
      expect(a.fake.jobPhase(jobId)).toBe('cancelled');
      expect(spec.submitted(a.fake)).toEqual([a.upstream]);
      expect(b.fake.requests).toHaveLength(0);
    });

    it('fails a task past its model deadline with deadline_exceeded, cancels upstream where possible, refunds', async () => {
      const { model, channels, customer } = await scenario(spec, { deadlineSeconds: 2 });
      const [a, b] = channels;
      a.fake.planNextJobs(spec.cancelPlan);
      const started = Date.now();
      const taskId = await createVideo(customer.key, model);
      if (!spec.cancelMethod) {
        // Nothing can stop it upstream: past the deadline the task follows the job; here the job then fails.
        const jobId = await eventually('the job', async () => (a.fake.jobs.size > 0 ? a.fake.lastJob().id : undefined), 10_000);
        await new Promise((resolve) => setTimeout(resolve, 2500));
        expect((await gw.request('GET', `/v1/tasks/${taskId}`, { key: customer.key })).body.status).toBe('processing');
        a.fake.job(jobId).plan.outcome = { kind: 'fail', code: 'internal_error' };
        a.fake.finishJob(jobId);
      }

      const task = await waitForTask(gw, customer.key, taskId, { timeoutMs: 20_000 });
      expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
      expect(task.status).toBe('failed');
      expect(task.error).toMatchObject({ type: 'upstream_error', code: 'deadline_exceeded' });
      expect(task.credits).toEqual({ reserved: PRICE, charged: 0, refunded: PRICE });
      expect(task.output).toEqual([]);
      expect(await accountOf(gw, customer.accountId)).toMatchObject({ balance: CREDITS, reserved: 0 });
      const jobId = a.fake.lastJob().id;
      const calls = cancelCalls(a.fake, jobId);
      if (spec.cancelMethod) {
        expect(calls.map((r) => r.method)).toEqual([spec.cancelMethod]);
        expect(a.fake.jobPhase(jobId)).toBe('cancelled');
      } else {
        expect(calls).toEqual([]);
      }
      expect(b.fake.requests).toHaveLength(0);
    });
  });

  describe('ark cancel rules', () => {
    const ark = CASES.find((c) => c.provider === 'ark')!;

    /** A task whose Ark job is running (Ark refuses to DELETE it), then cancelled by its consumer. */
    async function cancelRunningArkTask() {
      const { model, channels, customer } = await scenario(ark);
      const [a] = channels;
      a.fake.planNextJobs(RUNNING_FOREVER);
      const taskId = await createVideo(customer.key, model);
      await waitForTask(gw, customer.key, taskId, { until: (t) => t.status === 'processing', timeoutMs: 15_000 });
      const jobId = await providerJobId(taskId);
      a.fake.startJob(jobId);
      expect(a.fake.jobPhase(jobId)).toBe('running');
      const cancelled = await gw.request('POST', `/v1/tasks/${taskId}/cancel`, { key: customer.key });
      return { a, customer, taskId, jobId, cancelled };
    }

    it('does not DELETE a running Ark task (Ark refuses it); a job that fails anyway is refunded', async () => {
      const { a, customer, taskId, jobId, cancelled } = await cancelRunningArkTask();
      expect(cancelled.status).toBe(200);
      expect(cancelled.body.status).toBe('processing');
      a.fake.job(jobId).plan.outcome = { kind: 'fail', code: 'InternalServiceError' };
      a.fake.finishJob(jobId);
      const task = await waitForTask(gw, customer.key, taskId, { timeoutMs: 15_000 });
      expect(task).toMatchObject({ status: 'cancelled', credits: { reserved: PRICE, charged: 0, refunded: PRICE } });
      expect(await accountOf(gw, customer.accountId)).toMatchObject({ balance: CREDITS, reserved: 0 });
      expect(a.fake.requestsTo('DELETE', /./)).toEqual([]);
    });

    it('a running Ark task that completes after the cancel is settled as delivered, its output kept', async () => {
      const { a, customer, taskId, jobId, cancelled } = await cancelRunningArkTask();
      expect(cancelled.status).toBe(200);
      a.fake.finishJob(jobId);
      const task = await waitForTask(gw, customer.key, taskId, { timeoutMs: 15_000 });
      expect(task).toMatchObject({ status: 'succeeded', credits: { reserved: PRICE, charged: PRICE, refunded: 0 } });
      expect(task.output).toHaveLength(1);
      expect(await accountOf(gw, customer.accountId)).toMatchObject({ balance: CREDITS - PRICE, reserved: 0 });
      expect(a.fake.requestsTo('DELETE', /./)).toEqual([]);
    });
  });

  describe('cancel while the job is being created', () => {
    const replicate = CASES.find((c) => c.provider === 'replicate')!;

    it('still cancels the prediction whose create was in flight (Prefer: wait holds the answer)', async () => {
      const { model, channels, customer } = await scenario(replicate, { settings: [{ preferWaitSeconds: 2, timeoutMs: 6000 }] });
      const [a, b] = channels;
      a.fake.planNextJobs(RUNNING_FOREVER);
      const taskId = await createVideo(customer.key, model);
      await eventually('the create to reach the provider', async () => replicate.submitted(a.fake).length === 1, 10_000, 25);

      const cancelled = await gw.request('POST', `/v1/tasks/${taskId}/cancel`, { key: customer.key });
      expect(cancelled.status).toBe(200);
      const task = await waitForTask(gw, customer.key, taskId, { timeoutMs: 15_000 });
      expect(task).toMatchObject({ status: 'cancelled', credits: { reserved: PRICE, charged: 0, refunded: PRICE }, output: [] });
      expect(await accountOf(gw, customer.accountId)).toMatchObject({ balance: CREDITS, reserved: 0 });

      // The prediction the provider made from that create must not run on at our expense.
      const jobId = a.fake.lastJob().id;
      await eventually('the prediction to be cancelled upstream', async () => a.fake.jobPhase(jobId) === 'cancelled', 10_000);
      expect(cancelCalls(a.fake, jobId).map((r) => r.method)).toEqual(['POST']);
      expect(b.fake.requests).toHaveLength(0);
    });
  });

  describe('outputs', () => {
    const openai = CASES.find((c) => c.provider === 'openai')!;

    it('fails and refunds a task whose output the provider refuses to hand over, instead of retrying the copy forever', async () => {
      const { model, channels, customer } = await scenario(openai);
      const [a, b] = channels;
      a.fake.failAlways('content', { kind: 'invalid', status: 404, code: 'video_content_expired', message: 'The content for this video has expired.' });
      const taskId = await createVideo(customer.key, model);

      const task = await waitForTask(gw, customer.key, taskId, { timeoutMs: 20_000 });
      expect(task.status).toBe('failed');
      expect(task.error).toMatchObject({ type: 'upstream_error', code: 'output_unavailable' });
      expect(task.credits).toEqual({ reserved: PRICE, charged: 0, refunded: PRICE });
      expect(task.output).toEqual([]);
      expect(await accountOf(gw, customer.accountId)).toMatchObject({ balance: CREDITS, reserved: 0 });
      expect(a.fake.requestsTo('GET', /\/content$/).length).toBeGreaterThanOrEqual(1);
      expect(b.fake.requests).toHaveLength(0);
    });

    it('fails and refunds a task whose output URL was already dead when we came to copy it', async () => {
      const ark = CASES.find((c) => c.provider === 'ark')!;
      const { model, channels, customer } = await scenario(ark);
      const [a] = channels;
      a.fake.setOutputTtlMs(0);
      const taskId = await createVideo(customer.key, model);

      const task = await waitForTask(gw, customer.key, taskId, { timeoutMs: 20_000 });
      expect(task.status).toBe('failed');
      expect(task.error).toMatchObject({ type: 'upstream_error', code: 'output_unavailable' });
      expect(task.credits).toEqual({ reserved: PRICE, charged: 0, refunded: PRICE });
      expect(await accountOf(gw, customer.accountId)).toMatchObject({ balance: CREDITS, reserved: 0 });
    });
  });
});
