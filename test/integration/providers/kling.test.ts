/** The kling adapter against the fake Kling API over real HTTP (the fake checks the JWT like Kling). */
import { createHmac } from 'node:crypto';
import { createKlingProvider } from '../../../src/providers/kling';
import { klingToken } from '../../../src/providers/kling/auth';
import { startKlingFake, type KlingFake } from '../../fakes/kling-fake';
import {
  channelFor,
  ctx,
  download,
  expectNoKey,
  itClassifiesSubmitFailures,
  isMp4,
  isPng,
  mediaRequest,
  providerError,
  run,
  stepThrough,
} from './helpers';

const provider = createKlingProvider();
let fake: KlingFake;

beforeAll(async () => {
  fake = await startKlingFake({ callbacks: false });
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => {
  fake.reset();
  fake.setBalance(null);
});

const video = (extra: Partial<Parameters<typeof mediaRequest>[0]> = {}) => mediaRequest({ kind: 'video', model: 'kling-v2-6', ...extra });
const image = (extra: Partial<Parameters<typeof mediaRequest>[0]> = {}) => mediaRequest({ kind: 'image', model: 'kling-v2-1', ...extra });
const T2V = '/v1/videos/text2video';

function claims(authorization: string | string[] | undefined): Record<string, unknown> {
  const token = String(authorization).replace(/^Bearer /, '');
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')) as Record<string, unknown>;
}

describe('success', () => {
  it('text to video: duration as a string, mode from the tier, options without priced keys; succeed → a downloadable video', async () => {
    const request = video({ duration: 10, quality: 'pro', aspectRatio: '9:16', options: { negative_prompt: 'blur', duration: 15, mode: 'std', model_name: 'kling-v3' } });
    const { submitted, queued, running, final } = await stepThrough(provider, channelFor(fake), request, fake);
    expect(submitted).toMatchObject({ jobId: expect.stringMatching(/^\d{18}$/), status: 'queued', handles: { endpoint: 'v1/videos/text2video' } });
    const [sent] = fake.requestsTo('POST', T2V);
    expect(sent.body).toEqual({ negative_prompt: 'blur', model_name: 'kling-v2-6', prompt: 'a red fox in the snow', aspect_ratio: '9:16', mode: 'pro', duration: '10' });
    expect(queued.status).toBe('queued');
    expect(running.status).toBe('processing');
    expect(final).toMatchObject({ status: 'succeeded', progress: 100, usage: { seconds: 10 } });
    const file = await download(final.outputs[0].url!);
    expect(file.status).toBe(200);
    expect(isMp4(file.bytes)).toBe(true);
  });

  it('every call carries its own HS256 JWT: issuer the access key, nbf 5 s back, a short expiry', async () => {
    await run(provider, channelFor(fake), video({ duration: 5 }));
    const now = Math.floor(Date.now() / 1000);
    expect(fake.requests.length).toBeGreaterThan(1);
    for (const r of fake.requests.filter((x) => !x.path.startsWith('/files/'))) {
      const c = claims(r.headers.authorization);
      expect(c.iss).toBe(fake.accessKey);
      expect(Number(c.exp) - Number(c.nbf)).toBe(305);
      expect(Number(c.exp)).toBeGreaterThan(now);
      expect(Number(c.exp)).toBeLessThanOrEqual(now + 301);
    }
    const raw = await fake.requestsTo('POST', T2V)[0].rawBody;
    expect(raw).not.toContain(fake.secretKey);
  });

  it('image to video: image and image_tail as URLs, no aspect_ratio', async () => {
    const request = video({ duration: 5, aspectRatio: '16:9', references: { imageUrl: 'https://example.com/a.png', lastFrameUrl: 'https://example.com/b.png' } });
    const { final, submitted } = await run(provider, channelFor(fake), request);
    expect(submitted.handles).toEqual({ endpoint: 'v1/videos/image2video' });
    expect(fake.requestsTo('POST', '/v1/videos/image2video')[0].body).toEqual({
      model_name: 'kling-v2-6', prompt: 'a red fox in the snow', image: 'https://example.com/a.png', image_tail: 'https://example.com/b.png', duration: '5',
    });
    expect(final.status).toBe('succeeded');
    expect(fake.requestsTo('GET', '/v1/videos/image2video/')).not.toHaveLength(0);
  });

  it('images: n and resolution are the priced ones; usage counts the images', async () => {
    const request = image({ n: 3, resolution: '2k', aspectRatio: '1:1', options: { n: 9, resolution: '1k' } });
    const { final } = await run(provider, channelFor(fake), request);
    expect(fake.requestsTo('POST', '/v1/images/generations')[0].body).toEqual({ model_name: 'kling-v2-1', prompt: 'a red fox in the snow', aspect_ratio: '1:1', resolution: '2k', n: 3 });
    expect(final).toMatchObject({ status: 'succeeded', usage: { images: 3 } });
    expect(final.outputs).toHaveLength(3);
    expect(isPng((await download(final.outputs[0].url!)).bytes)).toBe(true);
  });

  it('a shorter video than asked is reported as made (5.041 s → 5)', async () => {
    fake.planNextJobs({ seconds: 5 });
    const { final } = await run(provider, channelFor(fake), video({ duration: 10 }));
    expect(final.usage).toEqual({ seconds: 5 });
  });

  it('writes the gateway callback URL as callback_url', async () => {
    await provider.submit(channelFor(fake), video({ duration: 5 }), { ...ctx, callbackUrl: 'https://gw.example/provider-callbacks/tok' });
    expect(fake.requestsTo('POST', T2V)[0].body).toMatchObject({ callback_url: 'https://gw.example/provider-callbacks/tok' });
  });

  it('a quality or resolution Kling cannot honour is refused before anything is sent', async () => {
    await expect(provider.submit(channelFor(fake), video({ quality: 'ultra' }), ctx)).rejects.toMatchObject({ code: 'invalid_request', retryable: false });
    await expect(provider.submit(channelFor(fake), image({ resolution: '4k' }), ctx)).rejects.toMatchObject({ code: 'invalid_request' });
    expect(fake.requests).toHaveLength(0);
  });
});

describe('the fake checks the JWT like Kling', () => {
  const keys = () => ({ accessKey: fake.accessKey, secretKey: fake.secretKey });
  async function callWith(token: string): Promise<{ status: number; code: number }> {
    const res = await fetch(`${fake.url}${T2V}/1`, { headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, code: ((await res.json()) as { code: number }).code };
  }
  it('expired → 401/1004, not yet valid → 401/1003, wrong secret → 401/1002', async () => {
    expect(await callWith(klingToken(keys(), 60, Date.now() - 120_000))).toEqual({ status: 401, code: 1004 });
    expect(await callWith(klingToken(keys(), 60, Date.now() + 120_000))).toEqual({ status: 401, code: 1003 });
    expect(await callWith(klingToken({ ...keys(), secretKey: 'other' }, 60))).toEqual({ status: 401, code: 1002 });
    const [h, p] = klingToken(keys(), 60).split('.');
    const forged = Buffer.from(JSON.stringify({ iss: 'someone', exp: 9e9, nbf: 0 })).toString('base64url');
    const sig = createHmac('sha256', fake.secretKey).update(`${h}.${forged}`).digest('base64url');
    expect(await callWith(`${h}.${forged}.${sig}`)).toEqual({ status: 401, code: 1002 });
    expect(p).toBeDefined();
  });

  it('the adapter classifies 1004 as passing (not a refused credential, which would disable the channel) and 1002 as final', async () => {
    fake.failNextSubmits({ kind: 'unauthorized', code: '1004' });
    await expect(provider.submit(channelFor(fake), video(), ctx)).rejects.toMatchObject({ code: 'upstream_unavailable', retryable: true, providerCode: '1004' });
    const err = await providerError(provider.submit({ ...channelFor(fake), apiKey: `${fake.accessKey}:wrongsecretwrongsecret` }, video(), ctx));
    expect(err).toMatchObject({ code: 'upstream_auth_failed', retryable: false, providerCode: '1002', httpStatus: 401 });
    expectNoKey(err, 'wrongsecretwrongsecret');
  });

  it('an api_key without ACCESS_KEY:SECRET_KEY is a channel mistake, nothing sent', async () => {
    const err = await providerError(provider.submit({ ...channelFor(fake), apiKey: 'just-one-key-here' }, video(), ctx));
    expect(err).toMatchObject({ code: 'invalid_channel_settings', retryable: false });
    expectNoKey(err, 'just-one-key-here');
    expect(fake.requests).toHaveLength(0);
  });
});

describe('in-flight failures', () => {
  it.each([
    ['Failure to pass the risk control system', 'content_policy_violation', false],
    ['internal error, please retry', 'job_failed', true],
    ['image aspect ratio is out of range', 'job_failed', false],
  ])('failed "%s" → %s (retryable %s)', async (message, code, retryable) => {
    fake.planNextJobs({ outcome: { kind: 'fail', message } });
    const { final } = await run(provider, channelFor(fake), video({ duration: 5 }));
    expect(final).toMatchObject({ status: 'failed', error: { code, retryable } });
  });
});

describe('errors', () => {
  itClassifiesSubmitFailures(provider, () => fake, video({ duration: 5 }));

  it('an error code inside HTTP 200 is still an error, classified by its code', async () => {
    fake.failNextSubmits({ kind: 'invalid', status: 200, code: '1201' }, { kind: 'server_error', status: 200, code: '5002' });
    await expect(provider.submit(channelFor(fake), video({ duration: 5 }), ctx)).rejects.toMatchObject({ code: 'invalid_request', retryable: false, httpStatus: 200, providerCode: '1201' });
    await expect(provider.submit(channelFor(fake), video({ duration: 5 }), ctx)).rejects.toMatchObject({ code: 'upstream_unavailable', retryable: true, providerCode: '5002' });
  });

  it('a depleted resource pack arrives as HTTP 429 code 1102 and is FINAL, not retryable', async () => {
    fake.setBalance(1);
    const err = await providerError(provider.submit(channelFor(fake), video({ duration: 5 }), ctx));
    expect(err).toMatchObject({ code: 'upstream_auth_failed', retryable: false, httpStatus: 429, providerCode: '1102' });
  });

  it('concurrency over the pack is 429/1303 → rate_limited with at least 1 s backoff', async () => {
    const small = await startKlingFake({ maxConcurrent: 1, callbacks: false, jobPlan: { queueMs: Infinity } });
    try {
      await provider.submit(channelFor(small), video({ duration: 5 }), ctx);
      const err = await providerError(provider.submit(channelFor(small), video({ duration: 5 }), ctx));
      expect(err).toMatchObject({ code: 'rate_limited', retryable: true, providerCode: '1303', retryAfterMs: 1000 });
    } finally {
      await small.close();
    }
  });

  it('an unknown model is 404/1203 → invalid_request; an unknown task is not_found', async () => {
    await expect(provider.submit(channelFor(fake), video({ model: 'kling-v9' }), ctx)).rejects.toMatchObject({ code: 'invalid_request', httpStatus: 404, providerCode: '1203' });
    await expect(provider.status(channelFor(fake), { jobId: '123', handles: { endpoint: 'v1/videos/text2video' }, request: video() })).rejects.toMatchObject({ code: 'not_found', retryable: false });
  });

  it('the fake refuses a numeric duration, as Kling does', async () => {
    const token = klingToken({ accessKey: fake.accessKey, secretKey: fake.secretKey }, 60);
    const res = await fetch(`${fake.url}${T2V}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ model_name: 'kling-v2-6', prompt: 'x', duration: 5 }) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { code: number }).code).toBe(1201);
  });

  it('no cancel: a running task is not_cancellable, a finished one already_finished', async () => {
    fake.planNextJobs({ queueMs: 0, runMs: Infinity });
    const request = video({ duration: 5 });
    const job = await provider.submit(channelFor(fake), request, ctx);
    const ref = { jobId: job.jobId, handles: job.handles, request };
    expect(await provider.cancel!(channelFor(fake), ref)).toBe('not_cancellable');
    fake.finishJob(job.jobId);
    expect(await provider.cancel!(channelFor(fake), ref)).toBe('already_finished');
  });
});

describe('callbacks', () => {
  it('the fake POSTs the bare task to callback_url; readCallback names the task', async () => {
    const http = await import('node:http');
    const got: Buffer[] = [];
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        got.push(Buffer.concat(chunks));
        res.end('ok');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const calling = await startKlingFake({ jobPlan: { queueMs: 20, runMs: 60 } });
    try {
      const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/cb`;
      const job = await provider.submit(channelFor(calling), video({ duration: 5 }), { ...ctx, callbackUrl: url });
      const until = Date.now() + 5000;
      while (Date.now() < until && !got.some((b) => b.toString().includes('"succeed"'))) await new Promise((r) => setTimeout(r, 20));
      const last = got[got.length - 1];
      expect(JSON.parse(last.toString())).toMatchObject({ task_id: job.jobId, task_status: 'succeed' });
      expect(JSON.parse(last.toString())).not.toHaveProperty('code');
      expect(provider.readCallback!(channelFor(calling), { headers: {}, rawBody: last })).toEqual({ kind: 'job-update', jobId: job.jobId });
    } finally {
      await calling.close();
      server.close();
    }
  });

});
