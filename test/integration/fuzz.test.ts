import fc from 'fast-check';
import { createCustomer, createMockModel, startTestGateway, uniqueId, waitForTask, type TestGateway } from '../support/harness';
import { deepJson, describeCase, fuzzHeaders, fuzzRequest, pathSegment, queryString, type FuzzCase, type FuzzRoute } from '../support/arbitraries';
import { rawRequest, type RawAnswer } from '../support/raw-http';
import { digestDiff, stateDigest, walletOf, type StateDigest } from '../support/state';
import { MEDIA_PRICED_KEYS } from '../../src/providers';
import { decodeJobId } from '../../src/providers/mock/mock-job';

/**
 * Property-based fuzzing of every public and admin route with hostile requests: random JSON, near-miss
 * bodies, huge strings, deep nesting, invalid UTF-8, wrong content types, garbage headers and paths.
 * Every answer is below 500, every error is the brief's error format without secrets, and a rejected
 * request changes no row in the database. A funded tenant sends hostile media bodies (priced keys in
 * options and unknown fields, odd durations and counts): each accepted one is charged its units in full
 * and the provider is asked for no more than was charged. FUZZ_RUNS and FUZZ_SEED dig deeper or elsewhere
 * (e.g. FUZZ_RUNS=5000 FUZZ_SEED=7); a failure prints its seed and counterexample.
 */
const PUBLIC_RUNS = Number(process.env.FUZZ_RUNS ?? 1000);
const ADMIN_RUNS = Number(process.env.FUZZ_RUNS ?? 1000);
const PUBLIC_SEED = Number(process.env.FUZZ_SEED ?? 20261201);
const ADMIN_SEED = Number(process.env.FUZZ_SEED ?? 20261201) + 1;

const ERROR_TYPES = new Set(['invalid_request_error', 'authentication_error', 'permission_error', 'gateway_error', 'upstream_error']);
const PROVIDER_SECRET = `sk-provider-${'f'.repeat(12)}-do-not-leak`;

describe('hostile input fuzzing', () => {
  let gw: TestGateway;
  /** Every consumer key and secret that must never appear in an answer. */
  const secrets: string[] = [];
  const tried = { public: 0, admin: 0, edge: 0, hostileValid: 0 };
  const statuses = new Map<number, number>();
  let fuzzer: Awaited<ReturnType<typeof createCustomer>>;
  let other: Awaited<ReturnType<typeof createCustomer>>;
  let otherTaskId: string;
  const models = { image: '', video: '', music: '', chat: '', embedding: '' };

  beforeAll(async () => {
    gw = await startTestGateway();
    // The fuzzing account has no credits: even a valid creation is refused (402), so no fuzz case may change a row.
    fuzzer = await createCustomer(gw, { credits: 0 });
    // The other account spends its whole wallet on one task below, so its key can't create anything either.
    other = await createCustomer(gw, { credits: 50 });
    for (const category of ['image', 'video', 'music'] as const) {
      ({ model: models[category] } = await createMockModel(gw, { category, pricing: { per_request: 50 }, settings: { durationMs: 100 } }));
    }
    models.chat = uniqueId('m-chat');
    models.embedding = uniqueId('m-embed');
    await gw.admin('POST', '/admin/models', { id: models.chat, category: 'chat', pricing: { per_1k_input_tokens: 1, per_1k_output_tokens: 1 } });
    await gw.admin('POST', '/admin/models', { id: models.embedding, category: 'embedding', pricing: { per_1k_input_tokens: 1 } });
    // Nothing listens on port 9: a request that got past billing would fail upstream, not succeed.
    await gw.admin('POST', '/admin/channels', { name: 'fuzz openai', provider: 'openai', base_url: 'http://127.0.0.1:9/v1', api_key: PROVIDER_SECRET, models: [models.chat, models.embedding] });
    const created = await gw.request('POST', '/v1/images/generations', { key: other.key, body: { model: models.image, prompt: 'the other account' } });
    expect(created.status).toBe(200);
    otherTaskId = created.body.id;
    await waitForTask(gw, other.key, otherTaskId);
    secrets.push(fuzzer.key, other.key, fuzzer.webhookSecret, other.webhookSecret, PROVIDER_SECRET, gw.secret);
  });

  afterAll(async () => {
    const histogram = [...statuses.entries()].sort(([a], [b]) => a - b).map(([status, n]) => `${status}:${n}`).join(' ');
    console.log(
      `fuzz: ${tried.public + tried.admin + tried.edge + tried.hostileValid} cases tried ` +
        `(public routes ${tried.public}, admin routes ${tried.admin}, edge values ${tried.edge}, hostile-but-valid media bodies ${tried.hostileValid}); ` +
        `statuses ${histogram}`,
    );
    await gw?.stop();
  });

  function send(c: FuzzCase): Promise<RawAnswer> {
    return rawRequest(gw.url, c, 30_000);
  }

  /** Throws (so fast-check shrinks) when an answer breaks a rule that holds for every request. */
  function checkAnswer(c: FuzzCase, answer: RawAnswer): void {
    statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
    const where = `${describeCase(c)}\n  -> ${answer.status} ${answer.headers['content-type'] ?? ''} ${answer.text.slice(0, 300)}`;
    if (answer.status >= 500 || answer.status < 100) throw new Error(`server error: ${where}`);
    for (const secret of secrets) if (answer.text.includes(secret)) throw new Error(`a secret appears in the answer: ${where}`);
    if (/<html|<!doctype|\n\s+at .+:\d+:\d+/i.test(answer.text)) throw new Error(`HTML or a stack trace in the answer: ${where}`);
    if (answer.status < 400 || c.method === 'HEAD') return;
    if (!/^application\/json/.test(String(answer.headers['content-type']))) throw new Error(`error without a JSON content type: ${where}`);
    const body = answer.json as { error?: { message?: unknown; type?: unknown; code?: unknown } } | undefined;
    const error = body?.error;
    if (!body || Object.keys(body).join() !== 'error' || !error) throw new Error(`error not shaped {error: {...}}: ${where}`);
    if (typeof error.message !== 'string' || error.message.length === 0) throw new Error(`error without a message: ${where}`);
    if (typeof error.code !== 'string' || !/^[a-z0-9_]+$/.test(error.code)) throw new Error(`error without a snake_case code: ${where}`);
    if (typeof error.type !== 'string' || !ERROR_TYPES.has(error.type)) throw new Error(`error type outside API.md: ${where}`);
    const expectedType = answer.status === 401 ? 'authentication_error' : answer.status === 403 ? 'permission_error' : answer.status === 400 ? 'invalid_request_error' : undefined;
    if (expectedType && error.type !== expectedType) throw new Error(`status ${answer.status} with type ${error.type}: ${where}`);
  }

  /** True when the case carries one of `keys` as its credential. */
  function carries(c: FuzzCase, keys: string[]): boolean {
    const headers = c.headers ?? {};
    return keys.some((key) => headers.authorization === `Bearer ${key}` || headers['x-api-key'] === key);
  }

  it(`answers ${PUBLIC_RUNS} hostile requests to the public routes without a 5xx, in the error format, changing nothing`, async () => {
    const id = fc.oneof({ weight: 1, arbitrary: fc.constant(otherTaskId) }, { weight: 3, arbitrary: pathSegment });
    const mediaRefs = { callback_url: 'http://127.0.0.1:9/hook', image_url: 'http://127.0.0.1:9/a.png' };
    const routes: FuzzRoute[] = [
      { name: 'models', method: 'GET', path: queryString(['limit', 'category']).map((q) => `/v1/models${q}`) },
      { name: 'chat', method: 'POST', path: fc.constant('/v1/chat/completions'), template: { model: models.chat, messages: [{ role: 'user', content: 'hi' }], max_tokens: 16 } },
      { name: 'chat-stream', method: 'POST', path: fc.constant('/v1/chat/completions'), template: { model: models.chat, messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: true } } },
      { name: 'embeddings', method: 'POST', path: fc.constant('/v1/embeddings'), template: { model: models.embedding, input: ['hello', 'world'] } },
      { name: 'images', method: 'POST', path: fc.constant('/v1/images/generations'), template: { model: models.image, prompt: 'a cat', n: 1, size: '1024x1024', ...mediaRefs } },
      {
        name: 'videos', method: 'POST', path: fc.constant('/v1/videos'),
        template: {
          model: models.video, prompt: 'a fox', duration: 4, seconds: '4', resolution: '720p', aspect_ratio: '16:9', seed: 7, ...mediaRefs,
          last_frame_url: 'http://127.0.0.1:9/b.png', image_urls: ['http://127.0.0.1:9/c.png'], video_url: 'http://127.0.0.1:9/v.mp4', options: { fps: 24 },
        },
      },
      { name: 'music', method: 'POST', path: fc.constant('/v1/music/generations'), template: { model: models.music, prompt: 'lofi', duration: 10, audio_url: 'http://127.0.0.1:9/a.wav' } },
      { name: 'task', method: 'GET', path: fc.tuple(id, queryString(['wait'])).map(([task, q]) => `/v1/tasks/${task}${q}`) },
      { name: 'task-cancel', method: 'POST', path: id.map((task) => `/v1/tasks/${task}/cancel`) },
      { name: 'tasks', method: 'GET', path: fc.oneof(queryString(['limit', 'after', 'status', 'model', 'kind']), fc.constant(`?after=${otherTaskId}`)).map((q) => `/v1/tasks${q}`) },
      { name: 'usage', method: 'GET', path: queryString(['from', 'to']).map((q) => `/v1/usage${q}`) },
      { name: 'asset', method: 'GET', path: fc.tuple(pathSegment, pathSegment).map(([asset, sig]) => `/assets/${asset}?sig=${sig}`) },
      { name: 'health', method: 'GET', path: fc.constantFrom('/healthz', '/readyz') },
    ];
    const cases = fuzzRequest(routes, fuzzHeaders({ good: [fuzzer.key], other: [other.key, gw.adminToken] }), '/v1');
    const initial = await stateDigest(gw);
    const fuzzerWallet = await walletOf(gw, fuzzer.accountId);

    await fc.assert(
      fc.asyncProperty(cases, async (c) => {
        tried.public++;
        const answer = await send(c);
        checkAnswer(c, answer);
        if (c.path.startsWith('/v1') && !carries(c, [fuzzer.key, other.key]) && answer.status < 400) {
          throw new Error(`a request without a valid key succeeded: ${describeCase(c)} -> ${answer.status}`);
        }
        const changed = digestDiff(initial, await stateDigest(gw));
        if (changed.length > 0) throw new Error(`${describeCase(c)} -> ${answer.status} changed ${changed.join(', ')}`);
      }),
      { numRuns: PUBLIC_RUNS, seed: PUBLIC_SEED, endOnFailure: true },
    );

    expect(await walletOf(gw, fuzzer.accountId)).toEqual(fuzzerWallet);
    // The other account's task was never cancelled nor changed by the fuzzing key.
    expect((await gw.request('GET', `/v1/tasks/${otherTaskId}`, { key: other.key })).body.status).toBe('succeeded');
  });

  it(`answers ${ADMIN_RUNS} hostile requests to the admin routes without a 5xx, and a refused one changes nothing`, async () => {
    const account = await gw.admin('POST', '/admin/accounts', { name: 'admin fuzz target', credits: 10 });
    const key = await gw.admin('POST', '/admin/keys', { account_id: account.id, name: 'admin fuzz target' });
    const channel = await gw.admin('POST', '/admin/channels', { name: 'admin fuzz target', provider: 'mock', models: ['admin-fuzz-model'], enabled: false });
    secrets.push(key.key, key.webhook_secret);
    const id = (...known: string[]) => fc.oneof({ weight: 2, arbitrary: fc.constantFrom(...known) }, { weight: 3, arbitrary: pathSegment });
    const keySettings = {
      name: 'k', models: ['admin-fuzz-*'], ip_allowlist: ['10.0.0.0/8', '::1'], group: 'fuzz', rpm: 60, budget: 100, budget_monthly: 10,
      callback_url: 'http://127.0.0.1:9/hook', metadata: { team: 'fuzz' }, expires_at: '2099-01-01T00:00:00Z',
    };
    const channelSettings = {
      name: 'c', provider: 'openai', base_url: 'http://127.0.0.1:9/v1', api_key: 'sk-admin-fuzz', models: ['admin-fuzz-model'], groups: ['fuzz'],
      priority: 1, weight: 1, enabled: false, settings: { timeoutMs: 1000 },
    };
    const routes: FuzzRoute[] = [
      { name: 'accounts-create', method: 'POST', path: fc.constant('/admin/accounts'), template: { name: 'fuzz', credits: 10 } },
      { name: 'account', method: 'GET', path: id(account.id).map((a) => `/admin/accounts/${a}`) },
      { name: 'credits', method: 'POST', path: id(account.id).map((a) => `/admin/accounts/${a}/credits`), template: { amount: 5, reason: 'fuzz' } },
      { name: 'keys-create', method: 'POST', path: fc.constant('/admin/keys'), template: { account_id: account.id, ...keySettings } },
      { name: 'keys-list', method: 'GET', path: queryString(['account_id']).map((q) => `/admin/keys${q}`) },
      { name: 'key', method: 'GET', path: id(key.id).map((k) => `/admin/keys/${k}`) },
      { name: 'key-patch', method: 'PATCH', path: id(key.id).map((k) => `/admin/keys/${k}`), template: { ...keySettings, rotate_webhook_secret: false } },
      { name: 'key-delete', method: 'DELETE', path: id(key.id).map((k) => `/admin/keys/${k}`) },
      { name: 'key-rotate', method: 'POST', path: id(key.id).map((k) => `/admin/keys/${k}/rotate`) },
      {
        name: 'models-create', method: 'POST', path: fc.constant('/admin/models'),
        template: { id: 'admin-fuzz-model', category: 'image', pricing: { per_image: 1, per_request: 2 }, metadata: { tier: 'x' }, deadline_seconds: 60, default_duration: 5 },
      },
      { name: 'models-list', method: 'GET', path: fc.constant('/admin/models') },
      { name: 'channels-create', method: 'POST', path: fc.constant('/admin/channels'), template: channelSettings },
      { name: 'channels-list', method: 'GET', path: fc.constant('/admin/channels') },
      { name: 'channel', method: 'GET', path: id(channel.id).map((c) => `/admin/channels/${c}`) },
      { name: 'channel-patch', method: 'PATCH', path: id(channel.id).map((c) => `/admin/channels/${c}`), template: channelSettings },
      { name: 'channel-delete', method: 'DELETE', path: id(channel.id).map((c) => `/admin/channels/${c}`) },
      { name: 'task', method: 'GET', path: id(otherTaskId).map((t) => `/admin/tasks/${t}`) },
      { name: 'usage', method: 'GET', path: queryString(['account_id', 'key_id', 'model', 'from', 'to', 'limit']).map((q) => `/admin/usage${q}`) },
    ];
    const cases = fuzzRequest(routes, fuzzHeaders({ good: [gw.adminToken], other: [fuzzer.key, key.key] }), '/admin');
    let last: StateDigest = await stateDigest(gw);

    await fc.assert(
      fc.asyncProperty(cases, async (c) => {
        tried.admin++;
        const answer = await send(c);
        checkAnswer(c, answer);
        if (!carries(c, [gw.adminToken]) && answer.status < 400) {
          throw new Error(`an admin request without the admin token succeeded: ${describeCase(c)} -> ${answer.status}`);
        }
        const now = await stateDigest(gw);
        const changed = digestDiff(last, now);
        last = now;
        if (answer.status >= 400 && changed.length > 0) throw new Error(`refused ${describeCase(c)} -> ${answer.status} changed ${changed.join(', ')}`);
      }),
      { numRuns: ADMIN_RUNS, seed: ADMIN_SEED, endOnFailure: true },
    );
  });

  it('refuses edge values (dates out of range, NUL in ids and queries, unpaired surrogates) with a 400, not a 500', async () => {
    const account = await gw.admin('POST', '/admin/accounts', { name: 'edge values', credits: 1 });
    const key = await gw.admin('POST', '/admin/keys', { account_id: account.id, name: 'edge values' });
    const cases: [string, string, unknown, number][] = [
      ['POST', '/admin/keys', { account_id: account.id, expires_at: Number.MAX_SAFE_INTEGER }, 400],
      ['POST', '/admin/keys', { account_id: account.id, expires_at: 8_640_000_000_001 }, 400],
      ['POST', '/admin/keys', { account_id: account.id, expires_at: '0000-01-01T00:00:00Z' }, 400],
      ['POST', '/admin/keys', { account_id: account.id, expires_at: '9999-12-31T23:59:59Z' }, 201],
      ['PATCH', `/admin/keys/${key.id}`, { expires_at: Number.MAX_SAFE_INTEGER }, 400],
      ['PATCH', `/admin/keys/${key.id}`, { expires_at: '0000-01-01T00:00:00Z' }, 400],
      ['PATCH', `/admin/keys/${key.id}`, { expires_at: null }, 200],
      ['GET', '/admin/usage?from=0000-01-01T00:00:00Z', undefined, 400],
      ['GET', '/admin/usage?to=0000-01-01T00:00:00Z', undefined, 400],
      ['GET', '/admin/accounts/a%00b', undefined, 400],
      ['GET', '/admin/keys?account_id=a%00b', undefined, 400],
      ['GET', '/admin/usage?model=a%00b', undefined, 400],
      ['POST', '/admin/accounts', { name: 'a\u0000b' }, 400],
      ['POST', '/admin/accounts', { name: 'x', credits: Number.MAX_SAFE_INTEGER }, 201],
      ['POST', `/admin/accounts/${account.id}/credits`, { amount: Number.MAX_SAFE_INTEGER }, 200],
      ['POST', `/admin/accounts/${account.id}/credits`, { amount: -Number.MAX_SAFE_INTEGER }, 200],
      ['POST', '/admin/models', { id: uniqueId('edge'), category: 'image', pricing: { per_image: 1 }, metadata: { note: 'a\u0000b' } }, 400],
      ['POST', '/admin/models', { id: uniqueId('edge'), category: 'image', pricing: { per_image: 1 }, metadata: { note: '\ud800' } }, 400],
      ['GET', '/v1/usage?from=0000-01-01T00:00:00Z', 'consumer', 400],
      ['GET', '/v1/tasks?after=a%00b', 'consumer', 400],
      ['GET', '/v1/tasks?model=a%00b', 'consumer', 400],
    ];
    const wrong: string[] = [];
    for (const [method, path, body, expected] of cases) {
      tried.edge++;
      const consumer = body === 'consumer';
      const c: FuzzCase = {
        route: 'edge', bodyKind: 'edge', method, path,
        headers: { authorization: `Bearer ${consumer ? fuzzer.key : gw.adminToken}`, 'content-type': 'application/json' },
        body: body === undefined || consumer ? undefined : JSON.stringify(body),
      };
      const answer = await send(c);
      try {
        checkAnswer(c, answer);
        if (answer.status !== expected) throw new Error(`expected ${expected}`);
      } catch (error) {
        wrong.push(`${describeCase(c)} -> ${answer.status} ${answer.text.slice(0, 160)}: ${(error as Error).message.split('\n')[0]}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('either refuses hostile-but-valid media bodies or runs them to a final state', async () => {
    const funded = await createCustomer(gw, { credits: 10_000 });
    secrets.push(funded.key, funded.webhookSecret);
    const json = (extra: Record<string, unknown>) => JSON.stringify({ model: models.image, ...extra });
    const deep = (depth: number) => `{"model":${JSON.stringify(models.image)},"prompt":"deep","options":{"a":${deepJson(depth, 'object')}}}`;
    // Each is valid JSON a client may send: the gateway must refuse it cleanly or run it to the end.
    const bodies: [string, 'accepted' | 'refused' | 'refused-json'][] = [
      [json({ prompt: 'NUL \u0000 inside' }), 'refused'],
      [json({ prompt: 'lone surrogate \ud800 inside' }), 'refused'],
      [json({ prompt: 'options with NUL', options: { note: 'a\u0000b' } }), 'refused'],
      [json({ prompt: 'a key with NUL', 'weird\u0000key': 1 }), 'refused'],
      [json({ prompt: 'lone surrogate option', options: { note: '\udc00' } }), 'refused'],
      [deep(100_000), 'refused-json'],
      [json({ prompt: 'rtl \u202e and emoji 😀 and combining e\u0301' }), 'accepted'],
      [json({ prompt: 'x'.repeat(20_000) }), 'accepted'],
      [`{"model":${JSON.stringify(models.image)},"prompt":"prototype keys","options":{"__proto__":{"admin":true},"constructor":"x"}}`, 'accepted'],
      [deep(30), 'accepted'],
      [json({ prompt: 'huge numbers', seed: Number.MAX_SAFE_INTEGER, options: { big: 1e308, small: -1e308 } }), 'accepted'],
    ];
    const wrong: string[] = [];
    for (const [body, expected] of bodies) {
      tried.hostileValid++;
      const c: FuzzCase = {
        route: 'images', bodyKind: `hostile-valid-${expected}`, method: 'POST', path: '/v1/images/generations',
        headers: { authorization: `Bearer ${funded.key}`, 'content-type': 'application/json' }, body,
      };
      const answer = await send(c);
      try {
        checkAnswer(c, answer);
        const code = (answer.json as { error?: { code?: string } } | undefined)?.error?.code;
        const refusal = expected === 'refused' ? 'invalid_request' : 'invalid_json';
        if (expected !== 'accepted' && (answer.status !== 400 || code !== refusal)) throw new Error(`expected 400 ${refusal}, got ${answer.status} ${code}`);
        if (expected === 'accepted') {
          if (answer.status !== 200) throw new Error(`expected 200, got ${answer.status} ${answer.text.slice(0, 200)}`);
          const task = await waitForTask(gw, funded.key, (answer.json as { id: string }).id, { timeoutMs: 20_000 });
          if (task.status !== 'succeeded') throw new Error(`task ended ${task.status}: ${JSON.stringify(task.error)}`);
        }
      } catch (error) {
        wrong.push(`${describeCase(c)}: ${(error as Error).message.split('\n')[0]}`);
      }
    }
    expect(wrong).toEqual([]);
    expect(await walletOf(gw, funded.accountId)).toMatchObject({ reserved: 0 });
  });

  it('charges every hostile media body it accepts in full, and never asks the provider for more than was charged', async () => {
    // The media fuzz tenant has credits: a hostile body that gets through shows up as a charge.
    const funded = await createCustomer(gw, { credits: 1_000_000 });
    secrets.push(funded.key, funded.webhookSecret);
    // Literal prices: 3 credits an image; 2 a second of video (5 s by default); 1 a second of music (10 s).
    const priced = {
      image: (await createMockModel(gw, { category: 'image', pricing: { per_image: 3 }, settings: { durationMs: 50 } })).model,
      video: (await createMockModel(gw, { category: 'video', pricing: { per_second: 2 }, defaultDuration: 5, settings: { durationMs: 50 } })).model,
      music: (await createMockModel(gw, { category: 'music', pricing: { per_second: 1 }, defaultDuration: 10, settings: { durationMs: 50 } })).model,
    };
    const routes = { image: '/v1/images/generations', video: '/v1/videos', music: '/v1/music/generations' } as const;
    const hostile = fc.oneof(fc.integer({ min: -3, max: 1000 }), fc.constantFrom('12', '0', '999', '4', '1080p', 'high', '1792x1024', 'pro-model'), fc.double({ noNaN: true }), fc.boolean());
    // Mostly plausible values with a hostile one mixed in, so that a good share of bodies is accepted.
    const mostly = <T, U>(plain: fc.Arbitrary<T>, bad: fc.Arbitrary<U>) => fc.oneof({ weight: 3, arbitrary: plain }, { weight: 1, arbitrary: bad });
    const key = mostly(fc.constantFrom('style', 'fps', 'steps'), fc.constantFrom(...MEDIA_PRICED_KEYS));
    const body = fc.record(
      {
        duration: mostly(fc.integer({ min: 1, max: 20 }), fc.oneof(fc.integer({ min: -2, max: 700 }), fc.constantFrom(2.5, 0))),
        seconds: mostly(fc.constantFrom('4', '8'), fc.oneof(fc.constantFrom('0', '12', '999', '5.5'), fc.integer({ min: 0, max: 20 }))),
        n: mostly(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 12 })),
        size: fc.constantFrom('1024x1024', '1792x1024'),
        quality: fc.constantFrom('low', 'high'),
        options: fc.dictionary(key, hostile, { maxKeys: 2 }),
        unknown: fc.tuple(key, hostile),
      },
      { requiredKeys: [] },
    );
    const kinds = fc.constantFrom('image', 'video', 'music') as fc.Arbitrary<keyof typeof routes>;
    let accepted = 0;

    await fc.assert(
      fc.asyncProperty(kinds, body, async (kind, generated) => {
        tried.hostileValid++;
        const { unknown, ...fields } = generated;
        const sent = { model: priced[kind], prompt: 'a fox', ...fields, ...(unknown ? { [unknown[0]]: unknown[1] } : {}) };
        const before = await walletOf(gw, funded.accountId);
        const answer = await gw.request('POST', routes[kind], { key: funded.key, body: sent });
        if (answer.status !== 200) {
          // 404: the generated `model` field named a model that does not exist.
          expect([400, 404]).toContain(answer.status);
          expect(await walletOf(gw, funded.accountId)).toEqual(before);
          return;
        }
        accepted++;
        // Independently of the gateway: what this body asks for, at the literal prices above.
        const seconds = fields.duration ?? (fields.seconds !== undefined ? Number(fields.seconds) : kind === 'video' ? 5 : 10);
        const units = kind === 'image' ? (fields.n ?? 1) : seconds;
        const quote = (kind === 'image' ? 3 : kind === 'video' ? 2 : 1) * units;
        const task = await waitForTask(gw, funded.key, answer.body.id, { timeoutMs: 20_000 });
        expect(task).toMatchObject({ status: 'succeeded', credits: { reserved: quote, charged: quote, refunded: 0 } });
        expect(await walletOf(gw, funded.accountId)).toEqual({ balance: before.balance - quote, reserved: before.reserved });
        // What the provider was asked to make: the mock encodes it in its job id.
        const job = decodeJobId((await gw.admin('GET', `/admin/tasks/${task.id}`)).provider_job_id);
        if (kind === 'image') expect(job.count).toBe(units);
        else expect(job.seconds).toBe(units);
      }),
      { numRuns: Math.min(PUBLIC_RUNS, 150), seed: PUBLIC_SEED + 2, endOnFailure: true },
    );
    console.log(`media fuzz: ${accepted} hostile bodies accepted, each charged in full`);
    expect(await walletOf(gw, funded.accountId)).toMatchObject({ reserved: 0 });
  });
});
