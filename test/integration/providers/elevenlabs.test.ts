/** The elevenlabs adapter (synchronous music) against the fake ElevenLabs API over real HTTP. */
import { createElevenLabsProvider } from '../../../src/providers/elevenlabs';
import { audioSeconds } from '../../fakes/audio-bytes';
import { startElevenLabsFake, type ElevenLabsFake } from '../../fakes/elevenlabs-fake';
import { SUBMIT_FAILURES, channelFor, ctx, expectFailure, expectNoKey, isWav, mediaRequest, providerError } from './helpers';

const provider = createElevenLabsProvider();
let fake: ElevenLabsFake;

beforeAll(async () => {
  fake = await startElevenLabsFake({ jobPlan: { queueMs: 0, runMs: 20 } });
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => {
  fake.reset();
  fake.setJobPlan({ queueMs: 0, runMs: 20 });
  fake.quotaLeft = Infinity;
});

type Partial2 = Partial<Parameters<typeof mediaRequest>[0]>;
const music = (extra: Partial2 = {}) => mediaRequest({ kind: 'music', model: 'music_v1', prompt: 'calm piano', duration: 10, ...extra });

describe('success', () => {
  it('one POST answers the audio: a final job with the bytes inline, usage the length asked', async () => {
    const job = await provider.submit(channelFor(fake), music({ options: { force_instrumental: true } }), ctx);
    const [sent] = fake.requestsTo('POST', '/v1/music');
    expect(sent.headers['xi-api-key']).toBe(fake.apiKey);
    expect(sent.headers.authorization).toBeUndefined();
    expect(sent.query).toEqual({ output_format: 'mp3_44100_128' });
    expect(sent.body).toEqual({ force_instrumental: true, prompt: 'calm piano', model_id: 'music_v1', music_length_ms: 10000 });
    expect(job).toMatchObject({ jobId: 'elevenlabs_task_test_1', status: 'succeeded', progress: 100, usage: { seconds: 10 } });
    expect(job.outputs).toHaveLength(1);
    expect(job.outputs[0].url).toBeUndefined();
    expect(job.outputs[0].contentType).toBe('audio/mpeg');
    const bytes = Buffer.from(job.outputs[0].base64!, 'base64');
    expect(bytes.subarray(0, 3).toString('latin1')).toBe('ID3');
    expect(audioSeconds(bytes)).toBe(10);
  });

  it('output_format is the channel setting, sent as a query parameter', async () => {
    const job = await provider.submit(channelFor(fake, { outputFormat: 'pcm_44100' }), music(), ctx);
    expect(fake.requestsTo('POST', '/v1/music')[0].query).toEqual({ output_format: 'pcm_44100' });
    expect(isWav(Buffer.from(job.outputs[0].base64!, 'base64'))).toBe(true);
  });

  it('priced keys in options never reach ElevenLabs: the priced length and model win', async () => {
    await provider.submit(channelFor(fake), music({ options: { music_length_ms: 600000, model_id: 'music_v2', composition_plan: { sections: [] } } }), ctx);
    expect(fake.requestsTo('POST', '/v1/music')[0].body).toEqual({ prompt: 'calm piano', model_id: 'music_v1', music_length_ms: 10000 });
  });

  it('status() has nothing to poll', async () => {
    await expect(provider.status(channelFor(fake), { jobId: 'elevenlabs_task_test_1', request: music() })).rejects.toMatchObject({ code: 'not_found', retryable: false });
  });
});

describe('errors', () => {
  it.each(SUBMIT_FAILURES.map((c) => [c.name, c] as const))('submit: %s', async (_name, c) => {
    fake.failNextSubmits(c.fault);
    const err = await providerError(provider.submit(channelFor(fake, c.settings), music(), ctx));
    expectFailure(err, c);
    expectNoKey(err, fake.apiKey);
  });

  it('bad_prompt (a named artist) is a final content_policy_violation', async () => {
    fake.planNextJobs({ outcome: { kind: 'fail', code: 'bad_prompt' } });
    await expect(provider.submit(channelFor(fake), music(), ctx)).rejects.toMatchObject({ code: 'content_policy_violation', retryable: false, providerCode: 'bad_prompt' });
  });

  it('quota_exceeded as a 401 is final but no bad key (the channel must not be disabled as unauthorised)', async () => {
    fake.quotaLeft = 0;
    await expect(provider.submit(channelFor(fake), music(), ctx)).rejects.toMatchObject({ code: 'invalid_request', retryable: false, providerCode: 'quota_exceeded', httpStatus: 401 });
  });

  it('an invalid key stays upstream_auth_failed', async () => {
    const err = await providerError(provider.submit({ ...channelFor(fake), apiKey: 'sk_0123456789abcdef0123456789abcdef' }, music(), ctx));
    expect(err).toMatchObject({ code: 'upstream_auth_failed', providerCode: 'invalid_api_key' });
    expectNoKey(err, 'sk_0123456789abcdef0123456789abcdef');
  });

  it('too many concurrent generations: 429 too_many_concurrent_requests, retryable', async () => {
    const small = await startElevenLabsFake({ maxConcurrent: 1, jobPlan: { queueMs: 0, runMs: 300 } });
    try {
      const first = provider.submit(channelFor(small), music(), ctx);
      await new Promise((r) => setTimeout(r, 50));
      await expect(provider.submit(channelFor(small), music(), ctx)).rejects.toMatchObject({ code: 'rate_limited', retryable: true, providerCode: 'too_many_concurrent_requests' });
      await expect(first).resolves.toMatchObject({ status: 'succeeded' });
    } finally {
      await small.close();
    }
  });

  it('a 422 names the field; a too long piece is invalid_request', async () => {
    const err = await providerError(provider.submit(channelFor(fake), music({ duration: 700 }), ctx));
    expect(err).toMatchObject({ code: 'invalid_request', httpStatus: 422 });
    expect(err.message).toContain('body.music_length_ms');
  });

  it('a 200 that is not audio is a retryable bad_response', async () => {
    fake.failNextSubmits('malformed');
    await expect(provider.submit(channelFor(fake), music(), ctx)).rejects.toMatchObject({ code: 'bad_response', retryable: true });
  });

  it('a bad outputFormat setting is refused before any call', async () => {
    await expect(provider.submit(channelFor(fake, { outputFormat: 'flac' }), music(), ctx)).rejects.toMatchObject({ code: 'invalid_channel_settings' });
    expect(fake.requests).toHaveLength(0);
  });

  it('only music', async () => {
    await expect(provider.submit(channelFor(fake), mediaRequest({ kind: 'video', model: 'music_v1' }), ctx)).rejects.toMatchObject({ code: 'invalid_request' });
  });
});
