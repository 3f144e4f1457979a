/**
 * The shared provider poller (src/providers/job-poller): a job of a polled provider is read by the
 * worker's poller, which wakes the workflow, instead of by one long waitForProvider activity. Through the
 * HTTP API, real PostgreSQL and Temporal; the pollers' sharing and take-over with pollers built here on
 * the same database and a provider of the test's own that counts its reads. Nothing is timed: tests
 * count reads and look at histories.
 */
import { startFalFake, type FalFake } from '../fakes';
import { accountOf, sql } from '../support/checks';
import { createCustomer, createMockModel, startTestGateway, uniqueId, waitForTask, type TestGateway } from '../support/harness';
import { startJobPoller, type JobPoller, type WakeWorkflow } from '../../src/providers/job-poller/job-poller';
import { createPollStore } from '../../src/providers/job-poller/poll-store';
import { createProviderRegistry } from '../../src/providers/registry';
import type { MediaProvider, ProviderJob } from '../../src/providers/types';

const BACKSTOP_NEVER = 10 * 60 * 1000;

describe('shared provider poller', () => {
  let gw: TestGateway;
  /** The same gateway code with PROVIDER_POLLER=activity: today's waitForProvider activity. */
  let activityGw: TestGateway;
  const fakes: FalFake[] = [];
  const pollers: JobPoller[] = [];

  beforeAll(async () => {
    [gw, activityGw] = await Promise.all([startTestGateway(), startTestGateway({ env: { PROVIDER_POLLER: 'activity' } })]);
  });
  afterEach(async () => {
    await Promise.all(fakes.splice(0).map((fake) => fake.close()));
    for (const poller of pollers.splice(0)) poller.kill();
  });
  afterAll(async () => {
    await Promise.all([gw?.stop(), activityGw?.stop()]);
  });

  async function activitiesScheduled(g: TestGateway, taskId: string): Promise<string[]> {
    const history = await g.gateway.temporal.workflow.getHandle(taskId).fetchHistory();
    return (history.events ?? []).map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name).filter((name): name is string => Boolean(name));
  }

  /** The activity type of each local activity the run recorded. */
  async function localActivities(g: TestGateway, taskId: string): Promise<string[]> {
    const history = await g.gateway.temporal.workflow.getHandle(taskId).fetchHistory();
    return (history.events ?? [])
      .filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity')
      .map((e) => JSON.parse(Buffer.from(e.markerRecordedEventAttributes!.details!.data!.payloads![0]!.data!).toString('utf8')).activity_type as string);
  }

  async function signals(g: TestGateway, taskId: string): Promise<string[]> {
    const history = await g.gateway.temporal.workflow.getHandle(taskId).fetchHistory();
    return (history.events ?? []).map((e) => e.workflowExecutionSignaledEventAttributes?.signalName).filter((name): name is string => Boolean(name));
  }

  async function watched(g: TestGateway, taskId: string): Promise<number> {
    const [row] = await sql<{ n: number }>(g, 'select count(*)::int as n from provider_job_polls where task_id = ?', [taskId]);
    return row!.n;
  }

  it('a job completed upstream is finished by the poller\'s signal: no waitForProvider activity is scheduled', async () => {
    const { model } = await createMockModel(gw, { category: 'video', pricing: { per_second: 2 }, settings: { durationMs: 600, callbackBackstopPollMs: BACKSTOP_NEVER } });
    const customer = await createCustomer(gw, { credits: 100 });
    const created = await gw.request('POST', '/v1/videos', { key: customer.key, body: { model, prompt: 'a fox', duration: 5 } });
    expect(created.status).toBe(200);
    const taskId = created.body.id as string;
    expect(await waitForTask(gw, customer.key, taskId)).toMatchObject({ status: 'succeeded', credits: { charged: 10 } });

    const scheduled = await activitiesScheduled(gw, taskId);
    expect(scheduled).not.toContain('waitForProvider');
    // The read the signal asks for runs inside the workflow task (a local activity), not through the queue.
    expect(scheduled).toEqual(['submitToProvider']);
    expect(await localActivities(gw, taskId)).toContain('readProviderJob');
    expect(await signals(gw, taskId)).toContain('providerUpdate');
    expect(await watched(gw, taskId)).toBe(0);
    expect(await accountOf(gw, customer.accountId)).toEqual(expect.objectContaining({ balance: 90, reserved: 0 }));
  });

  it('PROVIDER_POLLER=activity keeps one waitForProvider activity per job and registers nothing', async () => {
    const { model } = await createMockModel(activityGw, { category: 'video', pricing: { per_second: 2 }, settings: { durationMs: 300 } });
    const customer = await createCustomer(activityGw, { credits: 100 });
    const created = await activityGw.request('POST', '/v1/videos', { key: customer.key, body: { model, prompt: 'a fox', duration: 5 } });
    const taskId = created.body.id as string;
    expect(await waitForTask(activityGw, customer.key, taskId)).toMatchObject({ status: 'succeeded', credits: { charged: 10 } });
    expect(await activitiesScheduled(activityGw, taskId)).toContain('waitForProvider');
    expect(await signals(activityGw, taskId)).toEqual([]);
  });

  /** A channel row for loadChannelAccess (the provider below stands in for the mock) and a queue of the test's own. */
  async function pollSetup() {
    const { channelId } = await createMockModel(gw, { category: 'video', pricing: { per_second: 1 } });
    const queue = uniqueId('poll-q');
    const store = createPollStore(() => gw.gateway.orm.em.getKnex());
    const register = (taskId: string, opts: { attempt?: number; baseIntervalMs?: number } = {}) =>
      store.register({
        taskId, attempt: opts.attempt ?? 1, queue, channelId, job: { jobId: `job-${taskId}` }, request: { kind: 'video', model: 'm', prompt: 'p', references: {}, options: {} },
        baseIntervalMs: opts.baseIntervalMs ?? 20, intervalMs: opts.baseIntervalMs ?? 20, firstReadInMs: 0,
      });
    return { queue, register };
  }

  function provider(status: (jobId: string) => Promise<ProviderJob>) {
    const stub = { id: 'mock', kinds: ['video'], status: (_access: unknown, ref: { jobId: string }) => status(ref.jobId) } as unknown as MediaProvider;
    return createProviderRegistry([stub]);
  }

  function poller(queue: string, providers: ReturnType<typeof provider>, wake: WakeWorkflow, leaseMs?: number): JobPoller {
    const started = startJobPoller({ orm: gw.gateway.orm, providers, box: gw.gateway.box, log: silentLog, queue, wake, progress: { set() {} }, leaseMs });
    pollers.push(started);
    return started;
  }

  async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  it('two pollers share the jobs of a queue and never read the same job at once, even a read slower than the lease', async () => {
    const { queue, register } = await pollSetup();
    const jobs = Array.from({ length: 40 }, (_, i) => `task_share${i}_${uniqueId('t')}`);
    for (const taskId of jobs) await register(taskId);
    const reading = new Map<string, number>();
    const reads = new Map<string, number>();
    let overlaps = 0;
    const woken: string[] = [];
    const slow = new Set(jobs.slice(0, 3).map((t) => `job-${t}`));
    const status = async (jobId: string): Promise<ProviderJob> => {
      if ((reading.get(jobId) ?? 0) > 0) overlaps += 1;
      reading.set(jobId, (reading.get(jobId) ?? 0) + 1);
      const count = (reads.get(jobId) ?? 0) + 1;
      reads.set(jobId, count);
      // A few reads take longer than the lease: the reader's renewals must keep the other poller off.
      await new Promise((resolve) => setTimeout(resolve, slow.has(jobId) && count === 1 ? 5000 : 5));
      reading.set(jobId, reading.get(jobId)! - 1);
      return { jobId, status: count >= 4 ? 'succeeded' : 'processing', progress: count * 20, outputs: [] };
    };
    const wake: WakeWorkflow = async (taskId) => {
      woken.push(taskId);
      return 'gone';
    };
    // A lease of 4 s renewed every 1.3 s: a loaded machine's late timers must not count as a dead poller.
    const a = poller(queue, provider(status), wake, 4000);
    const b = poller(queue, provider(status), wake, 4000);
    await until('every job read to its end', () => jobs.every((t) => woken.includes(t)));
    await Promise.all([a.stop(), b.stop()]);

    expect(overlaps).toBe(0);
    for (const taskId of jobs) expect(reads.get(`job-${taskId}`)).toBe(4);
    // Woken once each (the workflow is gone, so the job is forgotten).
    expect(woken.sort()).toEqual([...jobs].sort());
    const [left] = await sql<{ n: number }>(gw, 'select count(*)::int as n from provider_job_polls where queue = ?', [queue]);
    expect(left!.n).toBe(0);
  });

  it('a poller killed while it holds a job\'s lease loses nothing: another poller takes the job over and wakes the workflow', async () => {
    const { queue, register } = await pollSetup();
    const taskId = `task_kill_${uniqueId('t')}`;
    await register(taskId, { attempt: 2 });
    let firstReads = 0;
    // The first poller's read never answers: it dies holding the lease.
    const first = poller(queue, provider(() => {
      firstReads += 1;
      return new Promise<ProviderJob>(() => undefined);
    }), async () => 'sent', 1000);
    await until('the first poller reading the job', () => firstReads === 1);
    first.kill();

    const woken: [string, number][] = [];
    poller(queue, provider(async (jobId) => ({ jobId, status: 'succeeded', progress: 100, outputs: [] })), async (id, attempt) => {
      woken.push([id, attempt]);
      return 'sent';
    }, 1000);
    await until('the second poller waking the workflow', () => woken.length > 0);
    expect(woken[0]).toEqual([taskId, 2]);
    expect(firstReads).toBe(1);
  });

  /** A fal channel with callbacks off (so it is polled), reads every 100 ms. */
  async function falModel(g: TestGateway, fake: FalFake): Promise<string> {
    const id = uniqueId('poll-video');
    await g.admin('POST', '/admin/models', { id, category: 'video', pricing: { per_second: 3 }, default_duration: 5 });
    await g.admin('POST', '/admin/channels', {
      name: `fal for ${id}`, provider: 'fal', base_url: fake.url, api_key: fake.apiKey, models: { [id]: 'fal-ai/kling-video/v2.1/standard/text-to-video' },
      settings: { pollIntervalMs: 100, timeoutMs: 5000, callbacks: false, callbackBackstopPollMs: BACKSTOP_NEVER },
    });
    return id;
  }

  const falStatusReads = (fake: FalFake) => fake.requests.filter((r) => r.method === 'GET' && r.path.endsWith('/status')).length;

  it('failed status reads are retried at the poll interval; a few in a row do not end the attempt', async () => {
    const fake = await startFalFake({ jobPlan: { queueMs: 30, runMs: 400 } });
    fakes.push(fake);
    fake.failNext('status', 'unavailable', 'unavailable', 'unavailable');
    const model = await falModel(gw, fake);
    const customer = await createCustomer(gw, { credits: 100 });
    const created = await gw.request('POST', '/v1/videos', { key: customer.key, body: { model, prompt: 'a fox', duration: 5 } });
    const taskId = created.body.id as string;
    expect(await waitForTask(gw, customer.key, taskId)).toMatchObject({ status: 'succeeded', credits: { charged: 15 } });
    expect(falStatusReads(fake)).toBeGreaterThanOrEqual(4);
    const [row] = await sql<{ attempts: { outcome: string }[] }>(gw, 'select attempts from tasks where id = ?', [taskId]);
    expect(row!.attempts.map((a) => a.outcome)).toEqual(['submitted']);
    expect(await activitiesScheduled(gw, taskId)).not.toContain('waitForProvider');
  });

  it.each([
    ['a provider that keeps failing (503)', 'unavailable' as const],
    ['a credential refused mid-job (401)', 'unauthorized' as const],
  ])('%s: the task ends exactly as with the waitForProvider activity', async (_name, fault) => {
    async function run(g: TestGateway) {
      const fake = await startFalFake({ jobPlan: { queueMs: 30, runMs: 60_000 } });
      fakes.push(fake);
      fake.failAlways('status', fault);
      const model = await falModel(g, fake);
      const customer = await createCustomer(g, { credits: 100 });
      const created = await g.request('POST', '/v1/videos', { key: customer.key, body: { model, prompt: 'a fox', duration: 5 } });
      const taskId = created.body.id as string;
      const task = await waitForTask(g, customer.key, taskId, { timeoutMs: 90_000 });
      const [row] = await sql<{ attempts: { outcome: string; code?: string }[] }>(g, 'select attempts from tasks where id = ?', [taskId]);
      const [channel] = await sql<{ enabled: boolean }>(g, 'select c.enabled from channels c join tasks t on t.channel_id = c.id where t.id = ?', [taskId]);
      return {
        // The message names the channel, which differs between the two gateways.
        task: { status: task.status, error: { code: task.error?.code, type: task.error?.type }, credits: task.credits },
        submits: row!.attempts.filter((a) => a.outcome === 'submitted').length,
        // The poller hands the read that ends an attempt to the workflow: the provider is not asked again.
        statusReads: falStatusReads(fake),
        channelEnabled: channel!.enabled,
        account: await accountOf(g, customer.accountId).then(({ balance, reserved }) => ({ balance, reserved })),
        scheduled: await activitiesScheduled(g, taskId),
      };
    }
    const [shared, activity] = await Promise.all([run(gw), run(activityGw)]);
    expect(shared.task.status).toBe('failed');
    expect(shared.scheduled).not.toContain('waitForProvider');
    expect(activity.scheduled).toContain('waitForProvider');
    expect({ ...shared, scheduled: undefined }).toEqual({ ...activity, scheduled: undefined });
  });
});

const silentLog = { warn() {}, info() {}, error() {}, debug() {}, child: () => silentLog } as unknown as import('../../src/log').Logger;
