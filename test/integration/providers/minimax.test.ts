/** The minimax adapter against the fake MiniMax server over real HTTP. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMiniMaxProvider } from '../../../src/providers/minimax';
import { startMiniMaxFake, unknownMiniMaxTaskId, type MiniMaxFake } from '../../fakes/minimax-fake';
import type { Scripted } from '../../fakes/fake-server';
import {
  channelFor,
  ctx,
  download,
  expectNoKey,
  isMp4,
  mediaRequest,
  openThroughGateway,
  providerError,
  readAll,
  run,
  sleep,
  stepThrough,
} from './helpers';

const provider = createMiniMaxProvider();
let fake: MiniMaxFake;

beforeAll(async () => {
  fake = await startMiniMaxFake();
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => {
  fake.reset();
  fake.sendCallbacks = true;
});

const video = (extra: Partial<Parameters<typeof mediaRequest>[0]> = {}) => mediaRequest({ kind: 'video', model: 'MiniMax-Hailuo-02', ...extra });
const music = (extra: Partial<Parameters<typeof mediaRequest>[0]> = {}) =>
  mediaRequest({ kind: 'music', model: 'music-2.0', prompt: 'Pop, melancholic', options: { lyrics: '[Verse]\nla la la' }, ...extra });

describe('video', () => {
  it('maps the request, polls Queueing → Processing → Success, retrieves the file for its download_url', async () => {
    const request = video({
      duration: 10,
      resolution: '768p',
      references: { imageUrl: 'https://example.com/first.png', lastFrameUrl: 'https://example.com/last.png' },
      options: { prompt_optimizer: false },
    });
    const { submitted, queued, running, final } = await stepThrough(provider, channelFor(fake), request, fake);
    expect(submitted).toEqual({ jobId: expect.stringMatching(/^\d{15}$/), status: 'queued', progress: null, outputs: [] });
    const [sent] = fake.requestsTo('POST', '/v1/video_generation');
    expect(sent.headers.authorization).toBe(`Bearer ${fake.apiKey}`);
    expect(sent.body).toEqual({
      prompt_optimizer: false,
      model: 'MiniMax-Hailuo-02',
      prompt: 'a red fox in the snow',
      duration: 10,
      resolution: '768P',
      first_frame_image: 'https://example.com/first.png',
      last_frame_image: 'https://example.com/last.png',
    });
    expect(queued.status).toBe('queued');
    expect(running.status).toBe('processing');
    expect(final).toMatchObject({ status: 'succeeded', progress: 100, usage: { seconds: 10 }, handles: { fileId: fake.job(submitted.jobId).extra.fileId } });
    expect(fake.requestsTo('GET', '/v1/files/retrieve')).toHaveLength(1);
    const file = await download(final.outputs[0].url!);
    expect(file.status).toBe(200);
    expect(isMp4(file.bytes)).toBe(true);
  });

  it('priced fields win over options; a consumer callback_url never goes upstream', async () => {
    const request = video({ duration: 6, resolution: '1080P', options: { duration: 10, resolution: '512P', model: 'T2V-01', callback_url: 'https://evil.example/x' } });
    await provider.submit(channelFor(fake), request, ctx);
    const [sent] = fake.requestsTo('POST', '/v1/video_generation');
    expect(sent.body).toEqual({ model: 'MiniMax-Hailuo-02', prompt: 'a red fox in the snow', duration: 6, resolution: '1080P' });
  });

  it('without a duration, usage is the 6 s MiniMax makes by default', async () => {
    const { final } = await run(provider, channelFor(fake), video());
    expect(final.usage).toEqual({ seconds: 6 });
  });

  it('download URLs expire; openOutput retrieves the file again for a fresh one', async () => {
    fake.setOutputTtlMs(300);
    const { final, ref } = await run(provider, channelFor(fake), video());
    await sleep(350);
    expect((await download(final.outputs[0].url!)).status).toBe(403);
    const fresh = await provider.openOutput!(channelFor(fake), { ...ref, handles: final.handles }, final.outputs[0]);
    // The fresh link is pre-signed: the gateway gets it without the key (and guarded, off the channel's origin).
    expect(fresh).toEqual({ request: { url: expect.any(String), headers: { accept: '*/*' }, timeoutMs: 600_000 } });
    expect((fresh as { request: { url: string } }).request.url).not.toBe(final.outputs[0].url);
    const opened = await openThroughGateway(provider, channelFor(fake), { ...ref, handles: final.handles }, final.outputs[0]);
    expect(opened.status).toBe(200);
    expect(isMp4(opened.bytes)).toBe(true);
    expect(fake.requestsTo('GET', '/v1/files/retrieve')).toHaveLength(3);
  });

  it.each([
    ['1027', 'content_policy_violation', false],
    ['1026', 'content_policy_violation', false],
    ['1000', 'upstream_unavailable', true],
    ['2013', 'invalid_request', false],
  ])('a task that ends Fail with base_resp %s → %s (retryable %s)', async (code, ourCode, retryable) => {
    fake.planNextJobs({ outcome: { kind: 'fail', code, message: 'output new_sensitive' } });
    const { final } = await run(provider, channelFor(fake), video());
    expect(final).toMatchObject({ status: 'failed', error: { code: ourCode, retryable, providerCode: code } });
  });

  it('no cancel in the protocol: not_cancellable, nothing sent', async () => {
    fake.planNextJobs({ queueMs: Infinity });
    const request = video();
    const job = await provider.submit(channelFor(fake), request, ctx);
    fake.clearRequests();
    expect(await provider.cancel!(channelFor(fake), { jobId: job.jobId, request })).toBe('not_cancellable');
    expect(fake.requests).toHaveLength(0);
  });

  it('an unknown task id is answered inside 200 with 2013 → invalid_request', async () => {
    const err = await providerError(provider.status(channelFor(fake), { jobId: unknownMiniMaxTaskId(), request: video() }));
    expect(err).toMatchObject({ code: 'invalid_request', retryable: false, providerCode: '2013', httpStatus: 200 });
  });
});

describe('music', () => {
  it('is synchronous: the hex audio becomes the bytes, usage from music_duration; no URL to expire', async () => {
    fake.planNextJobs({ seconds: 61 });
    const job = await provider.submit(channelFor(fake), music(), ctx);
    expect(job).toMatchObject({ jobId: 'mmmusic_task_test_1', status: 'succeeded', usage: { seconds: 61 } });
    const [sent] = fake.requestsTo('POST', '/v1/music_generation');
    expect(sent.body).toEqual({
      audio_setting: { sample_rate: 44100, bitrate: 256000, format: 'mp3' },
      lyrics: '[Verse]\nla la la',
      model: 'music-2.0',
      prompt: 'Pop, melancholic',
      stream: false,
      output_format: 'hex',
    });
    const bytes = Buffer.from(job.outputs[0].base64!, 'base64');
    expect(bytes.equals(fake.lastJob().extra.audio as Buffer)).toBe(true);
    expect(bytes.subarray(0, 3).toString('latin1')).toBe('ID3');
    expect(job.outputs[0]).toMatchObject({ contentType: 'audio/mpeg' });
    const opened = await openThroughGateway(provider, channelFor(fake), { jobId: job.jobId, request: music() }, job.outputs[0]);
    expect(opened.bytes.equals(bytes)).toBe(true);
  });

  it('wav comes back as audio/wav; options cannot ask for a URL or a stream', async () => {
    const job = await provider.submit(
      channelFor(fake),
      music({ options: { lyrics: 'la', audio_setting: { format: 'wav', sample_rate: 32000, bitrate: 128000 }, output_format: 'url', stream: true } }),
      ctx,
    );
    expect(job.outputs[0].contentType).toBe('audio/wav');
    expect(Buffer.from(job.outputs[0].base64!, 'base64').subarray(0, 4).toString('latin1')).toBe('RIFF');
    expect(fake.requestsTo('POST', '/v1/music_generation')[0].body).toMatchObject({ output_format: 'hex', stream: false });
  });

  it('status has nothing to poll; cancel is already_finished', async () => {
    const job = await provider.submit(channelFor(fake), music(), ctx);
    const err = await providerError(provider.status(channelFor(fake), { jobId: job.jobId, request: music() }));
    expect(err).toMatchObject({ code: 'not_found', retryable: false });
    expect(await provider.cancel!(channelFor(fake), { jobId: job.jobId, request: music() })).toBe('already_finished');
  });

  it('missing lyrics are refused by the fake as MiniMax does (2013 inside 200)', async () => {
    const err = await providerError(provider.submit(channelFor(fake), music({ options: {} }), ctx));
    expect(err).toMatchObject({ code: 'invalid_request', providerCode: '2013', httpStatus: 200 });
  });

  it('bad hex is a bad_response', async () => {
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ data: { status: 2, audio: 'xyz' }, base_resp: { status_code: 0, status_msg: 'success' } }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const err = await providerError(provider.submit({ ...channelFor(fake), baseUrl: url }, music(), ctx));
      expect(err).toMatchObject({ code: 'bad_response' });
    } finally {
      server.close();
    }
  });
});

describe('errors inside HTTP 200', () => {
  const cases: [string, Scripted, string, boolean][] = [
    ['1004 wrong key or region', 'unauthorized', 'upstream_auth_failed', false],
    ['1002 rate limit', 'rate_limited', 'rate_limited', true],
    ['1008 no balance', { kind: 'invalid', code: '1008', message: 'insufficient balance' }, 'upstream_insufficient_balance', false],
    ['1026 sensitive input', 'policy', 'content_policy_violation', false],
    ['2013 invalid params', 'invalid', 'invalid_request', false],
    ['1024 internal', 'server_error', 'upstream_unavailable', true],
    ['1039 token limit', { kind: 'invalid', code: '1039' }, 'rate_limited', true],
    ['2056 usage limit', { kind: 'invalid', code: '2056' }, 'upstream_quota_exceeded', false],
    ['2049 invalid key', { kind: 'invalid', code: '2049' }, 'upstream_auth_failed', false],
    ['9999 unknown', { kind: 'invalid', code: '9999' }, 'job_failed', false],
  ];
  it.each(cases)('%s → %s', async (_name, fault, code, retryable) => {
    for (const request of [video(), music()]) {
      fake.failNextSubmits(fault);
      const err = await providerError(provider.submit(channelFor(fake), request, ctx));
      expect({ code: err.code, retryable: err.retryable, httpStatus: err.httpStatus }).toEqual({ code, retryable, httpStatus: 200 });
      expectNoKey(err, fake.apiKey);
    }
  });

  it('a real wrong key gets 1004 in a 200, without the key in the message', async () => {
    const wrong = 'eyJhbGciOiJSUzI1NiJ9.wrongwrongwrongwrongwrong';
    const err = await providerError(provider.submit({ ...channelFor(fake), apiKey: wrong }, video(), ctx));
    expect(err).toMatchObject({ code: 'upstream_auth_failed', providerCode: '1004', httpStatus: 200 });
    expectNoKey(err, wrong);
  });

  it('an unknown model is MiniMax\'s own 2013, final', async () => {
    const err = await providerError(provider.submit(channelFor(fake), video({ model: 'MiniMax-Hailuo-9' }), ctx));
    expect(err).toMatchObject({ code: 'invalid_request', retryable: false, providerCode: '2013' });
  });

  it('a base_resp error on another HTTP status keeps its code and Retry-After', async () => {
    fake.failNextSubmits({ kind: 'unavailable', retryAfter: '3' });
    const err = await providerError(provider.submit(channelFor(fake), video(), ctx));
    expect(err).toMatchObject({ code: 'upstream_unavailable', retryable: true, httpStatus: 503, providerCode: '1033', retryAfterMs: 3000 });
  });

  it.each([
    ['hang', 'hang' as Scripted, 'timeout', { timeoutMs: 250 }],
    ['reset', 'reset' as Scripted, 'connection_error', {}],
    ['malformed', 'malformed' as Scripted, 'bad_response', {}],
    ['502 html', 'bad_gateway' as Scripted, 'upstream_unavailable', {}],
  ])('transport: %s → %s (retryable)', async (_name, fault, code, settings) => {
    fake.failNextSubmits(fault);
    const err = await providerError(provider.submit(channelFor(fake, settings), video(), ctx));
    expect({ code: err.code, retryable: err.retryable }).toEqual({ code, retryable: true });
  });

  it('a failing files/retrieve during status is reported, not turned into success', async () => {
    fake.failNext('result', { kind: 'invalid', code: '1000' });
    const request = video();
    const job = await provider.submit(channelFor(fake), request, ctx);
    fake.finishJob(job.jobId);
    const err = await providerError(provider.status(channelFor(fake), { jobId: job.jobId, request }));
    expect(err).toMatchObject({ code: 'upstream_unavailable', retryable: true });
  });

  it('invalid settings are refused', async () => {
    const err = await providerError(provider.submit(channelFor(fake, { region: 'mars' }), video(), ctx));
    expect(err).toMatchObject({ code: 'invalid_channel_settings', retryable: false });
  });

  it('does not serve images', async () => {
    const err = await providerError(provider.submit(channelFor(fake), mediaRequest({ kind: 'image', model: 'image-01' }), ctx));
    expect(err).toMatchObject({ code: 'invalid_request', retryable: false });
  });
});

describe('callbacks', () => {
  /** A receiver that answers through the adapter's readCallback, as the gateway route does. */
  async function receiver(answer: 'adapter' | 'wrong' = 'adapter') {
    const got: unknown[] = [];
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const rawBody = Buffer.concat(chunks);
        got.push(JSON.parse(rawBody.toString('utf8')));
        const result = provider.readCallback!(channelFor(fake), { headers: {}, rawBody });
        const reply = result.kind === 'challenge' ? (answer === 'wrong' ? { challenge: 'nope' } : result.reply) : { ok: true };
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(reply));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    return { got, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/cb/job_1?token=t`, close: () => new Promise<void>((r) => server.close(() => r())) };
  }

  it('writes ctx.callbackUrl as callback_url; answers the challenge; then receives the status pushes', async () => {
    const rx = await receiver();
    try {
      await provider.submit(channelFor(fake), video(), { ...ctx, callbackUrl: rx.url });
      expect(fake.requestsTo('POST', '/v1/video_generation')[0].body).toMatchObject({ callback_url: rx.url });
      const job = fake.lastJob();
      for (let i = 0; i < 200 && !rx.got.some((b) => (b as { status?: string }).status === 'success'); i++) await sleep(20);
      expect(rx.got[0]).toEqual({ challenge: expect.any(String) });
      expect(fake.callbackLog[0].reply).toEqual(rx.got[0]);
      expect(job.extra.callbackVerified).toBe(true);
      expect(rx.got.slice(1).map((b) => (b as { status: string }).status)).toContain('success');
      expect(rx.got[rx.got.length - 1]).toMatchObject({ task_id: job.id, status: 'success', file_id: job.extra.fileId });
    } finally {
      await rx.close();
    }
  });

  it('a wrong echo fails the handshake: no status is pushed', async () => {
    const rx = await receiver('wrong');
    try {
      await provider.submit(channelFor(fake), video(), { ...ctx, callbackUrl: rx.url });
      const job = fake.lastJob();
      fake.finishJob(job.id);
      await sleep(150);
      expect(job.extra.callbackVerified).toBe(false);
      expect(rx.got).toHaveLength(1);
    } finally {
      await rx.close();
    }
  });

  it('the fake can be told not to call back', async () => {
    fake.sendCallbacks = false;
    const rx = await receiver();
    try {
      await provider.submit(channelFor(fake), video(), { ...ctx, callbackUrl: rx.url });
      await sleep(100);
      expect(rx.got).toHaveLength(0);
    } finally {
      await rx.close();
    }
  });
});
