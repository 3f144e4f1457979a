/** The openai adapter against the fake OpenAI server over real HTTP. */
import OpenAI from 'openai';
import { createOpenAIProvider } from '../../../src/providers/openai';
import type { JobRef, OpenedOutput, OutputRequest } from '../../../src/providers/types';
import { startOpenAIFake, type OpenAIFake } from '../../fakes/openai-fake';
import { fakeEmbedding, fakePromptTokens } from '../../fakes/openai-chat';
import {
  SUBMIT_FAILURES,
  channelFor,
  ctx,
  deadUrl,
  download,
  expectFailure,
  expectNoKey,
  isMp4,
  isPng,
  mediaRequest,
  pollToEnd,
  providerError,
  readAll,
  run,
  sleep,
  stepThrough,
} from './helpers';

const provider = createOpenAIProvider();
let fake: OpenAIFake;

beforeAll(async () => {
  fake = await startOpenAIFake();
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => {
  fake.reset();
});

describe('images (synchronous)', () => {
  it('maps the request, returns a final job with inline images, and sends the key only as Bearer', async () => {
    const request = mediaRequest({ kind: 'image', model: 'gpt-image-1', n: 2, size: '1024x1024', quality: 'low', options: { output_format: 'png' } });
    const job = await provider.submit(channelFor(fake), request, { taskId: 'task_abc', attempt: 3 });

    expect(job).toMatchObject({ jobId: 'img_task_abc_3', status: 'succeeded', progress: 100, usage: { images: 2 } });
    expect(job.outputs).toHaveLength(2);
    for (const out of job.outputs) {
      expect(out.contentType).toBe('image/png');
      expect(isPng(Buffer.from(out.base64 ?? '', 'base64'))).toBe(true);
    }
    const [sent] = fake.requestsTo('POST', '/v1/images/generations');
    expect(sent.body).toEqual({ model: 'gpt-image-1', prompt: 'a red fox in the snow', n: 2, size: '1024x1024', quality: 'low', output_format: 'png' });
    expect(sent.headers.authorization).toBe(`Bearer ${fake.apiKey}`);

    const opened = (await provider.openOutput!(channelFor(fake), { jobId: job.jobId, request }, job.outputs[0])) as OpenedOutput;
    expect(isPng(await readAll(opened.body))).toBe(true);
  });

  it('dall-e answers URLs that download without the key and expire after their TTL; openOutput leaves them to the guarded download', async () => {
    fake.setOutputTtlMs(500);
    const request = mediaRequest({ kind: 'image', model: 'dall-e-3' });
    const job = await provider.submit(channelFor(fake), request, ctx);
    const url = job.outputs[0].url!;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/files\//);

    // A pre-signed URL on any host: the adapter does not fetch it, the gateway's guarded client does.
    expect(await provider.openOutput!(channelFor(fake), { jobId: job.jobId, request }, job.outputs[0])).toBeNull();
    expect(fake.requestsTo('GET', '/files/')).toHaveLength(0);
    const first = await download(url);
    expect(first.status).toBe(200);
    expect(isPng(first.bytes)).toBe(true);
    expect(fake.requestsTo('GET', '/files/')[0].headers.authorization).toBeUndefined();

    await sleep(550);
    expect((await download(url)).status).toBe(403);
  });

  it('has nothing to poll or cancel: status throws not_found, cancel says already_finished', async () => {
    const ref: JobRef = { jobId: 'img_task_test_1', request: mediaRequest({ kind: 'image', model: 'gpt-image-1' }) };
    const err = await providerError(provider.status(channelFor(fake), ref));
    expect(err).toMatchObject({ code: 'not_found', retryable: false });
    expect(await provider.cancel!(channelFor(fake), ref)).toBe('already_finished');
  });

  it('a moderation refusal is content_policy_violation with the provider code', async () => {
    fake.failNextSubmits('policy');
    const err = await providerError(provider.submit(channelFor(fake), mediaRequest({ kind: 'image', model: 'gpt-image-1' }), ctx));
    expect(err).toMatchObject({ code: 'content_policy_violation', retryable: false, httpStatus: 400, providerCode: 'moderation_blocked' });
  });
});

describe('videos (jobs)', () => {
  it('maps duration, size and the reference, polls to completion and streams the content with auth', async () => {
    const request = mediaRequest({
      kind: 'video',
      model: 'sora-2-pro',
      duration: 8,
      resolution: '720p',
      aspectRatio: '9:16',
      references: { imageUrl: 'https://example.com/first.png' },
    });
    const { submitted, queued, running, final, ref } = await stepThrough(provider, channelFor(fake), request, fake);

    expect(submitted.jobId).toMatch(/^video_[0-9a-f]+$/);
    expect(submitted).toMatchObject({ status: 'queued', progress: 0 });
    const [sent] = fake.requestsTo('POST', '/v1/videos');
    expect(sent.body).toEqual({
      model: 'sora-2-pro',
      prompt: 'a red fox in the snow',
      seconds: '8',
      size: '720x1280',
      input_reference: { image_url: 'https://example.com/first.png' },
    });
    expect(queued).toMatchObject({ status: 'queued', progress: 0 });
    expect(running).toMatchObject({ status: 'processing', progress: 37 });
    expect(final).toMatchObject({ status: 'succeeded', progress: 100, usage: { seconds: 8 } });
    expect(final.outputs).toEqual([{ url: `${fake.url}/videos/${submitted.jobId}/content`, contentType: 'video/mp4' }]);

    // The content URL needs the key: a plain GET is refused; openOutput asks the gateway to GET it with the key.
    expect((await download(final.outputs[0].url!)).status).toBe(401);
    const opened = await provider.openOutput!(channelFor(fake), ref, final.outputs[0]);
    expect(opened).toEqual({
      request: { url: `${fake.url}/videos/${submitted.jobId}/content`, headers: { authorization: `Bearer ${fake.apiKey}`, accept: 'application/binary' }, timeoutMs: 600_000 },
    });
    const content = await fetch((opened as { request: OutputRequest }).request.url, { headers: (opened as { request: OutputRequest }).request.headers });
    expect(content.headers.get('content-type')).toBe('video/mp4');
    expect(isMp4(Buffer.from(await content.arrayBuffer()))).toBe(true);
  });

  it('the content expires after its TTL: the content request then answers 404', async () => {
    fake.setOutputTtlMs(200);
    const request = mediaRequest({ kind: 'video', model: 'sora-2' });
    const { final, ref } = await run(provider, channelFor(fake), request);
    await sleep(250);
    const { request: content } = (await provider.openOutput!(channelFor(fake), ref, final.outputs[0])) as { request: OutputRequest };
    expect((await fetch(content.url, { headers: content.headers })).status).toBe(404);
  });

  it.each([
    ['moderation_blocked', 'content_policy_violation', false],
    ['internal_error', 'job_failed', true],
    ['invalid_input_reference', 'job_failed', false],
  ])('a job failing with %s becomes %s (retryable %s)', async (providerCode, code, retryable) => {
    fake.planNextJobs({ outcome: { kind: 'fail', code: providerCode, message: 'it went wrong' } });
    const { final } = await run(provider, channelFor(fake), mediaRequest({ kind: 'video', model: 'sora-2' }));
    expect(final.status).toBe('failed');
    expect(final.error).toMatchObject({ code, retryable, providerCode });
    expect(final.error!.message).toContain('it went wrong');
  });

  it('has no cancel', async () => {
    fake.planNextJobs({ queueMs: Infinity });
    const request = mediaRequest({ kind: 'video', model: 'sora-2' });
    const job = await provider.submit(channelFor(fake), request, ctx);
    expect(await provider.cancel!(channelFor(fake), { jobId: job.jobId, request })).toBe('not_cancellable');
    expect(fake.jobPhase(job.jobId)).toBe('queued');
  });

  it('an unknown video is not_found on status', async () => {
    const err = await providerError(
      provider.status(channelFor(fake), { jobId: 'video_nope', request: mediaRequest({ kind: 'video', model: 'sora-2' }) }),
    );
    expect(err).toMatchObject({ code: 'not_found', retryable: false, providerCode: 'video_not_found' });
  });
});

describe('errors', () => {
  it.each(SUBMIT_FAILURES.map((c) => [c.name, c] as const))('submit: %s', async (_name, c) => {
    fake.failNextSubmits(c.fault);
    const err = await providerError(
      provider.submit(channelFor(fake, c.settings), mediaRequest({ kind: 'video', model: 'sora-2' }), ctx),
    );
    expectFailure(err, c);
    expectNoKey(err, fake.apiKey);
  });

  it('Retry-After as an HTTP date', async () => {
    fake.failNextSubmits({ kind: 'rate_limited', retryAfter: new Date(Date.now() + 10_000).toUTCString() });
    const err = await providerError(provider.submit(channelFor(fake), mediaRequest({ kind: 'video', model: 'sora-2' }), ctx));
    expect(err.code).toBe('rate_limited');
    expect(err.retryAfterMs).toBeGreaterThan(7_000);
    expect(err.retryAfterMs).toBeLessThanOrEqual(10_000);
  });

  it('status calls are classified too (503 while polling)', async () => {
    const request = mediaRequest({ kind: 'video', model: 'sora-2' });
    const job = await provider.submit(channelFor(fake), request, ctx);
    fake.failNext('status', 'unavailable');
    const err = await providerError(provider.status(channelFor(fake), { jobId: job.jobId, request }));
    expect(err).toMatchObject({ code: 'upstream_unavailable', retryable: true });
  });

  it('connection refused is connection_error', async () => {
    const channel = { ...channelFor(fake), baseUrl: await deadUrl('/v1') };
    const err = await providerError(provider.submit(channel, mediaRequest({ kind: 'video', model: 'sora-2' }), ctx));
    expect(err).toMatchObject({ code: 'connection_error', retryable: true });
  });

  it('fail twice, then succeed: the adapter never retries on its own', async () => {
    fake.failNextSubmits('unavailable', { kind: 'rate_limited', retryAfter: '1' });
    const request = mediaRequest({ kind: 'video', model: 'sora-2' });
    await expect(provider.submit(channelFor(fake), request, ctx)).rejects.toMatchObject({ code: 'upstream_unavailable' });
    await expect(provider.submit(channelFor(fake), request, ctx)).rejects.toMatchObject({ code: 'rate_limited' });
    await expect(provider.submit(channelFor(fake), request, ctx)).resolves.toMatchObject({ status: 'queued' });
    expect(fake.requestsTo('POST', '/v1/videos')).toHaveLength(3);
  });

  it('a wrong key is upstream_auth_failed, and the echoed key never reaches the message', async () => {
    const wrongKey = 'sk-proj-Wr0ngKeyAbcdefGhijklMnopqrStuvwxYz0123456789';
    const channel = { ...channelFor(fake), apiKey: wrongKey };
    const err = await providerError(provider.submit(channel, mediaRequest({ kind: 'image', model: 'gpt-image-1' }), ctx));
    expect(err).toMatchObject({ code: 'upstream_auth_failed', retryable: false, httpStatus: 401, providerCode: 'invalid_api_key' });
    expect(err.message).toContain('Incorrect API key provided');
    expectNoKey(err, wrongKey);
    expect(err.message).not.toMatch(/sk-proj-/);
  });

  it('a provider message quoting the key or the Authorization header is scrubbed', async () => {
    const key = fake.apiKey;
    fake.failNextSubmits({
      kind: 'server_error',
      message: `upstream saw Authorization: Bearer ${key}; retry with key=${key.slice(0, 20)} (${key.slice(10)})`,
    });
    const err = await providerError(provider.submit(channelFor(fake), mediaRequest({ kind: 'video', model: 'sora-2' }), ctx));
    expect(err.code).toBe('upstream_unavailable');
    expectNoKey(err, key);
    expect(JSON.stringify(err.toInfo())).not.toContain(key.slice(8, 24));
  });

  it('invalid channel settings are invalid_channel_settings, not retryable', async () => {
    for (const settings of [{ timeoutMs: -1 }, { timeoutMs: 'soon' }, { timeout: 5000 }]) {
      const err = await providerError(provider.submit(channelFor(fake, settings), mediaRequest({ kind: 'video', model: 'sora-2' }), ctx));
      expect(err).toMatchObject({ code: 'invalid_channel_settings', retryable: false });
    }
  });

  it('sends organization and project headers when configured', async () => {
    await provider.submit(channelFor(fake, { organization: 'org_1', project: 'proj_1' }), mediaRequest({ kind: 'video', model: 'sora-2' }), ctx);
    const [sent] = fake.requestsTo('POST', '/v1/videos');
    expect(sent.headers['openai-organization']).toBe('org_1');
    expect(sent.headers['openai-project']).toBe('proj_1');
  });
});

describe('the fake speaks the protocol the official SDK expects', () => {
  const sdk = () => new OpenAI({ apiKey: fake.apiKey, baseURL: fake.url, maxRetries: 0 });

  it('chat completions, JSON and SSE (usage only with include_usage), embeddings float and base64', async () => {
    fake.chat.setReply('hello there general kenobi');
    const messages = [{ role: 'user' as const, content: 'say hello' }];
    const done = await sdk().chat.completions.create({ model: 'gpt-4o-mini', messages });
    expect(done.choices[0].message.content).toBe('hello there general kenobi');
    expect(done.usage).toMatchObject({ prompt_tokens: fakePromptTokens(messages), completion_tokens: 4, total_tokens: fakePromptTokens(messages) + 4 });

    const withUsage = await sdk().chat.completions.create({ model: 'gpt-4o-mini', messages, stream: true, stream_options: { include_usage: true } });
    const chunks = [];
    for await (const chunk of withUsage) chunks.push(chunk);
    expect(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('')).toBe('hello there general kenobi');
    expect(chunks[chunks.length - 1].usage).toMatchObject({ completion_tokens: 4 });
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);

    const noUsage = await sdk().chat.completions.create({ model: 'gpt-4o-mini', messages, stream: true });
    const plain = [];
    for await (const chunk of noUsage) plain.push(chunk);
    expect(plain.every((c) => c.usage === undefined)).toBe(true);
    expect(plain[plain.length - 1].choices[0].finish_reason).toBe('stop');

    const floats = await sdk().embeddings.create({ model: 'text-embedding-3-small', input: ['a', 'b'], encoding_format: 'float' });
    expect(floats.data).toHaveLength(2);
    expect(floats.data[0].embedding).toHaveLength(1536);
    const b64 = await sdk().embeddings.create({ model: 'text-embedding-3-small', input: 'a', dimensions: 8 });
    expect(b64.data[0].embedding.map((x) => Math.round(x * 1e4))).toEqual(fakeEmbedding('a', 8).map((x) => Math.round(x * 1e4)));
  });

  it('a stream cut after N chunks ends without [DONE]; chat faults reach the SDK', async () => {
    fake.chat.setReply('one two three four five six');
    fake.chat.cutNextStreams(2);
    const stream = await sdk().chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }], stream: true });
    const got: string[] = [];
    await expect(
      (async () => {
        for await (const chunk of stream) got.push(chunk.choices[0]?.delta?.content ?? '');
      })(),
    ).rejects.toThrow();
    expect(got).toEqual(['', 'one ']);
    const raw = fake.requestsTo('POST', '/v1/chat/completions');
    expect(raw[raw.length - 1].body).toMatchObject({ stream: true });

    fake.failNext('chat', { kind: 'rate_limited', retryAfter: '3' });
    await expect(sdk().chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] })).rejects.toMatchObject({ status: 429 });
    fake.failNext('embeddings', 'server_error');
    await expect(sdk().embeddings.create({ model: 'text-embedding-3-small', input: 'x' })).rejects.toMatchObject({ status: 500 });
  });

  it('rejects what OpenAI rejects (stream_options without stream, unknown video params, numeric seconds)', async () => {
    await expect(
      sdk().chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }], stream_options: { include_usage: true } }),
    ).rejects.toMatchObject({ status: 400 });
    const res = await fetch(`${fake.url}/videos`, {
      method: 'POST',
      headers: { authorization: `Bearer ${fake.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'sora-2', prompt: 'x', seconds: 8 }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { param: 'seconds', type: 'invalid_request_error' } });
  });

  it('videos through the SDK (multipart) and its content download', async () => {
    const client = sdk();
    const video = await client.videos.create({ model: 'sora-2', prompt: 'a cat', seconds: '4', size: '1280x720' });
    expect(video).toMatchObject({ object: 'video', status: 'queued', seconds: '4', size: '1280x720' });
    const request = mediaRequest({ kind: 'video', model: 'sora-2' });
    await pollToEnd(provider, channelFor(fake), { jobId: video.id, request });
    const content = await client.videos.downloadContent(video.id);
    expect(isMp4(Buffer.from(await content.arrayBuffer()))).toBe(true);
  });
});
