/** The dashscope adapter against the fake DashScope server over real HTTP. */
import { createDashScopeProvider } from '../../../src/providers/dashscope';
import { startDashScopeFake, type DashScopeFake } from '../../fakes/dashscope-fake';
import {
  SUBMIT_FAILURES,
  channelFor,
  ctx,
  download,
  expectFailure,
  expectNoKey,
  isMp4,
  isPng,
  mediaRequest,
  providerError,
  run,
  sleep,
  stepThrough,
} from './helpers';

const provider = createDashScopeProvider();
let fake: DashScopeFake;

beforeAll(async () => {
  fake = await startDashScopeFake();
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => {
  fake.reset();
});

const VIDEO = '/api/v1/services/aigc/video-generation/video-synthesis';
const IMAGE = '/api/v1/services/aigc/text2image/image-synthesis';
const video = (extra: Partial<Parameters<typeof mediaRequest>[0]> = {}) => mediaRequest({ kind: 'video', model: 'wan2.5-t2v-preview', ...extra });
const image = (extra: Partial<Parameters<typeof mediaRequest>[0]> = {}) => mediaRequest({ kind: 'image', model: 'wan2.2-t2i-flash', ...extra });

describe('video', () => {
  it('creates with X-DashScope-Async, maps input and parameters, polls PENDING → RUNNING → SUCCEEDED', async () => {
    const request = video({ duration: 10, size: '1280x720', seed: 7, options: { prompt_extend: false, watermark: false, negative_prompt: 'blurry' } });
    const { submitted, queued, running, final } = await stepThrough(provider, channelFor(fake), request, fake);
    expect(submitted).toEqual({ jobId: expect.stringMatching(/^[0-9a-f-]{36}$/), status: 'queued', progress: null, outputs: [] });
    const [sent] = fake.requestsTo('POST', VIDEO);
    expect(sent.headers).toMatchObject({ authorization: `Bearer ${fake.apiKey}`, 'x-dashscope-async': 'enable' });
    expect(sent.body).toEqual({
      model: 'wan2.5-t2v-preview',
      input: { negative_prompt: 'blurry', prompt: 'a red fox in the snow' },
      parameters: { prompt_extend: false, watermark: false, size: '1280*720', duration: 10, seed: 7 },
    });
    expect(queued.status).toBe('queued');
    expect(running.status).toBe('processing');
    expect(final).toMatchObject({ status: 'succeeded', progress: 100, usage: { seconds: 10 } });
    const file = await download(final.outputs[0].url!);
    expect(file.status).toBe(200);
    expect(isMp4(file.bytes)).toBe(true);
  });

  it('image to video: img_url and resolution in DashScope spelling; with a last frame, first/last frame urls', async () => {
    await provider.submit(channelFor(fake), video({ model: 'wan2.5-i2v-preview', resolution: '1080p', references: { imageUrl: 'https://example.com/a.png', audioUrl: 'https://example.com/a.mp3' } }), ctx);
    await provider.submit(channelFor(fake), video({ model: 'wan2.5-i2v-preview', references: { imageUrl: 'https://example.com/a.png', lastFrameUrl: 'https://example.com/z.png' } }), ctx);
    const [one, two] = fake.requestsTo('POST', VIDEO);
    expect(one.body).toEqual({
      model: 'wan2.5-i2v-preview',
      input: { prompt: 'a red fox in the snow', img_url: 'https://example.com/a.png', audio_url: 'https://example.com/a.mp3' },
      parameters: { resolution: '1080P' },
    });
    expect((two.body as { input: unknown }).input).toEqual({ prompt: 'a red fox in the snow', first_frame_url: 'https://example.com/a.png', last_frame_url: 'https://example.com/z.png' });
  });

  it('usage is what DashScope says it made (video_duration), not what was asked', async () => {
    fake.planNextJobs({ seconds: 3 });
    const { final } = await run(provider, channelFor(fake), video({ duration: 5 }));
    expect(final.usage).toEqual({ seconds: 3 });
  });

  it('priced fields win over options', async () => {
    await provider.submit(channelFor(fake), video({ duration: 5, size: '832*480', options: { duration: 10, size: '1920*1080', model: 'wan2.6-t2v', resolution: '1080P' } }), ctx);
    expect(fake.requestsTo('POST', VIDEO)[0].body).toEqual({ model: 'wan2.5-t2v-preview', input: { prompt: 'a red fox in the snow' }, parameters: { size: '832*480', duration: 5 } });
  });

  it('the video_url expires (403) after its TTL', async () => {
    fake.setOutputTtlMs(300);
    const { final } = await run(provider, channelFor(fake), video());
    await sleep(350);
    expect((await download(final.outputs[0].url!)).status).toBe(403);
  });

  it.each([
    ['DataInspectionFailed', 'content_policy_violation', false],
    ['InternalError.Algo', 'job_failed', true],
    ['InvalidParameter.DataInspection', 'content_policy_violation', false],
    ['InvalidFile.Content', 'job_failed', false],
  ])('FAILED with output.code %s → %s (retryable %s)', async (providerCode, code, retryable) => {
    fake.planNextJobs({ outcome: { kind: 'fail', code: providerCode, message: 'nope' } });
    const { final } = await run(provider, channelFor(fake), video());
    expect(final).toMatchObject({ status: 'failed', error: { code, retryable, providerCode } });
  });

  it('a task id DashScope does not know reads UNKNOWN (HTTP 200): failed, final', async () => {
    const job = await provider.status(channelFor(fake), { jobId: '00000000-0000-4000-8000-000000000000', request: video() });
    expect(job).toMatchObject({ status: 'failed', error: { code: 'job_expired', retryable: false, providerCode: 'UNKNOWN' } });
  });
});

describe('image', () => {
  it('maps size and n; every result URL is an output', async () => {
    const { final } = await run(provider, channelFor(fake), image({ n: 3, size: '1024x1024', options: { prompt_extend: true } }));
    expect(fake.requestsTo('POST', IMAGE)[0].body).toEqual({
      model: 'wan2.2-t2i-flash',
      input: { prompt: 'a red fox in the snow' },
      parameters: { prompt_extend: true, size: '1024*1024', n: 3 },
    });
    expect(final).toMatchObject({ status: 'succeeded', usage: { images: 3 } });
    expect(final.outputs).toHaveLength(3);
    expect(isPng((await download(final.outputs[2].url!)).bytes)).toBe(true);
  });

  it('a partial success counts only the images made', async () => {
    fake.planNextJobs({ outputs: 1 });
    const { final } = await run(provider, channelFor(fake), image({ n: 4 }));
    expect(final).toMatchObject({ status: 'succeeded', usage: { images: 1 } });
    expect(final.outputs).toHaveLength(1);
  });

  it('options cannot raise n', async () => {
    await provider.submit(channelFor(fake), image({ n: 1, options: { n: 4 } }), ctx);
    expect(fake.requestsTo('POST', IMAGE)[0].body).toMatchObject({ parameters: { n: 1 } });
  });
});

describe('cancel', () => {
  it('cancels a PENDING task; it then reads CANCELED → cancelled', async () => {
    fake.planNextJobs({ queueMs: Infinity });
    const request = video();
    const job = await provider.submit(channelFor(fake), request, ctx);
    expect(await provider.cancel!(channelFor(fake), { jobId: job.jobId, request })).toBe('cancelled');
    expect(fake.requestsTo('POST', `/api/v1/tasks/${job.jobId}/cancel`)).toHaveLength(1);
    expect((await provider.status(channelFor(fake), { jobId: job.jobId, request })).status).toBe('cancelled');
    expect(fake.task(fake.job(job.jobId)).output).toMatchObject({ task_status: 'CANCELED' });
  });

  it('a RUNNING task is not_cancellable and no cancel is sent', async () => {
    fake.planNextJobs({ queueMs: 0, runMs: Infinity });
    const request = video();
    const job = await provider.submit(channelFor(fake), request, ctx);
    await sleep(5);
    expect(await provider.cancel!(channelFor(fake), { jobId: job.jobId, request })).toBe('not_cancellable');
    expect(fake.requestsTo('POST', '/api/v1/tasks/')).toHaveLength(0);
  });

  it('the fake refuses to cancel a RUNNING task, as DashScope does', async () => {
    fake.planNextJobs({ queueMs: 0, runMs: Infinity });
    const job = await provider.submit(channelFor(fake), video(), ctx);
    await sleep(5);
    const res = await fetch(`${fake.url}/tasks/${job.jobId}/cancel`, { method: 'POST', headers: { authorization: `Bearer ${fake.apiKey}` } });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: 'UnsupportedOperation' });
    expect(fake.jobPhase(job.jobId)).toBe('running');
  });

  it('a task that starts between the read and the cancel: refused, read again → not_cancellable', async () => {
    fake.planNextJobs({ queueMs: Infinity });
    const request = video();
    const job = await provider.submit(channelFor(fake), request, ctx);
    fake.failNext('cancel', { kind: 'invalid', code: 'UnsupportedOperation' });
    expect(await provider.cancel!(channelFor(fake), { jobId: job.jobId, request })).toBe('not_cancellable');
    expect(fake.requestsTo('GET', `/api/v1/tasks/${job.jobId}`)).toHaveLength(2);
  });

  it('a finished task is already_finished', async () => {
    const { ref } = await run(provider, channelFor(fake), video());
    expect(await provider.cancel!(channelFor(fake), ref)).toBe('already_finished');
  });
});

describe('errors', () => {
  it.each(SUBMIT_FAILURES.map((c) => [c.name, c] as const))('submit: %s', async (_name, c) => {
    fake.failNextSubmits(c.fault);
    const err = await providerError(provider.submit(channelFor(fake, c.settings), video(), ctx));
    expectFailure(err, c);
    expectNoKey(err, fake.apiKey);
  });

  it('Arrearage (an overdue account, HTTP 400) is final and told apart from a bad request', async () => {
    fake.failNextSubmits({ kind: 'invalid', code: 'Arrearage', message: 'Access denied, plesase make sure your account is in good standing.' });
    const err = await providerError(provider.submit(channelFor(fake), video(), ctx));
    expect(err).toMatchObject({ code: 'upstream_insufficient_balance', retryable: false, httpStatus: 400, providerCode: 'Arrearage' });
  });

  it('Throttling.AllocationQuota is a retryable rate limit', async () => {
    fake.failNextSubmits({ kind: 'rate_limited', code: 'Throttling.AllocationQuota' });
    await expect(provider.submit(channelFor(fake), video(), ctx)).rejects.toMatchObject({ code: 'rate_limited', retryable: true, providerCode: 'Throttling.AllocationQuota' });
  });

  it('an unknown model is 404 ModelNotFound → invalid_request, final', async () => {
    const err = await providerError(provider.submit(channelFor(fake), video({ model: 'wan9-t2v' }), ctx));
    expect(err).toMatchObject({ code: 'invalid_request', retryable: false, httpStatus: 404, providerCode: 'ModelNotFound' });
  });

  it('the fake refuses a synchronous call, as DashScope does for these models', async () => {
    const res = await fetch(`${fake.url}/services/aigc/video-generation/video-synthesis`, {
      method: 'POST',
      headers: { authorization: `Bearer ${fake.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'wan2.5-t2v-preview', input: { prompt: 'x' } }),
    });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ code: 'AccessDenied', message: 'current user api does not support synchronous calls' });
  });

  it('the fake validates like DashScope: a duration the model lacks is InvalidParameter', async () => {
    const err = await providerError(provider.submit(channelFor(fake), video({ model: 'wan2.1-t2v-turbo', duration: 10 }), ctx));
    expect(err).toMatchObject({ code: 'invalid_request', providerCode: 'InvalidParameter', httpStatus: 400 });
  });

  it('a wrong key is InvalidApiKey → upstream_auth_failed, without the key', async () => {
    const wrong = 'sk-0123456789abcdef0123456789abcdef';
    const err = await providerError(provider.submit({ ...channelFor(fake), apiKey: wrong }, video(), ctx));
    expect(err).toMatchObject({ code: 'upstream_auth_failed', providerCode: 'InvalidApiKey', httpStatus: 401 });
    expectNoKey(err, wrong);
  });

  it('the workspace setting goes as X-DashScope-WorkSpace; bad settings are refused', async () => {
    await provider.submit(channelFor(fake, { workspace: 'ws_123' }), video(), ctx);
    expect(fake.requestsTo('POST', VIDEO)[0].headers['x-dashscope-workspace']).toBe('ws_123');
    for (const settings of [{ workspace: 'a b' }, { region: 'mars' }]) {
      const err = await providerError(provider.submit(channelFor(fake, settings), video(), ctx));
      expect(err).toMatchObject({ code: 'invalid_channel_settings', retryable: false });
    }
  });

  it('does not serve music', async () => {
    const err = await providerError(provider.submit(channelFor(fake), mediaRequest({ kind: 'music', model: 'x' }), ctx));
    expect(err).toMatchObject({ code: 'invalid_request', retryable: false });
  });
});
