/** The replicate adapter against the fake Replicate server over real HTTP. */
import { createReplicateProvider } from '../../../src/providers/replicate';
import type { MediaRequest } from '../../../src/providers/types';
import { startReplicateFake, type ReplicateFake } from '../../fakes/replicate-fake';
import {
  SUBMIT_FAILURES,
  channelFor,
  ctx,
  download,
  expectFailure,
  expectNoKey,
  isMp4,
  isPng,
  isWav,
  mediaRequest,
  pollToEnd,
  providerError,
  run,
  sleep,
  stepThrough,
} from './helpers';

const provider = createReplicateProvider();
let fake: ReplicateFake;
const VERSION = '5c7d5dc6dd8bf75c1acaa8565735e7986bc5b66206b55cca93cb72c9bf15ccaa';

beforeAll(async () => {
  fake = await startReplicateFake();
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => {
  fake.reset();
  fake.setOutputShape('auto');
});

const image = (extra: Partial<MediaRequest> = {}) => mediaRequest({ kind: 'image', model: 'black-forest-labs/flux-schnell', ...extra });

describe('success', () => {
  it('a model without a version goes to /models/{owner}/{name}/predictions; images come back as a list', async () => {
    const request = image({ n: 2, aspectRatio: '16:9', seed: 7, options: { output_format: 'png', go_fast: true } });
    const { submitted, queued, running, final } = await stepThrough(provider, channelFor(fake), request, fake);

    expect(submitted).toMatchObject({ jobId: expect.stringMatching(/^[a-z2-7]{26}$/), status: 'queued', progress: null });
    const [sent] = fake.requestsTo('POST', '/v1/models/black-forest-labs/flux-schnell/predictions');
    expect(sent.headers.authorization).toBe(`Bearer ${fake.apiKey}`);
    expect(sent.body).toEqual({
      input: { prompt: 'a red fox in the snow', num_outputs: 2, aspect_ratio: '16:9', seed: 7, output_format: 'png', go_fast: true },
    });
    expect(queued).toMatchObject({ status: 'queued', progress: null });
    expect(running).toMatchObject({ status: 'processing', progress: 37 });
    expect(final).toMatchObject({ status: 'succeeded', progress: 100, usage: { images: 2, seconds: expect.any(Number) } });
    expect(final.outputs).toHaveLength(2);
    for (const out of final.outputs) {
      expect(out.contentType).toBe('image/png');
      const file = await download(out.url!);
      expect(file.status).toBe(200);
      expect(isPng(file.bytes)).toBe(true);
    }
  });

  it('a pinned version goes to /predictions {version, input}; a video output is a single URL', async () => {
    fake.registerVersion(VERSION, 'acme/wan-video');
    const request = mediaRequest({
      kind: 'video',
      model: `acme/wan-video:${VERSION}`,
      duration: 5,
      references: { imageUrl: 'https://example.com/start.png', lastFrameUrl: 'https://example.com/end.png' },
    });
    const { final } = await run(provider, channelFor(fake), request);
    const [sent] = fake.requestsTo('POST', '/v1/predictions');
    expect(sent.body).toEqual({
      version: VERSION,
      input: { prompt: 'a red fox in the snow', image: 'https://example.com/start.png', last_frame_image: 'https://example.com/end.png', duration: 5 },
    });
    expect(final).toMatchObject({ status: 'succeeded', usage: { seconds: 5 } });
    expect(final.outputs).toEqual([{ url: expect.stringMatching(/\.mp4\?/), contentType: 'video/mp4' }]);
    expect(isMp4((await download(final.outputs[0].url!)).bytes)).toBe(true);
  });

  it('inputKeys renames or drops fields per channel', async () => {
    const channel = channelFor(fake, { inputKeys: { imageUrl: 'start_image', duration: 'seconds', seed: null } });
    await provider.submit(channel, mediaRequest({ kind: 'video', model: 'acme/kling-video', duration: 10, seed: 3, references: { imageUrl: 'https://example.com/s.png' } }), ctx);
    const [sent] = fake.requestsTo('POST', '/v1/models/acme/kling-video/predictions');
    expect(sent.body).toEqual({ input: { prompt: 'a red fox in the snow', start_image: 'https://example.com/s.png', seconds: 10 } });
  });

  it('object outputs and music (wav) are found', async () => {
    fake.setOutputShape('object');
    const request = mediaRequest({ kind: 'music', model: 'meta/musicgen', duration: 3 });
    const { final } = await run(provider, channelFor(fake), request);
    expect(final).toMatchObject({ status: 'succeeded', usage: { seconds: 3 } });
    expect(final.outputs).toEqual([{ url: expect.stringMatching(/\.wav\?/), contentType: 'audio/wav' }]);
    expect(isWav((await download(final.outputs[0].url!)).bytes)).toBe(true);
  });

  it('progress is read from the tqdm lines in the logs', async () => {
    fake.planNextJobs({ queueMs: 0, runMs: Infinity });
    const request = image();
    const job = await provider.submit(channelFor(fake), request, ctx);
    await sleep(5);
    fake.setJobProgress(job.jobId, 42);
    expect(await provider.status(channelFor(fake), { jobId: job.jobId, request })).toMatchObject({ status: 'processing', progress: 42 });
  });

  it('Prefer: wait returns a finished prediction from submit', async () => {
    const channel = channelFor(fake, { preferWaitSeconds: 2, timeoutMs: 5000 });
    const job = await provider.submit(channel, image(), ctx);
    expect(job.status).toBe('succeeded');
    expect(fake.requestsTo('POST', '/v1/models/')[0].headers.prefer).toBe('wait=2');
  });

  it('preferWaitSeconds must stay below timeoutMs', async () => {
    const err = await providerError(provider.submit(channelFor(fake, { preferWaitSeconds: 30, timeoutMs: 1000 }), image(), ctx));
    expect(err).toMatchObject({ code: 'invalid_channel_settings', retryable: false });
  });

  it('outputs and data are removed after the TTL: files 404, a late status is job_expired', async () => {
    fake.setOutputTtlMs(400);
    const { final, ref } = await run(provider, channelFor(fake), image());
    expect(final.status).toBe('succeeded');
    await sleep(450);
    expect((await download(final.outputs[0].url!)).status).toBe(404);
    const late = await provider.status(channelFor(fake), ref);
    expect(late).toMatchObject({ status: 'failed', error: { code: 'job_expired', retryable: true } });
  });
});

describe('in-flight failures', () => {
  it.each([
    ['CUDA out of memory. Tried to allocate 2.00 GiB', 'job_failed', true],
    ['Prediction interrupted; please retry (code: PA)', 'job_failed', true],
    ['NSFW content detected. Try running it again, or try a different prompt.', 'content_policy_violation', false],
    ['Input image must be at least 512 pixels wide', 'job_failed', false],
  ])('failed with "%s" → %s (retryable %s)', async (message, code, retryable) => {
    fake.planNextJobs({ outcome: { kind: 'fail', message } });
    const { final } = await run(provider, channelFor(fake), image());
    expect(final.status).toBe('failed');
    expect(final.error).toMatchObject({ code, retryable });
    expect(final.error!.message).toContain(message.slice(0, 20));
  });

  it('aborted → failed, retryable', async () => {
    fake.planNextJobs({ queueMs: 30, outcome: { kind: 'abort' } });
    const { final, seen } = await run(provider, channelFor(fake), image());
    expect(seen[0].status).toBe('queued');
    expect(final).toMatchObject({ status: 'failed', error: { code: 'job_failed', retryable: true, providerCode: 'aborted' } });
  });
});

describe('cancel', () => {
  it('a running prediction is cancelled and then reads cancelled', async () => {
    fake.planNextJobs({ queueMs: 0, runMs: Infinity });
    const request = image();
    const job = await provider.submit(channelFor(fake), request, ctx);
    const ref = { jobId: job.jobId, request };
    expect(await provider.cancel!(channelFor(fake), ref)).toBe('cancelled');
    expect(fake.requestsTo('POST', `/v1/predictions/${job.jobId}/cancel`)).toHaveLength(1);
    expect((await pollToEnd(provider, channelFor(fake), ref)).final.status).toBe('cancelled');
  });

  it('a finished prediction is already_finished', async () => {
    const { ref } = await run(provider, channelFor(fake), image());
    expect(await provider.cancel!(channelFor(fake), ref)).toBe('already_finished');
  });
});

describe('errors', () => {
  it.each(SUBMIT_FAILURES.map((c) => [c.name, c] as const))('submit: %s', async (_name, c) => {
    fake.failNextSubmits(c.fault);
    const err = await providerError(provider.submit(channelFor(fake, c.settings), image(), ctx));
    expectFailure(err, c);
    expectNoKey(err, fake.apiKey);
  });

  it('the throttled body and its Retry-After', async () => {
    fake.failNextSubmits({ kind: 'rate_limited', retryAfter: '30' });
    const err = await providerError(provider.submit(channelFor(fake), image(), ctx));
    expect(err).toMatchObject({ code: 'rate_limited', retryAfterMs: 30_000 });
    expect(err.message).toContain('Request was throttled');
  });

  it('a bad model name is invalid_request without any HTTP call', async () => {
    const err = await providerError(provider.submit(channelFor(fake), image({ model: 'not a model' }), ctx));
    expect(err).toMatchObject({ code: 'invalid_request', retryable: false });
    expect(fake.requests).toHaveLength(0);
  });

  it('a wrong token is upstream_auth_failed, scrubbed', async () => {
    const wrong = 'r8_WrongTokenAbcdefGhijklMnopqrStuvwxYz012';
    const err = await providerError(provider.submit({ ...channelFor(fake), apiKey: wrong }, image(), ctx));
    expect(err).toMatchObject({ code: 'upstream_auth_failed', httpStatus: 401, providerCode: 'Unauthenticated' });
    expectNoKey(err, wrong);
  });

  it('an unknown prediction is not_found', async () => {
    const err = await providerError(provider.status(channelFor(fake), { jobId: 'nope', request: image() }));
    expect(err).toMatchObject({ code: 'not_found', retryable: false });
  });

  it('fail N times then succeed', async () => {
    fake.failNextSubmits('server_error', 'bad_gateway', 'ok', 'unavailable');
    await expect(provider.submit(channelFor(fake), image(), ctx)).rejects.toMatchObject({ code: 'upstream_unavailable' });
    await expect(provider.submit(channelFor(fake), image(), ctx)).rejects.toMatchObject({ code: 'upstream_unavailable' });
    await expect(provider.submit(channelFor(fake), image(), ctx)).resolves.toMatchObject({ status: 'queued' });
    await expect(provider.submit(channelFor(fake), image(), ctx)).rejects.toMatchObject({ code: 'upstream_unavailable' });
    await expect(provider.submit(channelFor(fake), image(), ctx)).resolves.toMatchObject({ status: 'queued' });
  });
});
