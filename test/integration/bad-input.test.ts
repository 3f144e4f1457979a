import { createCustomer, createMockModel, startTestGateway, type TestGateway } from '../support/harness';
import { accountOf, expectApiError, taskRowCount } from '../support/checks';

/**
 * Every way a caller can get a request wrong: the answer is the brief's error format with the right
 * status and code, and nothing is created or charged.
 */
describe('bad input', () => {
  let gw: TestGateway;
  let videoModel: string;
  let imageModel: string;
  let customer: Awaited<ReturnType<typeof createCustomer>>;
  const START = 1000;

  beforeAll(async () => {
    gw = await startTestGateway();
    ({ model: videoModel } = await createMockModel(gw, { category: 'video', pricing: { per_second: 5 }, defaultDuration: 4 }));
    ({ model: imageModel } = await createMockModel(gw, { category: 'image', pricing: { per_image: 3 } }));
    customer = await createCustomer(gw, { credits: START });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  /** Nothing was created or held for the customer. Runs after every case. */
  async function expectNothingCreated(): Promise<void> {
    expect(await accountOf(gw, customer.accountId)).toMatchObject({ balance: START, reserved: 0 });
    const usage = await gw.admin('GET', `/admin/usage?account_id=${customer.accountId}`);
    expect(usage.data).toEqual([]);
    expect(await taskRowCount(gw, customer.accountId)).toBe(0);
  }

  const postVideo = (body: unknown, headers?: Record<string, string>) =>
    gw.request('POST', '/v1/videos', { key: customer.key, body, headers });

  it('refuses a body without a prompt, naming the field', async () => {
    const answer = await postVideo({ model: videoModel });
    expectApiError(answer, 400, 'invalid_request', 'invalid_request_error');
    expect(answer.body.error.message).toMatch(/\bprompt\b/);
    await expectNothingCreated();
  });

  it('refuses an empty or blank prompt', async () => {
    const answer = await postVideo({ model: videoModel, prompt: '   ' });
    expectApiError(answer, 400, 'invalid_request', 'invalid_request_error');
    expect(answer.body.error.message).toMatch(/\bprompt\b/);
    await expectNothingCreated();
  });

  it('refuses a body without a model', async () => {
    const answer = await postVideo({ prompt: 'a cat' });
    expectApiError(answer, 400, 'invalid_request', 'invalid_request_error');
    expect(answer.body.error.message).toMatch(/\bmodel\b/);
    await expectNothingCreated();
  });

  it('answers 404 model_not_found for an unknown model', async () => {
    const answer = await postVideo({ model: 'no-such-model-anywhere', prompt: 'a cat' });
    expectApiError(answer, 404, 'model_not_found', 'gateway_error');
    expect(answer.body.error.message).toContain('no-such-model-anywhere');
    await expectNothingCreated();
  });

  it('answers 400 invalid_json for malformed JSON', async () => {
    const answer = await postVideo('{"model": "x", "prompt": ', { 'content-type': 'application/json' });
    expectApiError(answer, 400, 'invalid_json', 'invalid_request_error');
    await expectNothingCreated();
  });

  it('refuses a JSON body that is not an object', async () => {
    for (const body of ['[1,2,3]', '"just a string"', 'null', '42']) {
      const answer = await postVideo(body, { 'content-type': 'application/json' });
      expectApiError(answer, 400, 'invalid_request', 'invalid_request_error');
    }
    await expectNothingCreated();
  });

  it('names every field of the wrong type', async () => {
    const answer = await postVideo({ model: videoModel, prompt: 'a cat', duration: 'ten', n: 0 });
    expectApiError(answer, 400, 'invalid_request', 'invalid_request_error');
    const message: string = answer.body.error.message;
    expect(message).toMatch(/\bduration\b/);
    // `n` is a one-letter name: look for it as a field of the message, not as a letter.
    expect(message).toMatch(/(^|[\s;:,'"`(])n([\s:'"`),]|$)/);
    await expectNothingCreated();
  });

  it('names a single bad field on its own', async () => {
    const duration = await postVideo({ model: videoModel, prompt: 'a cat', duration: 'ten' });
    expectApiError(duration, 400, 'invalid_request', 'invalid_request_error');
    expect(duration.body.error.message).toMatch(/\bduration\b/);

    const n = await gw.request('POST', '/v1/images/generations', { key: customer.key, body: { model: imageModel, prompt: 'a cat', n: 0 } });
    expectApiError(n, 400, 'invalid_request', 'invalid_request_error');
    expect(n.body.error.message).toMatch(/(^|[\s;:,'"`(])n([\s:'"`),]|$)/);
    expect(n.body.error.message).not.toMatch(/\bduration\b/);

    const callback = await postVideo({ model: videoModel, prompt: 'a cat', callback_url: 'ftp://example.com/hook' });
    expectApiError(callback, 400, 'invalid_request', 'invalid_request_error');
    expect(callback.body.error.message).toMatch(/\bcallback_url\b/);
    await expectNothingCreated();
  });

  it('answers 413 request_too_large for a body over the 1 MB limit', async () => {
    expect(gw.config.http.maxBodyBytes).toBe(1_000_000);
    const answer = await postVideo({ model: videoModel, prompt: 'x'.repeat(1_100_000) });
    expectApiError(answer, 413, 'request_too_large', 'invalid_request_error');
    await expectNothingCreated();
  });

  it('answers 413 for an oversized body sent without a Content-Length (chunked)', async () => {
    const payload = Buffer.from(JSON.stringify({ model: videoModel, prompt: 'y'.repeat(1_100_000) }));
    const chunks = Array.from({ length: Math.ceil(payload.length / 65_536) }, (_, i) => payload.subarray(i * 65_536, (i + 1) * 65_536));
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = chunks.shift();
        if (next) controller.enqueue(next);
        else controller.close();
      },
    });
    let response: Response | undefined;
    try {
      response = await fetch(`${gw.url}/v1/videos`, {
        method: 'POST',
        headers: { authorization: `Bearer ${customer.key}`, 'content-type': 'application/json' },
        body: stream,
        duplex: 'half',
      } as RequestInit);
    } catch {
      // The server may close the connection before the client has sent everything: that is a refusal too.
    }
    if (response) {
      const text = await response.text();
      expectApiError({ status: response.status, body: JSON.parse(text), headers: response.headers }, 413, 'request_too_large', 'invalid_request_error');
    }
    await expectNothingCreated();
  });

  it('refuses a model of another category on the wrong route', async () => {
    const onVideo = await postVideo({ model: imageModel, prompt: 'a cat' });
    expectApiError(onVideo, 400, 'invalid_request', 'invalid_request_error');
    expect(onVideo.body.error.message).toMatch(/\bmodel\b|image/);

    const onMusic = await gw.request('POST', '/v1/music/generations', { key: customer.key, body: { model: videoModel, prompt: 'a tune' } });
    expectApiError(onMusic, 400, 'invalid_request', 'invalid_request_error');
    await expectNothingCreated();
  });

  it('answers 401 authentication_error without a key or with an unknown key', async () => {
    const body = { model: videoModel, prompt: 'a cat' };
    const missing = await gw.request('POST', '/v1/videos', { body });
    expectApiError(missing, 401, missing.body?.error?.code ?? '?', 'authentication_error');

    const unknown = await gw.request('POST', '/v1/videos', { key: 'sk-gw-not-a-real-key', body });
    expectApiError(unknown, 401, unknown.body?.error?.code ?? '?', 'authentication_error');

    const viaHeader = await gw.request('GET', '/v1/models', { headers: { 'x-api-key': 'sk-gw-also-not-real' } });
    expectApiError(viaHeader, 401, viaHeader.body?.error?.code ?? '?', 'authentication_error');

    const wrongScheme = await gw.request('GET', '/v1/models', { headers: { authorization: `Basic ${customer.key}` } });
    expectApiError(wrongScheme, 401, wrongScheme.body?.error?.code ?? '?', 'authentication_error');
    await expectNothingCreated();
  });

  it('answers 401 to a revoked key', async () => {
    const other = await createCustomer(gw, { credits: 10 });
    await gw.admin('DELETE', `/admin/keys/${other.keyId}`);
    const answer = await gw.request('POST', '/v1/videos', { key: other.key, body: { model: videoModel, prompt: 'a cat' } });
    expectApiError(answer, 401, answer.body?.error?.code ?? '?', 'authentication_error');
    expect(await accountOf(gw, other.accountId)).toMatchObject({ balance: 10, reserved: 0 });
    expect(await taskRowCount(gw, other.accountId)).toBe(0);
  });

  it('answers 403 model_not_allowed when the key may not use the model', async () => {
    const limited = await createCustomer(gw, { credits: 50, key: { models: [imageModel] } });
    const answer = await gw.request('POST', '/v1/videos', { key: limited.key, body: { model: videoModel, prompt: 'a cat' } });
    expectApiError(answer, 403, 'model_not_allowed', 'permission_error');
    expect(await accountOf(gw, limited.accountId)).toMatchObject({ balance: 50, reserved: 0 });
    expect(await taskRowCount(gw, limited.accountId)).toBe(0);
  });

  it('answers a JSON 404 in the error format for unknown paths', async () => {
    const outside = await gw.request('GET', '/no/such/path');
    expectApiError(outside, 404, 'not_found', 'gateway_error');

    const public404 = await gw.request('GET', '/v1/no-such-route', { key: customer.key });
    expectApiError(public404, 404, 'not_found', 'gateway_error');

    const post404 = await gw.request('POST', '/v1/no-such-route', { key: customer.key, body: { a: 1 } });
    expectApiError(post404, 404, 'not_found', 'gateway_error');

    const admin404 = await gw.request('GET', '/admin/no-such-route', { admin: true });
    expectApiError(admin404, 404, 'not_found', 'gateway_error');
    await expectNothingCreated();
  });

  it('answers 404 task_not_found for unknown and malformed task ids', async () => {
    const unknown = await gw.request('GET', '/v1/tasks/task_doesnotexist123', { key: customer.key });
    expectApiError(unknown, 404, 'task_not_found', 'gateway_error');
    const malformed = await gw.request('GET', '/v1/tasks/..%2F..%2Fetc', { key: customer.key });
    expectApiError(malformed, 404, malformed.body?.error?.code ?? '?');
    const cancel = await gw.request('POST', '/v1/tasks/task_doesnotexist123/cancel', { key: customer.key });
    expectApiError(cancel, 404, 'task_not_found', 'gateway_error');
    await expectNothingCreated();
  });

  it('refuses admin routes to a consumer key, and to no key at all', async () => {
    for (const [method, route, body] of [
      ['GET', `/admin/accounts/${customer.accountId}`, undefined],
      ['POST', `/admin/accounts/${customer.accountId}/credits`, { amount: 1_000_000 }],
      ['POST', '/admin/keys', { account_id: customer.accountId, name: 'escalation' }],
      ['GET', '/admin/usage', undefined],
    ] as const) {
      const withKey = await gw.request(method, route, { key: customer.key, body });
      expectApiError(withKey, 401, withKey.body?.error?.code ?? '?', 'authentication_error');
      const bare = await gw.request(method, route, { body });
      expectApiError(bare, 401, bare.body?.error?.code ?? '?', 'authentication_error');
    }
    // The top-up above was refused: the balance is unchanged.
    await expectNothingCreated();
  });
});
