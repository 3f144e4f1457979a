/** The fal adapter against the fake fal queue over real HTTP. */
import { createFalProvider } from '../../../src/providers/fal';
import type { MediaRequest } from '../../../src/providers/types';
import { startFalFake, type FalFake } from '../../fakes/fal-fake';
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

const provider = createFalProvider();
let fake: FalFake;

beforeAll(async () => {
  fake = await startFalFake();
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => {
  fake.reset();
  fake.audioKey = 'audio_file';
  fake.honorCancelInProgress = true;
});

const image = (extra: Partial<MediaRequest> = {}) => mediaRequest({ kind: 'image', model: 'fal-ai/flux/dev', ...extra });

describe('success', () => {
  it('submits the input to {base}/{model}, keeps the returned URLs, polls them and reads the result', async () => {
    const request = image({ n: 2, size: 'landscape_16_9', seed: 1, options: { enable_safety_checker: true } });
    const { submitted, queued, running, final } = await stepThrough(provider, channelFor(fake), request, fake);

    const [sent] = fake.requestsTo('POST', '/fal-ai/flux/dev');
    expect(sent.headers.authorization).toBe(`Key ${fake.apiKey}`);
    expect(sent.body).toEqual({ prompt: 'a red fox in the snow', num_images: 2, image_size: 'landscape_16_9', seed: 1, enable_safety_checker: true });
    const root = `${fake.url}/fal-ai/flux/requests/${submitted.jobId}`;
    expect(submitted).toMatchObject({ status: 'queued', handles: { status_url: `${root}/status`, response_url: root, cancel_url: `${root}/cancel` } });
    expect([queued.status, running.status, final.status]).toEqual(['queued', 'processing', 'succeeded']);
    expect(running.progress).toBeNull();
    expect(fake.requestsTo('GET', `/fal-ai/flux/requests/${submitted.jobId}/status`)).toHaveLength(3);
    expect(fake.requestsTo('GET', `/fal-ai/flux/requests/${submitted.jobId}`).filter((r) => !r.path.endsWith('/status'))).toHaveLength(1);
    expect(final).toMatchObject({ status: 'succeeded', usage: { images: 2 } });
    for (const out of final.outputs) {
      expect(out.contentType).toBe('image/png');
      expect(isPng((await download(out.url!)).bytes)).toBe(true);
    }
  });

  it('video: image_url, end_image_url and duration in; video.url out', async () => {
    const request = mediaRequest({
      kind: 'video',
      model: 'fal-ai/kling-video/v2.1/master/image-to-video',
      duration: 5,
      aspectRatio: '16:9',
      references: { imageUrl: 'https://example.com/a.png', lastFrameUrl: 'https://example.com/b.png' },
    });
    const { final } = await run(provider, channelFor(fake), request);
    const [sent] = fake.requestsTo('POST', '/fal-ai/kling-video/');
    expect(sent.body).toEqual({
      prompt: 'a red fox in the snow',
      image_url: 'https://example.com/a.png',
      end_image_url: 'https://example.com/b.png',
      duration: 5,
      aspect_ratio: '16:9',
    });
    expect(final).toMatchObject({ status: 'succeeded', usage: { seconds: 5 }, outputs: [{ contentType: 'video/mp4' }] });
    expect(isMp4((await download(final.outputs[0].url!)).bytes)).toBe(true);
  });

  it.each(['audio_file', 'audio'] as const)('music: %s.url out', async (key) => {
    fake.audioKey = key;
    const { final } = await run(provider, channelFor(fake), mediaRequest({ kind: 'music', model: 'fal-ai/stable-audio', duration: 2 }));
    expect(final).toMatchObject({ status: 'succeeded', outputs: [{ contentType: 'audio/wav' }] });
    expect(isWav((await download(final.outputs[0].url!)).bytes)).toBe(true);
  });

  it('output URLs expire (404) after their TTL', async () => {
    fake.setOutputTtlMs(150);
    const { final } = await run(provider, channelFor(fake), image());
    await sleep(200);
    expect((await download(final.outputs[0].url!)).status).toBe(404);
  });
});

describe('in-flight failures (COMPLETED with an error result)', () => {
  it.each([
    [{ kind: 'fail', retryable: true, message: 'GPU fell over' }, 'job_failed', true],
    [{ kind: 'fail', retryable: false, code: 'image_too_large', message: 'too big' }, 'job_failed', false],
    [{ kind: 'fail', code: 'content_policy_violation', message: 'flagged by a content checker' }, 'content_policy_violation', false],
    [{ kind: 'fail', code: 'runner_disconnected', message: 'Runner disconnected' }, 'job_failed', true],
    [{ kind: 'fail', code: 'runner_disconnected', retryable: false }, 'job_failed', false],
  ] as const)('%j → %s (retryable %s)', async (outcome, code, retryable) => {
    fake.planNextJobs({ outcome: { ...outcome } });
    const { final } = await run(provider, channelFor(fake), image());
    expect(final.status).toBe('failed');
    expect(final.error).toMatchObject({ code, retryable });
  });

  it('a 5xx on the result without any job signal is the call failing, not the job', async () => {
    const { ref } = await run(provider, channelFor(fake), image());
    fake.failNext('result', 'unavailable');
    const err = await providerError(provider.status(channelFor(fake), ref));
    expect(err).toMatchObject({ code: 'upstream_unavailable', retryable: true });
  });
});

describe('cancel', () => {
  it('a queued request: CANCELLATION_REQUESTED → requested, then reads cancelled', async () => {
    fake.planNextJobs({ queueMs: Infinity });
    const request = image();
    const job = await provider.submit(channelFor(fake), request, ctx);
    const ref = { jobId: job.jobId, handles: job.handles, request };
    expect(await provider.cancel!(channelFor(fake), ref)).toBe('requested');
    expect(fake.requestsTo('PUT', `/fal-ai/flux/requests/${job.jobId}/cancel`)).toHaveLength(1);
    expect((await pollToEnd(provider, channelFor(fake), ref)).final.status).toBe('cancelled');
  });

  it('a completed request: ALREADY_COMPLETED → already_finished', async () => {
    const { ref } = await run(provider, channelFor(fake), image());
    expect(await provider.cancel!(channelFor(fake), ref)).toBe('already_finished');
  });

  it('an in-progress request whose app ignores cancellation runs on', async () => {
    fake.honorCancelInProgress = false;
    fake.planNextJobs({ queueMs: 0, runMs: 150 });
    const request = image();
    const job = await provider.submit(channelFor(fake), request, ctx);
    await sleep(10);
    const ref = { jobId: job.jobId, handles: job.handles, request };
    expect(await provider.cancel!(channelFor(fake), ref)).toBe('requested');
    expect((await pollToEnd(provider, channelFor(fake), ref)).final.status).toBe('succeeded');
  });
});

describe('errors', () => {
  it.each(SUBMIT_FAILURES.map((c) => [c.name, c] as const))('submit: %s', async (_name, c) => {
    fake.failNextSubmits(c.fault);
    const err = await providerError(provider.submit(channelFor(fake, c.settings), image(), ctx));
    expectFailure(err, c);
    expectNoKey(err, fake.apiKey);
  });

  it('status polling failures are classified', async () => {
    fake.planNextJobs({ queueMs: Infinity });
    const request = image();
    const job = await provider.submit(channelFor(fake), request, ctx);
    const ref = { jobId: job.jobId, handles: job.handles, request };
    fake.failNext('status', 'hang', 'reset', { kind: 'rate_limited', retryAfter: '4' });
    await expect(provider.status(channelFor(fake, { timeoutMs: 200 }), ref)).rejects.toMatchObject({ code: 'timeout' });
    await expect(provider.status(channelFor(fake), ref)).rejects.toMatchObject({ code: 'connection_error' });
    await expect(provider.status(channelFor(fake), ref)).rejects.toMatchObject({ code: 'rate_limited', retryAfterMs: 4000 });
    await expect(provider.status(channelFor(fake), ref)).resolves.toMatchObject({ status: 'queued' });
  });

  it('the key (key_id:key_secret) is never sent to a URL off the channel origin, nor shown', async () => {
    const request = image();
    const err = await providerError(
      provider.status(channelFor(fake), {
        jobId: 'abc',
        request,
        handles: { status_url: 'https://evil.example/steal', response_url: `${fake.url}/x`, cancel_url: `${fake.url}/y` },
      }),
    );
    expect(err).toMatchObject({ code: 'bad_response' });
    expect(fake.requests).toHaveLength(0);
  });

  it('a wrong key is upstream_auth_failed, and neither half of a fal key reaches a message', async () => {
    const wrong = '3f1e9c2a-1111-4bbb-8ccc-0123456789ab:0123456789abcdef0123456789abcdef';
    const err = await providerError(provider.submit({ ...channelFor(fake), apiKey: wrong }, image(), ctx));
    expect(err).toMatchObject({ code: 'upstream_auth_failed', httpStatus: 401 });
    expectNoKey(err, wrong);
    const [id, secret] = fake.apiKey.split(':');
    fake.failNextSubmits({ kind: 'server_error', message: `key ${secret} / id ${id} / header Key ${fake.apiKey}` });
    const leaked = await providerError(provider.submit(channelFor(fake), image(), ctx));
    expect(leaked.code).toBe('upstream_unavailable');
    expectNoKey(leaked, fake.apiKey);
    expectNoKey(leaked, id);
    expectNoKey(leaked, secret);
  });

  it('submit-time content policy (422 content_policy_violation) is not retryable', async () => {
    fake.failNextSubmits('policy');
    await expect(provider.submit(channelFor(fake), image(), ctx)).rejects.toMatchObject({
      code: 'content_policy_violation',
      retryable: false,
      httpStatus: 422,
      providerCode: 'content_policy_violation',
    });
  });
});
