/** The gemini (Veo) adapter against the fake Gemini API over real HTTP. */
import { createGeminiProvider } from '../../../src/providers/gemini';
import { startGeminiFake, type GeminiFake } from '../../fakes/gemini-fake';
import {
  channelFor,
  ctx,
  download,
  expectNoKey,
  itClassifiesSubmitFailures,
  isMp4,
  mediaRequest,
  openThroughGateway,
  providerError,
  readAll,
  run,
  sleep,
} from './helpers';

const provider = createGeminiProvider();
let fake: GeminiFake;

beforeAll(async () => {
  fake = await startGeminiFake();
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => {
  fake.reset();
});

const MODEL = 'veo-3.1-generate-preview';
const video = (extra: Partial<Parameters<typeof mediaRequest>[0]> = {}) => mediaRequest({ kind: 'video', model: MODEL, ...extra });
const CREATE = `/v1beta/models/${MODEL}:predictLongRunning`;

describe('success', () => {
  it('sends the priced parameters after the options, polls the operation and downloads through the redirect without leaking the key', async () => {
    const request = video({ duration: 8, resolution: '1080p', aspectRatio: '9:16', options: { negativePrompt: 'blur', durationSeconds: 4, sampleCount: 4 } });
    fake.planNextJobs({ queueMs: 0, runMs: Infinity });
    const submitted = await provider.submit(channelFor(fake, { personGeneration: 'allow_all' }), request, ctx);
    expect(submitted).toEqual({ jobId: expect.stringMatching(new RegExp(`^models/${MODEL}/operations/[0-9a-f]{12}$`)), status: 'processing', progress: null, outputs: [] });
    const [sent] = fake.requestsTo('POST', CREATE);
    expect(sent.headers['x-goog-api-key']).toBe(fake.apiKey);
    expect(sent.query).toEqual({});
    // Options can't change what was priced: the hostile durationSeconds and sampleCount are overwritten.
    expect(sent.body).toEqual({
      instances: [{ prompt: 'a red fox in the snow' }],
      parameters: { negativePrompt: 'blur', aspectRatio: '9:16', personGeneration: 'allow_all', durationSeconds: 8, resolution: '1080p', sampleCount: 1 },
    });
    const ref = { jobId: submitted.jobId, request };
    expect(await provider.status(channelFor(fake), ref)).toMatchObject({ status: 'processing', progress: null });
    fake.finishJob(submitted.jobId);
    const final = await provider.status(channelFor(fake), ref);
    expect(final).toMatchObject({ status: 'succeeded', progress: 100, usage: { seconds: 8 } });
    expect(final.outputs).toEqual([{ url: expect.stringContaining('/v1beta/files/'), contentType: 'video/mp4' }]);

    // A plain GET without the key is refused; openOutput asks the gateway for a request with the key, whose
    // guarded client follows the 302 and drops the key off-origin.
    expect((await download(final.outputs[0].url!)).status).toBe(403);
    expect(await provider.openOutput!(channelFor(fake), ref, final.outputs[0])).toEqual({
      request: { url: final.outputs[0].url, headers: { 'x-goog-api-key': fake.apiKey, accept: '*/*' }, timeoutMs: 600_000 },
    });
    fake.clearRequests();
    const opened = await openThroughGateway(provider, channelFor(fake), ref, final.outputs[0]);
    expect(isMp4(opened.bytes)).toBe(true);
    expect(opened.contentType).toBe('video/mp4');
    const hops = fake.requests.filter((r) => r.path.includes('/files/'));
    expect(hops.map((r) => [r.headers.host?.split(':')[0], r.headers['x-goog-api-key'] !== undefined])).toEqual([
      ['127.0.0.1', true],
      ['localhost', false],
    ]);
    expect(fake.keyLeaks()).toBe(0);
  });

  it('the file is gone after its retention: its download answers 404 (final for the asset step)', async () => {
    fake.setOutputTtlMs(300);
    const { final, ref } = await run(provider, channelFor(fake), video({ duration: 4 }));
    await sleep(350);
    expect((await openThroughGateway(provider, channelFor(fake), ref, final.outputs[0])).status).toBe(404);
  });

  it('never sends the key to a video URI on another origin', async () => {
    const { final, ref } = await run(provider, channelFor(fake), video({ duration: 4 }));
    const elsewhere = final.outputs[0].url!.replace('://127.0.0.1:', '://localhost:');
    fake.clearRequests();
    const err = await providerError(provider.openOutput!(channelFor(fake), ref, { url: elsewhere }));
    expect(err).toMatchObject({ code: 'bad_response', retryable: false });
    expect(fake.requests).toHaveLength(0);
  });

  it('a redirect loop ends in a refusal of the guarded client', async () => {
    const http = await import('node:http');
    const loop = http.createServer((_req, res) => {
      res.writeHead(302, { location: '/again' });
      res.end();
    });
    await new Promise<void>((resolve) => loop.listen(0, '127.0.0.1', () => resolve()));
    try {
      const base = `http://127.0.0.1:${(loop.address() as { port: number }).port}/v1beta`;
      const channel = { ...channelFor(fake), baseUrl: base };
      await expect(openThroughGateway(provider, channel, { jobId: 'x', request: video() }, { url: `${base}/files/a:download?alt=media` })).rejects.toThrow('more than 5 redirects');
    } finally {
      loop.close();
    }
  });
});

describe('in-flight failures', () => {
  it('every video RAI-filtered → content_policy_violation, final, with Google\'s reason', async () => {
    fake.planNextJobs({ outcome: { kind: 'fail', code: 'rai', message: 'The input resembles a public figure.' } });
    const { final } = await run(provider, channelFor(fake), video({ duration: 4 }));
    expect(final).toMatchObject({ status: 'failed', outputs: [], error: { code: 'content_policy_violation', retryable: false, providerCode: 'RAI_MEDIA_FILTERED' } });
    expect(final.error!.message).toContain('public figure');
    expect(final.usage).toBeUndefined();
  });

  it.each([
    ['13', true],
    ['14', true],
    ['3', false],
  ])('operation error with gRPC code %s → job_failed (retryable %s)', async (code, retryable) => {
    fake.planNextJobs({ outcome: { kind: 'fail', code, message: 'nope' } });
    const { final } = await run(provider, channelFor(fake), video({ duration: 4 }));
    expect(final).toMatchObject({ status: 'failed', error: { code: 'job_failed', retryable, providerCode: code } });
  });
});

describe('errors', () => {
  itClassifiesSubmitFailures(provider, () => fake, video({ duration: 4 }));

  it('429 RESOURCE_EXHAUSTED: the wait comes from RetryInfo.retryDelay (Google sends no Retry-After)', async () => {
    fake.failNextSubmits({ kind: 'rate_limited', retryAfter: '27' });
    const err = await providerError(provider.submit(channelFor(fake), video({ duration: 4 }), ctx));
    expect(err).toMatchObject({ code: 'rate_limited', retryable: true, retryAfterMs: 27_000, providerCode: 'RESOURCE_EXHAUSTED' });
  });

  it('a wrong key is 400 API_KEY_INVALID → upstream_auth_failed, final, without the key', async () => {
    const wrong = `AIza${'Q'.repeat(35)}`;
    const err = await providerError(provider.submit({ ...channelFor(fake), apiKey: wrong }, video({ duration: 4 }), ctx));
    expect(err).toMatchObject({ code: 'upstream_auth_failed', retryable: false, httpStatus: 400 });
    expectNoKey(err, wrong);
  });

  it('an unknown or retired model is 404 → invalid_request, final', async () => {
    const err = await providerError(provider.submit(channelFor(fake), video({ model: 'veo-3.0-generate-001', duration: 4 }), ctx));
    expect(err).toMatchObject({ code: 'invalid_request', retryable: false, httpStatus: 404, providerCode: 'NOT_FOUND' });
  });

  it('the fake validates like the Gemini API: 4k needs 8 s; Vertex-only options are refused', async () => {
    await expect(provider.submit(channelFor(fake), video({ duration: 4, resolution: '4k' }), ctx)).rejects.toMatchObject({ code: 'invalid_request', httpStatus: 400 });
    await expect(provider.submit(channelFor(fake), video({ duration: 4, options: { seed: 3 } }), ctx)).rejects.toMatchObject({ code: 'invalid_request', httpStatus: 400 });
  });

  it('an unknown operation is not_found; a name that is not an operation is never fetched', async () => {
    const err = await providerError(provider.status(channelFor(fake), { jobId: `models/${MODEL}/operations/nope`, request: video() }));
    expect(err).toMatchObject({ code: 'not_found', retryable: false });
    fake.clearRequests();
    const odd = await providerError(provider.status(channelFor(fake), { jobId: '../../evil', request: video() }));
    expect(odd).toMatchObject({ code: 'not_found' });
    expect(fake.requests).toHaveLength(0);
  });

  it('references are refused before anything is sent (the Gemini API takes inline bytes only)', async () => {
    const err = await providerError(provider.submit(channelFor(fake), video({ references: { imageUrl: 'https://example.com/a.png' } }), ctx));
    expect(err).toMatchObject({ code: 'invalid_request', retryable: false });
    expect(fake.requests).toHaveLength(0);
  });

  it('no cancel: a running operation is not_cancellable, a done one already_finished', async () => {
    fake.planNextJobs({ queueMs: 0, runMs: Infinity });
    const request = video({ duration: 4 });
    const job = await provider.submit(channelFor(fake), request, ctx);
    expect(await provider.cancel!(channelFor(fake), { jobId: job.jobId, request })).toBe('not_cancellable');
    fake.finishJob(job.jobId);
    expect(await provider.cancel!(channelFor(fake), { jobId: job.jobId, request })).toBe('already_finished');
  });
});
