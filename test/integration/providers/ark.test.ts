/** The ark adapter against the fake Ark server over real HTTP. */
import { createArkProvider } from '../../../src/providers/ark';
import { startArkFake, type ArkFake } from '../../fakes/ark-fake';
import {
  SUBMIT_FAILURES,
  channelFor,
  ctx,
  download,
  expectFailure,
  expectNoKey,
  isMp4,
  mediaRequest,
  providerError,
  run,
  sleep,
  stepThrough,
} from './helpers';

const provider = createArkProvider();
let fake: ArkFake;

beforeAll(async () => {
  fake = await startArkFake();
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => {
  fake.reset();
});

const video = (extra: Parameters<typeof mediaRequest>[0] extends infer T ? Partial<T> : never = {}) =>
  mediaRequest({ kind: 'video', model: 'seedance-1-0-pro-250528', ...extra });

describe('success', () => {
  it('maps prompt, frames, duration, resolution, ratio, seed and options; polls to a downloadable video', async () => {
    const request = video({
      duration: 5,
      resolution: '1080p',
      aspectRatio: '16:9',
      seed: 42,
      references: { imageUrl: 'https://example.com/first.png', lastFrameUrl: 'https://example.com/last.png' },
      options: { watermark: false, camera_fixed: true },
    });
    const { submitted, queued, running, final } = await stepThrough(provider, channelFor(fake), request, fake);

    expect(submitted).toEqual({ jobId: expect.stringMatching(/^cgt-\d{14}-[a-z2-7]{5}$/), status: 'queued', progress: null, outputs: [] });
    const [sent] = fake.requestsTo('POST', '/api/v3/contents/generations/tasks');
    expect(sent.headers.authorization).toBe(`Bearer ${fake.apiKey}`);
    expect(sent.body).toEqual({
      model: 'seedance-1-0-pro-250528',
      content: [
        { type: 'text', text: 'a red fox in the snow' },
        { type: 'image_url', image_url: { url: 'https://example.com/first.png' }, role: 'first_frame' },
        { type: 'image_url', image_url: { url: 'https://example.com/last.png' }, role: 'last_frame' },
      ],
      duration: 5,
      resolution: '1080p',
      ratio: '16:9',
      seed: 42,
      watermark: false,
      camera_fixed: true,
    });
    expect(queued).toMatchObject({ status: 'queued', progress: null });
    expect(running).toMatchObject({ status: 'processing', progress: null });
    expect(final).toMatchObject({ status: 'succeeded', usage: { seconds: 5, tokens: expect.any(Number) } });
    expect(final.outputs).toHaveLength(1);
    expect(final.outputs[0].contentType).toBe('video/mp4');
    const file = await download(final.outputs[0].url!);
    expect(file.status).toBe(200);
    expect(isMp4(file.bytes)).toBe(true);
  });

  it('reference images, video and audio go in with their roles', async () => {
    const request = video({
      references: { imageUrls: ['https://example.com/a.png', 'https://example.com/b.png'], videoUrl: 'https://example.com/v.mp4', audioUrl: 'https://example.com/a.wav' },
    });
    await provider.submit(channelFor(fake), request, ctx);
    const [sent] = fake.requestsTo('POST', '/api/v3/contents/generations/tasks');
    expect((sent.body as { content: unknown[] }).content).toEqual([
      { type: 'text', text: 'a red fox in the snow' },
      { type: 'image_url', image_url: { url: 'https://example.com/a.png' }, role: 'reference_image' },
      { type: 'image_url', image_url: { url: 'https://example.com/b.png' }, role: 'reference_image' },
      { type: 'video_url', video_url: { url: 'https://example.com/v.mp4' }, role: 'reference_video' },
      { type: 'audio_url', audio_url: { url: 'https://example.com/a.wav' }, role: 'reference_audio' },
    ]);
  });

  it('without a requested duration, usage takes the task duration', async () => {
    const { final } = await run(provider, channelFor(fake), video());
    expect(final.usage?.seconds).toBe(5);
  });

  it('the signed video_url expires (403) after its TTL', async () => {
    fake.setOutputTtlMs(500);
    const { final } = await run(provider, channelFor(fake), video());
    expect((await download(final.outputs[0].url!)).status).toBe(200);
    await sleep(550);
    const dead = await download(final.outputs[0].url!);
    expect(dead.status).toBe(403);
    expect(dead.bytes.toString()).toContain('AccessDenied');
  });
});

describe('in-flight failures', () => {
  it.each([
    ['OutputVideoSensitiveContentDetected', 'content_policy_violation', false],
    ['InternalServiceError', 'job_failed', true],
    ['ServiceUnavailable', 'job_failed', true],
    ['InvalidParameter.UnsupportedImage', 'job_failed', false],
  ])('failed with %s → %s (retryable %s)', async (providerCode, code, retryable) => {
    fake.planNextJobs({ outcome: { kind: 'fail', code: providerCode, message: 'nope' } });
    const { final } = await run(provider, channelFor(fake), video());
    expect(final.status).toBe('failed');
    expect(final.error).toMatchObject({ code, retryable, providerCode });
  });

  it('expired → failed job_expired, retryable', async () => {
    fake.planNextJobs({ outcome: { kind: 'expire' } });
    const { final } = await run(provider, channelFor(fake), video());
    expect(final).toMatchObject({ status: 'failed', error: { code: 'job_expired', retryable: true } });
  });

  it('refuses outcomes Ark does not have', () => {
    expect(() => fake.planNextJobs({ outcome: { kind: 'abort' } })).toThrow(/does not exist/);
  });
});

describe('cancel', () => {
  it('cancels a queued task with DELETE; the task then reads cancelled', async () => {
    fake.planNextJobs({ queueMs: Infinity });
    const request = video();
    const job = await provider.submit(channelFor(fake), request, ctx);
    const ref = { jobId: job.jobId, request };
    expect(await provider.cancel!(channelFor(fake), ref)).toBe('cancelled');
    expect(fake.requestsTo('DELETE', '/api/v3/contents/generations/tasks/')).toHaveLength(1);
    expect((await provider.status(channelFor(fake), ref)).status).toBe('cancelled');
  });

  it('a running task is not cancellable, and no DELETE is sent', async () => {
    fake.planNextJobs({ queueMs: 0, runMs: Infinity });
    const request = video();
    const job = await provider.submit(channelFor(fake), request, ctx);
    await sleep(5);
    expect(await provider.cancel!(channelFor(fake), { jobId: job.jobId, request })).toBe('not_cancellable');
    expect(fake.requestsTo('DELETE', '/api/v3/')).toHaveLength(0);
  });

  it('the fake refuses DELETE of a running task, like Ark', async () => {
    fake.planNextJobs({ queueMs: 0, runMs: Infinity });
    const job = await provider.submit(channelFor(fake), video(), ctx);
    await sleep(5);
    const res = await fetch(`${fake.url}/contents/generations/tasks/${job.jobId}`, { method: 'DELETE', headers: { authorization: `Bearer ${fake.apiKey}` } });
    expect(res.status).toBe(400);
    expect(fake.jobPhase(job.jobId)).toBe('running');
  });

  it('a finished task is already_finished and its record is kept (no DELETE, which would delete it)', async () => {
    const request = video();
    const { ref } = await run(provider, channelFor(fake), request);
    expect(await provider.cancel!(channelFor(fake), ref)).toBe('already_finished');
    expect(fake.requestsTo('DELETE', '/api/v3/')).toHaveLength(0);
    expect((await provider.status(channelFor(fake), ref)).status).toBe('succeeded');
  });

  it('when the DELETE is refused (the task started meanwhile) the task is read again', async () => {
    fake.planNextJobs({ queueMs: Infinity });
    const request = video();
    const job = await provider.submit(channelFor(fake), request, ctx);
    fake.failNext('cancel', { kind: 'invalid', code: 'InvalidAction.TaskStatus' });
    expect(await provider.cancel!(channelFor(fake), { jobId: job.jobId, request })).toBe('not_cancellable');
    expect(fake.requestsTo('GET', `/api/v3/contents/generations/tasks/${job.jobId}`)).toHaveLength(2);
  });
});

describe('errors', () => {
  it.each(SUBMIT_FAILURES.map((c) => [c.name, c] as const))('submit: %s', async (_name, c) => {
    fake.failNextSubmits(c.fault);
    const err = await providerError(provider.submit(channelFor(fake, c.settings), video(), ctx));
    expectFailure(err, c);
    expectNoKey(err, fake.apiKey);
  });

  it('content policy keeps the provider code; 429 keeps RateLimitExceeded', async () => {
    fake.failNextSubmits('policy', 'rate_limited');
    await expect(provider.submit(channelFor(fake), video(), ctx)).rejects.toMatchObject({
      code: 'content_policy_violation',
      providerCode: 'InputTextSensitiveContentDetected',
    });
    await expect(provider.submit(channelFor(fake), video(), ctx)).rejects.toMatchObject({
      code: 'rate_limited',
      providerCode: 'RateLimitExceeded.EndpointRPMExceeded',
    });
  });

  it('the fake validates like Ark: a bad duration is InvalidParameter → invalid_request', async () => {
    const err = await providerError(provider.submit(channelFor(fake), video({ duration: 99 }), ctx));
    expect(err).toMatchObject({ code: 'invalid_request', retryable: false, providerCode: 'InvalidParameter' });
  });

  it('a wrong key is upstream_auth_failed without the key in the message', async () => {
    const wrong = 'f3b1c2d4-0000-4abc-9def-1234567890ab';
    const err = await providerError(provider.submit({ ...channelFor(fake), apiKey: wrong }, video(), ctx));
    expect(err).toMatchObject({ code: 'upstream_auth_failed', providerCode: 'AuthenticationError', httpStatus: 401 });
    expectNoKey(err, wrong);
  });

  it('an unknown task is not_found', async () => {
    const err = await providerError(provider.status(channelFor(fake), { jobId: 'cgt-nope', request: video() }));
    expect(err).toMatchObject({ code: 'not_found', retryable: false, providerCode: 'ResourceNotFound' });
  });

  it('more queued tasks than the account limit are refused with 429', async () => {
    const small = await startArkFake({ maxQueued: 2, jobPlan: { queueMs: Infinity } });
    try {
      await provider.submit(channelFor(small), video(), ctx);
      await provider.submit(channelFor(small), video(), ctx);
      await expect(provider.submit(channelFor(small), video(), ctx)).rejects.toMatchObject({ code: 'rate_limited', retryable: true });
    } finally {
      await small.close();
    }
  });

  it('scrubs a key quoted by the provider', async () => {
    fake.failNextSubmits({ kind: 'unavailable', message: `bad header Authorization: Bearer ${fake.apiKey}` });
    const err = await providerError(provider.submit(channelFor(fake), video(), ctx));
    expectNoKey(err, fake.apiKey);
  });

  it('only video', async () => {
    const err = await providerError(provider.submit(channelFor(fake), mediaRequest({ kind: 'image', model: 'x' }), ctx));
    expect(err).toMatchObject({ code: 'invalid_request', retryable: false });
  });
});
