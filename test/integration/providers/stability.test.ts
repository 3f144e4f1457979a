/** The stability adapter (Stable Audio, synchronous multipart) against the fake Stability API over real HTTP. */
import { createStabilityProvider } from '../../../src/providers/stability';
import { audioSeconds } from '../../fakes/audio-bytes';
import { startStabilityFake, type StabilityFake } from '../../fakes/stability-fake';
import { SUBMIT_FAILURES, channelFor, ctx, expectFailure, expectNoKey, isWav, mediaRequest, providerError } from './helpers';

const provider = createStabilityProvider();
let fake: StabilityFake;
const PATH = '/v2beta/audio/stable-audio-2/text-to-audio';

beforeAll(async () => {
  fake = await startStabilityFake();
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => {
  fake.reset();
  fake.setJobPlan({ queueMs: 0, runMs: 20 });
  fake.creditsLeft = Infinity;
});

type Partial2 = Partial<Parameters<typeof mediaRequest>[0]>;
const music = (extra: Partial2 = {}) => mediaRequest({ kind: 'music', model: 'stable-audio-2.5', prompt: 'ambient pads', duration: 20, ...extra });

describe('success', () => {
  it('one multipart POST with Accept audio/* answers the audio: a final job with the bytes inline', async () => {
    const job = await provider.submit(channelFor(fake), music({ seed: 3, options: { steps: 8, cfg_scale: 1.5 } }), ctx);
    const [sent] = fake.requestsTo('POST', PATH);
    expect(sent.headers.authorization).toBe(`Bearer ${fake.apiKey}`);
    expect(sent.headers.accept).toBe('audio/*');
    expect(sent.headers['content-type']).toMatch(/^multipart\/form-data; boundary=/);
    expect(sent.body).toEqual({ steps: '8', cfg_scale: '1.5', prompt: 'ambient pads', model: 'stable-audio-2.5', duration: '20', seed: '3', output_format: 'mp3' });
    expect(job).toMatchObject({ jobId: 'stability_task_test_1', status: 'succeeded', progress: 100, usage: { seconds: 20 } });
    const bytes = Buffer.from(job.outputs[0].base64!, 'base64');
    expect(job.outputs[0].contentType).toBe('audio/mpeg');
    expect(audioSeconds(bytes)).toBe(20);
  });

  it('the outputFormat setting picks wav', async () => {
    const job = await provider.submit(channelFor(fake, { outputFormat: 'wav' }), music(), ctx);
    expect(fake.requestsTo('POST', PATH)[0].body).toMatchObject({ output_format: 'wav' });
    expect(isWav(Buffer.from(job.outputs[0].base64!, 'base64'))).toBe(true);
  });

  it('priced keys in options never reach Stability', async () => {
    await provider.submit(channelFor(fake), music({ options: { duration: 190, model: 'stable-audio-2' } }), ctx);
    expect(fake.requestsTo('POST', PATH)[0].body).toMatchObject({ model: 'stable-audio-2.5', duration: '20' });
  });

  it('the fake refuses JSON bodies, as Stability does', async () => {
    const res = await fetch(`${fake.url}${PATH}`, { method: 'POST', headers: { authorization: `Bearer ${fake.apiKey}`, accept: 'audio/*', 'content-type': 'application/json' }, body: '{"prompt":"x"}' });
    expect(res.status).toBe(400);
  });
});

describe('errors', () => {
  it.each(SUBMIT_FAILURES.map((c) => [c.name, c] as const))('submit: %s', async (_name, c) => {
    fake.failNextSubmits(c.fault);
    const err = await providerError(provider.submit(channelFor(fake, c.settings), music(), ctx));
    expectFailure(err, c);
    expectNoKey(err, fake.apiKey);
  });

  it('a moderated prompt is a 403 content_moderation: content_policy_violation, not an auth failure', async () => {
    await expect(provider.submit(channelFor(fake), music({ prompt: 'something forbidden' }), ctx)).rejects.toMatchObject({
      code: 'content_policy_violation', retryable: false, httpStatus: 403, providerCode: 'content_moderation',
    });
  });

  it('402 payment_required is final', async () => {
    fake.creditsLeft = 0;
    await expect(provider.submit(channelFor(fake), music(), ctx)).rejects.toMatchObject({ code: 'invalid_request', retryable: false, httpStatus: 402 });
  });

  it('a too long duration is invalid_request with Stability\'s message', async () => {
    const err = await providerError(provider.submit(channelFor(fake), music({ duration: 300 }), ctx));
    expect(err).toMatchObject({ code: 'invalid_request', providerCode: 'bad_request' });
    expect(err.message).toContain('duration: must be between 1 and 190');
  });

  it('a 200 that is not audio (malformed JSON) is a retryable bad_response', async () => {
    fake.failNextSubmits('malformed');
    await expect(provider.submit(channelFor(fake), music(), ctx)).rejects.toMatchObject({ code: 'bad_response', retryable: true });
  });

  it('status() has nothing to poll; only music', async () => {
    await expect(provider.status(channelFor(fake), { jobId: 'stability_x', request: music() })).rejects.toMatchObject({ code: 'not_found' });
    await expect(provider.submit(channelFor(fake), mediaRequest({ kind: 'image', model: 'x' }), ctx)).rejects.toMatchObject({ code: 'invalid_request' });
  });
});
