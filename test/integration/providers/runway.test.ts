/** The runway adapter against the fake Runway API over real HTTP. */
import { createRunwayProvider } from '../../../src/providers/runway';
import { startRunwayFake, type RunwayFake } from '../../fakes/runway-fake';
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

const provider = createRunwayProvider();
let fake: RunwayFake;

beforeAll(async () => {
  fake = await startRunwayFake();
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => {
  fake.reset();
});

type Partial2 = Partial<Parameters<typeof mediaRequest>[0]>;
const video = (extra: Partial2 = {}) => mediaRequest({ kind: 'video', model: 'gen4.5', duration: 5, ...extra });

describe('success', () => {
  it('image to video: first and last frame, ratio, seed, options; version header; progress 0..1 as 0..100', async () => {
    const request = video({
      aspectRatio: '16:9',
      seed: 7,
      references: { imageUrl: 'https://example.com/first.png', lastFrameUrl: 'https://example.com/last.png' },
      options: { contentModeration: { publicFigureThreshold: 'low' } },
    });
    const { submitted, queued, running, final } = await stepThrough(provider, channelFor(fake), request, fake, 42);
    expect(submitted).toMatchObject({ jobId: expect.stringMatching(/^[0-9a-f-]{36}$/), status: 'queued' });
    const [sent] = fake.requestsTo('POST', '/v1/image_to_video');
    expect(sent.headers.authorization).toBe(`Bearer ${fake.apiKey}`);
    expect(sent.headers['x-runway-version']).toBe('2024-11-06');
    expect(sent.body).toEqual({
      contentModeration: { publicFigureThreshold: 'low' },
      model: 'gen4.5',
      promptText: 'a red fox in the snow',
      ratio: '1280:720',
      seed: 7,
      promptImage: [
        { uri: 'https://example.com/first.png', position: 'first' },
        { uri: 'https://example.com/last.png', position: 'last' },
      ],
      duration: 5,
    });
    expect(queued).toMatchObject({ status: 'queued' });
    expect(running).toMatchObject({ status: 'processing', progress: 42 });
    expect(final).toMatchObject({ status: 'succeeded', progress: 100, usage: { seconds: 5 } });
    const file = await download(final.outputs[0].url!);
    expect(file.status).toBe(200);
    expect(isMp4(file.bytes)).toBe(true);
  });

  it('text to video without a frame; the channel picks another API version', async () => {
    await run(provider, channelFor(fake, { apiVersion: '2025-01-01' }), video({ size: '720x1280' }));
    const [sent] = fake.requestsTo('POST', '/v1/text_to_video');
    expect(sent.headers['x-runway-version']).toBe('2025-01-01');
    expect(sent.body).toEqual({ model: 'gen4.5', promptText: 'a red fox in the snow', ratio: '720:1280', duration: 5 });
  });

  it('text to image with reference images; usage counts the images', async () => {
    const request = mediaRequest({ kind: 'image', model: 'gen4_image', aspectRatio: '1:1', references: { imageUrls: ['https://example.com/a.png'] } });
    const { final } = await run(provider, channelFor(fake), request);
    expect(fake.requestsTo('POST', '/v1/text_to_image')[0].body).toEqual({
      model: 'gen4_image', promptText: 'a red fox in the snow', ratio: '1024:1024', referenceImages: [{ uri: 'https://example.com/a.png', tag: 'ref1' }],
    });
    expect(final).toMatchObject({ status: 'succeeded', usage: { images: 1 } });
    expect(isPng((await download(final.outputs[0].url!)).bytes)).toBe(true);
  });

  it('priced keys in options never reach Runway: the priced duration and model win', async () => {
    await provider.submit(channelFor(fake), video({ options: { duration: 10, model: 'veo3', audio: true, outputCount: 4 } }), ctx);
    expect(fake.requestsTo('POST', '/v1/text_to_video')[0].body).toEqual({ model: 'gen4.5', promptText: 'a red fox in the snow', duration: 5 });
  });

  it('a task over the concurrency limit reads THROTTLED → queued', async () => {
    const small = await startRunwayFake({ maxConcurrent: 1, jobPlan: { queueMs: 0, runMs: Infinity } });
    try {
      const first = await provider.submit(channelFor(small), video(), ctx);
      const second = await provider.submit(channelFor(small), video(), ctx);
      await sleep(5);
      expect((await provider.status(channelFor(small), { jobId: first.jobId, request: video() })).status).toBe('processing');
      expect(await provider.status(channelFor(small), { jobId: second.jobId, request: video() })).toMatchObject({ status: 'queued', progress: 0 });
    } finally {
      await small.close();
    }
  });

  it('output URLs expire', async () => {
    fake.setOutputTtlMs(300);
    const { final } = await run(provider, channelFor(fake), video());
    await sleep(350);
    expect((await download(final.outputs[0].url!)).status).toBe(403);
  });
});

describe('in-flight failures', () => {
  it.each([
    ['SAFETY.INPUT.TEXT', 'content_policy_violation', false],
    ['SAFETY.OUTPUT.VIDEO', 'content_policy_violation', false],
    ['INPUT_PREPROCESSING.SAFETY.TEXT', 'content_policy_violation', false],
    ['INTERNAL.BAD_OUTPUT.CODE01', 'job_failed', true],
    ['INPUT_PREPROCESSING.INTERNAL', 'job_failed', true],
    ['INTERNAL', 'job_failed', true],
    ['ASSET.INVALID', 'job_failed', false],
  ])('FAILED with %s → %s (retryable %s)', async (failureCode, code, retryable) => {
    fake.planNextJobs({ outcome: { kind: 'fail', code: failureCode, message: 'nope' } });
    const { final } = await run(provider, channelFor(fake), video());
    expect(final).toMatchObject({ status: 'failed', error: { code, retryable, providerCode: failureCode } });
  });
});

describe('cancel', () => {
  it('DELETE cancels a pending task; it can never be read again', async () => {
    fake.planNextJobs({ queueMs: Infinity });
    const request = video();
    const job = await provider.submit(channelFor(fake), request, ctx);
    const ref = { jobId: job.jobId, request };
    expect(await provider.cancel!(channelFor(fake), ref)).toBe('cancelled');
    expect(fake.requestsTo('DELETE', `/v1/tasks/${job.jobId}`)).toHaveLength(1);
    expect(fake.jobPhase(job.jobId)).toBe('cancelled');
    await expect(provider.status(channelFor(fake), ref)).rejects.toMatchObject({ code: 'not_found' });
  });

  it('a running task is cancelled too', async () => {
    fake.planNextJobs({ queueMs: 0, runMs: Infinity });
    const request = video();
    const job = await provider.submit(channelFor(fake), request, ctx);
    await sleep(5);
    expect(await provider.cancel!(channelFor(fake), { jobId: job.jobId, request })).toBe('cancelled');
  });

  it('a finished task is left alone: no DELETE (which would delete its outputs)', async () => {
    const { ref } = await run(provider, channelFor(fake), video());
    expect(await provider.cancel!(channelFor(fake), ref)).toBe('already_finished');
    expect(fake.requestsTo('DELETE', '/v1/tasks/')).toHaveLength(0);
    expect((await provider.status(channelFor(fake), ref)).status).toBe('succeeded');
  });
});

describe('errors', () => {
  it.each(SUBMIT_FAILURES.map((c) => [c.name, c] as const))('submit: %s', async (_name, c) => {
    fake.failNextSubmits(c.fault);
    const err = await providerError(provider.submit(channelFor(fake, c.settings), video(), ctx));
    expectFailure(err, c);
    expectNoKey(err, fake.apiKey);
  });

  it('validation errors name the field; an unknown model is invalid_request', async () => {
    const err = await providerError(provider.submit(channelFor(fake), video({ duration: 11 }), ctx));
    expect(err).toMatchObject({ code: 'invalid_request', retryable: false, httpStatus: 400 });
    expect(err.message).toContain('(duration)');
    await expect(provider.submit(channelFor(fake), video({ model: 'gen9' }), ctx)).rejects.toMatchObject({ code: 'invalid_request' });
  });

  it('a bad apiVersion setting is refused before any call', async () => {
    const err = await providerError(provider.submit(channelFor(fake, { apiVersion: 'latest' }), video(), ctx));
    expect(err).toMatchObject({ code: 'invalid_channel_settings', retryable: false });
    expect(fake.requests).toHaveLength(0);
  });

  it('a wrong key is upstream_auth_failed without the key in the message', async () => {
    const wrong = `key_${'ab'.repeat(64)}`;
    const err = await providerError(provider.submit({ ...channelFor(fake), apiKey: wrong }, video(), ctx));
    expect(err).toMatchObject({ code: 'upstream_auth_failed', httpStatus: 401 });
    expectNoKey(err, wrong);
  });

  it('an unknown status spelling is a bad_response', async () => {
    const job = await provider.submit(channelFor(fake), video(), ctx);
    fake.job(job.jobId).plan.outcome = { kind: 'succeed' };
    const original = fake.task.bind(fake);
    fake.task = (j) => ({ ...original(j), status: 'COMPLETED' });
    try {
      await expect(provider.status(channelFor(fake), { jobId: job.jobId, request: video() })).rejects.toMatchObject({ code: 'bad_response' });
    } finally {
      fake.task = original;
    }
  });
});
