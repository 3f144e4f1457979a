/** The luma adapter against the fake Luma Dream Machine API over real HTTP, callbacks included. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLumaProvider } from '../../../src/providers/luma';
import { startLumaFake, type LumaFake } from '../../fakes/luma-fake';
import { SUBMIT_FAILURES, channelFor, ctx, download, expectFailure, expectNoKey, isMp4, mediaRequest, providerError, run, sleep, stepThrough } from './helpers';

const provider = createLumaProvider();
let fake: LumaFake;

beforeAll(async () => {
  fake = await startLumaFake();
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => {
  fake.reset();
  fake.sendCallbacks = true;
});

type Partial2 = Partial<Parameters<typeof mediaRequest>[0]>;
const video = (extra: Partial2 = {}) => mediaRequest({ kind: 'video', model: 'ray-2', duration: 5, ...extra });
const VIDEOS = '/dream-machine/v1/generations/video';

describe('success', () => {
  it('"5s" duration, resolution, ratio and keyframes for the frames; queued → dreaming → completed', async () => {
    const request = video({
      resolution: '720p',
      aspectRatio: '16:9',
      references: { imageUrl: 'https://example.com/first.png', lastFrameUrl: 'https://example.com/last.png' },
      options: { loop: true },
    });
    const { submitted, queued, running, final } = await stepThrough(provider, channelFor(fake), request, fake);
    expect(submitted).toMatchObject({ jobId: expect.stringMatching(/^[0-9a-f-]{36}$/), status: 'queued' });
    const [sent] = fake.requestsTo('POST', VIDEOS);
    expect(sent.headers.authorization).toBe(`Bearer ${fake.apiKey}`);
    expect(sent.body).toEqual({
      loop: true,
      model: 'ray-2',
      prompt: 'a red fox in the snow',
      aspect_ratio: '16:9',
      resolution: '720p',
      duration: '5s',
      keyframes: { frame0: { type: 'image', url: 'https://example.com/first.png' }, frame1: { type: 'image', url: 'https://example.com/last.png' } },
    });
    expect(queued.status).toBe('queued');
    expect(running).toMatchObject({ status: 'processing', progress: null });
    expect(final).toMatchObject({ status: 'succeeded', progress: 100, usage: { seconds: 5 } });
    expect(isMp4((await download(final.outputs[0].url!)).bytes)).toBe(true);
  });

  it('an image generation takes image_ref from the reference images', async () => {
    const request = mediaRequest({ kind: 'image', model: 'photon-1', references: { imageUrls: ['https://example.com/a.png'] } });
    const { final } = await run(provider, channelFor(fake), request);
    expect(fake.requestsTo('POST', '/dream-machine/v1/generations/image')[0].body).toEqual({ model: 'photon-1', prompt: 'a red fox in the snow', image_ref: [{ url: 'https://example.com/a.png' }] });
    expect(final).toMatchObject({ status: 'succeeded', usage: { images: 1 } });
  });

  it('priced keys in options never reach Luma', async () => {
    await provider.submit(channelFor(fake), video({ options: { duration: '9s', resolution: '4k', model: 'ray-1-6' } }), ctx);
    expect(fake.requestsTo('POST', VIDEOS)[0].body).toEqual({ model: 'ray-2', prompt: 'a red fox in the snow', duration: '5s' });
  });

  it('the fake refuses a numeric duration, as Luma does', async () => {
    const res = await fetch(`${fake.url}/generations/video`, {
      method: 'POST', headers: { authorization: `Bearer ${fake.apiKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'ray-2', prompt: 'x', duration: 5 }),
    });
    expect(res.status).toBe(422);
  });
});

describe('callbacks', () => {
  let receiver: http.Server;
  let received: { body: Buffer; headers: http.IncomingHttpHeaders }[];
  let hookUrl: string;

  beforeAll(async () => {
    receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ body: Buffer.concat(chunks), headers: req.headers });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/luma/job_1?token=t`;
  });
  afterAll(async () => {
    await new Promise((resolve) => receiver.close(resolve));
  });
  beforeEach(() => {
    received = [];
  });

  it('callback_url carries our URL; Luma calls it when dreaming and completed; readCallback names the job', async () => {
    fake.planNextJobs({ queueMs: 30, runMs: 80 });
    const job = await provider.submit(channelFor(fake), video(), { ...ctx, callbackUrl: hookUrl });
    expect(fake.requestsTo('POST', VIDEOS)[0].body).toMatchObject({ callback_url: hookUrl });
    for (let i = 0; i < 100 && received.length < 2; i++) await sleep(20);
    expect(received.map((r) => JSON.parse(r.body.toString()).state)).toEqual(['dreaming', 'completed']);
    for (const r of received) {
      expect(provider.readCallback!(channelFor(fake), { headers: { 'content-type': r.headers['content-type'] }, rawBody: r.body })).toEqual({ kind: 'job-update', jobId: job.jobId });
    }
  });

  it('without a callback URL no callback_url is sent', async () => {
    await provider.submit(channelFor(fake), video(), ctx);
    expect(fake.requestsTo('POST', VIDEOS)[0].body).not.toHaveProperty('callback_url');
  });

  it('readCallback refuses bodies that are not a generation', () => {
    for (const raw of ['not json', '[]', '{"state":"completed"}', '{"id":"","state":"completed"}', '{"id":"x"}']) {
      expect(() => provider.readCallback!(channelFor(fake), { headers: {}, rawBody: Buffer.from(raw) })).toThrow(expect.objectContaining({ code: 'invalid_request', retryable: false }));
    }
  });
});

describe('in-flight failures', () => {
  it.each([
    ['Prompt failed content moderation', 'content_policy_violation', false],
    ['Internal server error', 'job_failed', true],
    ['Job timed out', 'job_failed', true],
    ['Unsupported keyframe image', 'job_failed', false],
  ])('failed: %s → %s (retryable %s)', async (reason, code, retryable) => {
    fake.planNextJobs({ outcome: { kind: 'fail', message: reason } });
    const { final } = await run(provider, channelFor(fake), video());
    expect(final).toMatchObject({ status: 'failed', error: { code, retryable } });
    expect(final.error!.message).toContain(reason);
  });
});

describe('errors', () => {
  it.each(SUBMIT_FAILURES.map((c) => [c.name, c] as const))('submit: %s', async (_name, c) => {
    fake.failNextSubmits(c.fault);
    const err = await providerError(provider.submit(channelFor(fake, c.settings), video(), ctx));
    expectFailure(err, c);
    expectNoKey(err, fake.apiKey);
  });

  it('an unsupported duration (7 s) is invalid_request naming the field', async () => {
    const err = await providerError(provider.submit(channelFor(fake), video({ duration: 7 }), ctx));
    expect(err).toMatchObject({ code: 'invalid_request', httpStatus: 422 });
    expect(err.message).toContain('body.duration');
  });

  it('an unknown generation is not_found', async () => {
    await expect(provider.status(channelFor(fake), { jobId: 'nope', request: video() })).rejects.toMatchObject({ code: 'not_found' });
  });

  it('only video and image', async () => {
    await expect(provider.submit(channelFor(fake), mediaRequest({ kind: 'music', model: 'ray-2' }), ctx)).rejects.toMatchObject({ code: 'invalid_request' });
  });
});
