import OpenAI from 'openai';
import { ledgerTotals } from '../../src/billing/ledger';
import { fakePromptTokens, fakeReplyPieces, fakeTokenCount } from '../fakes/openai-chat';
import { startOpenAIFake, type OpenAIFake } from '../fakes/openai-fake';
import { waitForNoOpenHold } from '../support/state';
import { createCustomer, startTestGateway, uniqueId, type TestGateway } from '../support/harness';
import { eventually } from '../support/checks';

/** One credit per input token, two per output token: every expectation below is exact. */
const PRICING = { per_1k_input_tokens: 1000, per_1k_output_tokens: 2000 };
/** The price of `tokens` under PRICING, worked out here rather than by the code under test. */
const creditsFor = (tokens: { input: number; output: number }) => tokens.input * 1 + tokens.output * 2;

interface UsageRow {
  ref: string;
  api_key_id: string;
  model: string;
  category: string;
  channel_id: string | null;
  units: { input_tokens?: number; output_tokens?: number };
  credits: number;
  status: string;
  latency_ms: number | null;
}

/**
 * The OpenAI-compatible routes, driven by the official `openai` package against two fake OpenAI upstreams:
 * answers, streaming, failover across channels, mid-stream failures, and the money.
 */
describe('chat completions and embeddings through channels', () => {
  let gw: TestGateway;
  let primary: OpenAIFake;
  let backup: OpenAIFake;
  /** Every account these tests create, for the final ledger check. */
  const accounts: string[] = [];

  beforeAll(async () => {
    gw = await startTestGateway({ runWorker: false });
    primary = await startOpenAIFake();
    backup = await startOpenAIFake();
  });
  afterEach(() => {
    primary.reset();
    backup.reset();
  });
  afterAll(async () => {
    await Promise.all([gw?.stop(), primary?.close(), backup?.close()]);
  });

  interface ChannelSpec {
    fake: OpenAIFake;
    upstream: string;
    priority?: number;
    settings?: Record<string, unknown>;
  }

  /** A model on channels pointing at the fakes; returns the model id and the channel ids in order. */
  async function model(opts: { category?: 'chat' | 'embedding'; pricing?: Record<string, number>; channels: ChannelSpec[] }) {
    const id = uniqueId(opts.category === 'embedding' ? 'emb' : 'chat');
    await gw.admin('POST', '/admin/models', { id, category: opts.category ?? 'chat', pricing: opts.pricing ?? PRICING });
    const channelIds: string[] = [];
    for (const [i, spec] of opts.channels.entries()) {
      const channel = await gw.admin('POST', '/admin/channels', {
        name: `${id} #${i}`, provider: 'openai', base_url: spec.fake.url, api_key: spec.fake.apiKey,
        models: { [id]: spec.upstream }, priority: spec.priority ?? 0, settings: spec.settings ?? {},
      });
      channelIds.push(channel.id);
    }
    return { model: id, channelIds };
  }

  async function customer(credits = 100_000, key?: Record<string, unknown>) {
    const c = await createCustomer(gw, { credits, key });
    accounts.push(c.accountId);
    return { ...c, openai: new OpenAI({ apiKey: c.key, baseURL: `${gw.url}/v1`, maxRetries: 0 }) };
  }

  async function sql<T = Record<string, unknown>>(query: string, params: unknown[] = []): Promise<T[]> {
    return gw.gateway.orm.em.fork().getConnection().execute<T[]>(query, params);
  }

  /** The account's usage rows. Settlements are written by the credit lease's batched flush: flush it first. */
  async function usageRows(accountId: string): Promise<UsageRow[]> {
    await gw.gateway.leases.flush();
    const rows = await sql<UsageRow>(`select * from usage_records where account_id = ? order by created_at`, [accountId]);
    return rows.map((r) => ({ ...r, credits: Number(r.credits) }));
  }

  const settled = (accountId: string) => waitForNoOpenHold(gw, accountId);

  async function balance(accountId: string): Promise<{ balance: number; reserved: number; debt: number }> {
    return gw.admin('GET', `/admin/accounts/${accountId}`);
  }

  const chatRequests = (fake: OpenAIFake) => fake.requestsTo('POST', '/v1/chat/completions');
  const reply = (text: string) => `This is a fake reply to: ${text}`;

  it('answers a plain completion, sends every field through untouched with the mapped model, and charges the reported usage', async () => {
    const { model: id, channelIds } = await model({ channels: [{ fake: primary, upstream: 'gpt-4o-mini' }] });
    const c = await customer();
    const body = {
      model: id,
      messages: [{ role: 'system' as const, content: 'Be brief.' }, { role: 'user' as const, content: 'Say hello' }],
      temperature: 0.2,
      max_tokens: 50,
      seed: 42,
      user: 'end-user-7',
      response_format: { type: 'json_object' as const },
      logit_bias: { '50256': -100 },
    };
    const completion = await c.openai.chat.completions.create(body);
    expect(completion.object).toBe('chat.completion');
    expect(completion.choices[0]!.message.content).toBe(reply('Say hello'));

    const seen = chatRequests(primary);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.headers.authorization).toBe(`Bearer ${primary.apiKey}`);
    expect(seen[0]!.body).toEqual({ ...body, model: 'gpt-4o-mini' });

    const tokens = { input: fakePromptTokens(body.messages), output: fakeReplyPieces(reply('Say hello')).length };
    expect(completion.usage).toMatchObject({ prompt_tokens: tokens.input, completion_tokens: tokens.output });
    const price = creditsFor(tokens);
    const [row, ...others] = await usageRows(c.accountId);
    expect(others).toHaveLength(0);
    expect(row).toMatchObject({
      api_key_id: c.keyId, model: id, category: 'chat', channel_id: channelIds[0], status: 'succeeded', credits: price,
      units: { input_tokens: tokens.input, output_tokens: tokens.output },
    });
    expect(row!.ref).toMatch(/^chat_/);
    expect(row!.latency_ms).toBeGreaterThanOrEqual(0);
    expect(await balance(c.accountId)).toMatchObject({ balance: 100_000 - price, reserved: 0 });
  });

  it('streams with async iteration, asks the upstream for usage and hides it from a client that did not ask', async () => {
    const { model: id } = await model({ channels: [{ fake: primary, upstream: 'gpt-4o' }] });
    const c = await customer();
    const messages = [{ role: 'user' as const, content: 'stream me something' }];
    const stream = await c.openai.chat.completions.create({ model: id, messages, stream: true, stream_options: { include_obfuscation: false } });
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);

    expect(chunks.map((ch) => ch.choices[0]?.delta.content ?? '').join('')).toBe(reply('stream me something'));
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('stop');
    expect(chunks.every((ch) => !('usage' in ch))).toBe(true);
    const seen = chatRequests(primary)[0]!.body as Record<string, unknown>;
    expect(seen.model).toBe('gpt-4o');
    expect(seen.stream_options).toEqual({ include_obfuscation: false, include_usage: true });

    const price = creditsFor({ input: fakePromptTokens(messages), output: fakeReplyPieces(reply('stream me something')).length });
    expect((await usageRows(c.accountId))[0]).toMatchObject({ status: 'succeeded', credits: price });
    expect(await balance(c.accountId)).toMatchObject({ balance: 100_000 - price, reserved: 0 });
  });

  it('passes the usage chunk to a client that asked for it', async () => {
    const { model: id } = await model({ channels: [{ fake: primary, upstream: 'gpt-4o' }] });
    const c = await customer();
    const messages = [{ role: 'user' as const, content: 'count me' }];
    const stream = await c.openai.chat.completions.create({ model: id, messages, stream: true, stream_options: { include_usage: true } });
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    const tokens = { input: fakePromptTokens(messages), output: fakeReplyPieces(reply('count me')).length };
    expect(last.usage).toMatchObject({ prompt_tokens: tokens.input, completion_tokens: tokens.output });
    expect((await usageRows(c.accountId))[0]).toMatchObject({ credits: creditsFor(tokens), units: { input_tokens: tokens.input, output_tokens: tokens.output } });
  });

  it('writes each event as it arrives: SSE headers, no buffering, data: [DONE] at the end', async () => {
    const { model: id } = await model({ channels: [{ fake: primary, upstream: 'gpt-4o' }] });
    const c = await customer();
    primary.chat.setChunkDelayMs(120).setReply('one two three four five six');
    const started = Date.now();
    const response = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${c.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: id, messages: [{ role: 'user', content: 'hi' }], stream: true }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(response.headers.get('cache-control')).toBe('no-cache');
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    let firstContentAt = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      if (!firstContentAt && text.includes('"content":"one ')) firstContentAt = Date.now();
    }
    const endedAt = Date.now();
    // Six pieces 120 ms apart: the first word was on the wire long before the last one.
    expect(firstContentAt).toBeGreaterThan(0);
    expect(endedAt - firstContentAt).toBeGreaterThan(400);
    expect(firstContentAt - started).toBeLessThan(endedAt - started - 400);
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(text).not.toContain('"usage"');
  });

  it('passes tools through and returns tool calls, plain and streamed', async () => {
    const { model: id } = await model({ channels: [{ fake: primary, upstream: 'gpt-4o' }] });
    const c = await customer();
    const args = '{"city":"Paris","unit":"celsius"}';
    primary.chat.setToolCalls([{ name: 'get_weather', arguments: args }]);
    const tools: OpenAI.Chat.Completions.ChatCompletionTool[] = [
      { type: 'function', function: { name: 'get_weather', description: 'Weather now', parameters: { type: 'object', properties: { city: { type: 'string' }, unit: { type: 'string' } }, required: ['city'] } } },
    ];
    const messages = [{ role: 'user' as const, content: 'Weather in Paris?' }];
    const plain = await c.openai.chat.completions.create({ model: id, messages, tools, tool_choice: 'auto', parallel_tool_calls: false });
    expect(plain.choices[0]!.finish_reason).toBe('tool_calls');
    const call = plain.choices[0]!.message.tool_calls![0]!;
    expect(call.type === 'function' && call.function).toEqual({ name: 'get_weather', arguments: args });
    expect(chatRequests(primary)[0]!.body).toMatchObject({ tools, tool_choice: 'auto', parallel_tool_calls: false });

    const stream = await c.openai.chat.completions.create({ model: id, messages, tools, stream: true });
    let streamedArgs = '';
    let finish: string | null = null;
    for await (const chunk of stream) {
      for (const tc of chunk.choices[0]?.delta.tool_calls ?? []) streamedArgs += tc.function?.arguments ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(streamedArgs).toBe(args);
    expect(finish).toBe('tool_calls');
    const price = creditsFor({ input: fakePromptTokens(messages), output: fakeTokenCount(`get_weather${args}`) });
    const rows = await usageRows(c.accountId);
    expect(rows.map((r) => [r.status, r.credits])).toEqual([['succeeded', price], ['succeeded', price]]);
  });

  it('creates embeddings from a string and from an array, on the upstream model the channel names', async () => {
    const { model: id, channelIds } = await model({ category: 'embedding', pricing: { per_1k_input_tokens: 1000 }, channels: [{ fake: primary, upstream: 'text-embedding-3-small' }] });
    const c = await customer();
    const one = await c.openai.embeddings.create({ model: id, input: 'The quick brown fox' });
    expect(one.object).toBe('list');
    expect(one.data).toHaveLength(1);
    expect(one.data[0]!.embedding).toHaveLength(1536);
    const many = await c.openai.embeddings.create({ model: id, input: ['first text', 'second, longer text'], dimensions: 8 });
    expect(many.data.map((d) => d.index)).toEqual([0, 1]);
    expect(many.data[1]!.embedding).toHaveLength(8);

    const seen = primary.requestsTo('POST', '/v1/embeddings');
    expect(seen.map((r) => (r.body as { model: string }).model)).toEqual(['text-embedding-3-small', 'text-embedding-3-small']);
    expect(seen[1]!.body).toMatchObject({ input: ['first text', 'second, longer text'], dimensions: 8 });

    const rows = await usageRows(c.accountId);
    const expected = [fakeTokenCount('The quick brown fox'), fakeTokenCount('first text') + fakeTokenCount('second, longer text')];
    expect(rows.map((r) => [r.category, r.channel_id, r.units.input_tokens, r.credits, r.status])).toEqual(
      expected.map((t) => ['embedding', channelIds[0], t, t, 'succeeded']),
    );
    expect(rows[0]!.ref).toMatch(/^emb_/);
  });

  it.each([
    ['500', 'server_error'],
    ['429', 'rate_limited'],
  ] as const)('moves to the next channel when the first answers %s before any byte', async (_status, fault) => {
    const { model: id, channelIds } = await model({ channels: [{ fake: primary, upstream: 'gpt-4o', priority: 10 }, { fake: backup, upstream: 'gpt-4o-backup', priority: 0 }] });
    const c = await customer();
    primary.failNext('chat', fault, fault);
    const plain = await c.openai.chat.completions.create({ model: id, messages: [{ role: 'user', content: 'plain' }] });
    expect(plain.choices[0]!.message.content).toBe(reply('plain'));
    const stream = await c.openai.chat.completions.create({ model: id, messages: [{ role: 'user', content: 'streamed' }], stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe(reply('streamed'));

    expect(chatRequests(primary)).toHaveLength(2);
    expect(chatRequests(backup).map((r) => (r.body as { model: string }).model)).toEqual(['gpt-4o-backup', 'gpt-4o-backup']);
    const rows = await usageRows(c.accountId);
    expect(rows.map((r) => [r.status, r.channel_id])).toEqual([['succeeded', channelIds[1]], ['succeeded', channelIds[1]]]);
  });

  it('moves on when a stream dies before its first event, and when an upstream hangs past the channel timeout', async () => {
    const { model: id } = await model({
      channels: [{ fake: primary, upstream: 'gpt-4o', priority: 10, settings: { timeoutMs: 400 } }, { fake: backup, upstream: 'gpt-4o', priority: 0 }],
    });
    const c = await customer();
    primary.chat.cutNextStreams(0);
    const stream = await c.openai.chat.completions.create({ model: id, messages: [{ role: 'user', content: 'cut early' }], stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe(reply('cut early'));

    primary.failNext('chat', 'hang');
    const started = Date.now();
    const plain = await c.openai.chat.completions.create({ model: id, messages: [{ role: 'user', content: 'hang' }] });
    expect(plain.choices[0]!.message.content).toBe(reply('hang'));
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
    expect(chatRequests(primary)).toHaveLength(2);
    expect(chatRequests(backup)).toHaveLength(2);
  });

  it('releases the whole hold when the client leaves before any answer', async () => {
    const { model: id } = await model({ channels: [{ fake: primary, upstream: 'gpt-4o' }] });
    const c = await customer();
    primary.failNext('chat', 'hang');
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    const left = await c.openai.chat.completions.create({ model: id, messages: [{ role: 'user', content: 'wait' }] }, { signal: controller.signal }).catch((e: unknown) => e);
    expect(left).toBeInstanceOf(OpenAI.APIUserAbortError);
    // The gateway learns of the disconnect a moment after the client gave up: wait for its usage row.
    const [row] = await eventually('the usage row of the abandoned request', async () => {
      const rows = await usageRows(c.accountId);
      return rows.length > 0 && rows;
    });
    await settled(c.accountId);
    expect(row).toMatchObject({ status: 'cancelled', credits: 0 });
    expect(await balance(c.accountId)).toMatchObject({ balance: 100_000, reserved: 0 });
  });

  it('answers 502 upstream_unavailable when every channel fails, and 429 upstream_rate_limited when every one is rate limited; nothing is charged', async () => {
    const { model: id, channelIds } = await model({ channels: [{ fake: primary, upstream: 'gpt-4o', priority: 1 }, { fake: backup, upstream: 'gpt-4o' }] });
    const c = await customer(20_000);
    primary.failNext('chat', 'server_error');
    backup.failNext('chat', { kind: 'unavailable' });
    const failed = await gw.request('POST', '/v1/chat/completions', { key: c.key, body: { model: id, messages: [{ role: 'user', content: 'x' }] } });
    expect(failed.status).toBe(502);
    expect(failed.body.error).toMatchObject({ type: 'upstream_error', code: 'upstream_unavailable' });

    primary.failNext('chat', 'rate_limited');
    backup.failNext('chat', { kind: 'rate_limited', retryAfter: '3' });
    const limited = await c.openai.chat.completions.create({ model: id, messages: [{ role: 'user', content: 'x' }], stream: true }).catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(OpenAI.RateLimitError);
    expect(limited).toMatchObject({ status: 429, code: 'upstream_rate_limited', type: 'upstream_error' });

    const rows = await usageRows(c.accountId);
    expect(rows.map((r) => [r.status, r.credits, r.channel_id])).toEqual([['failed', 0, channelIds[1]], ['failed', 0, channelIds[1]]]);
    expect(await balance(c.accountId)).toMatchObject({ balance: 20_000, reserved: 0 });
  });

  it("answers an upstream 400 as 400 upstream_invalid_request with the upstream's message, scrubbed of its key and host, without trying another channel", async () => {
    const { model: id } = await model({ channels: [{ fake: primary, upstream: 'gpt-4o', priority: 1 }, { fake: backup, upstream: 'gpt-4o' }] });
    const c = await customer(20_000);
    const host = new URL(primary.url).host;
    primary.failNext('chat', { kind: 'invalid', message: `Invalid 'temperature': 9 is above 2 (served by ${primary.url}/chat/completions, key ${primary.apiKey}, host ${host})` });
    const response = await gw.request('POST', '/v1/chat/completions', { key: c.key, body: { model: id, temperature: 9, messages: [{ role: 'user', content: 'x' }] } });
    expect(response.status).toBe(400);
    expect(response.body.error).toMatchObject({ type: 'invalid_request_error', code: 'upstream_invalid_request' });
    const message: string = response.body.error.message;
    expect(message).toContain("Invalid 'temperature': 9 is above 2");
    expect(message).not.toContain(primary.apiKey);
    expect(message).not.toContain(primary.apiKey.slice(-12));
    expect(message).not.toContain(host);
    expect(message).not.toContain('127.0.0.1');
    expect(JSON.stringify(response.body)).not.toContain(String(new URL(primary.url).port));
    expect(chatRequests(backup)).toHaveLength(0);
    expect(await balance(c.accountId)).toMatchObject({ balance: 20_000, reserved: 0 });
  });

  it('ends a stream cut after some chunks with an error event and charges the prompt and what was generated', async () => {
    const { model: id } = await model({ channels: [{ fake: primary, upstream: 'gpt-4o', priority: 1 }, { fake: backup, upstream: 'gpt-4o' }] });
    const c = await customer();
    const body = { model: id, messages: [{ role: 'user' as const, content: 'tell me a long story please' }], stream: true as const };
    primary.chat.cutNextStreams(3); // the role chunk and two words, then the socket dies
    const stream = await c.openai.chat.completions.create(body);
    let text = '';
    const error = await (async () => {
      try {
        for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
        return null;
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(error).toMatchObject({ code: 'upstream_stream_interrupted', type: 'upstream_error' });
    const pieces = fakeReplyPieces(reply(body.messages[0].content));
    expect(text).toBe(pieces.slice(0, 2).join(''));
    expect(chatRequests(backup)).toHaveLength(0);

    // No usage arrived: the prompt as estimated (3 + 4 per message + 6 tokens of text in o200k_base), and
    // "This is " as generated (3 tokens in o200k_base), at 1 and 2 credits a token.
    const full = creditsFor({ input: fakePromptTokens(body.messages), output: pieces.length });
    const [row] = await usageRows(c.accountId);
    expect(row).toMatchObject({ status: 'failed', credits: 13 + 2 * 3, units: { input_tokens: 13, output_tokens: 3 } });
    expect(row!.credits).toBeLessThan(full);
    expect(await balance(c.accountId)).toMatchObject({ balance: 100_000 - row!.credits, reserved: 0 });
  });

  it('answers 402 insufficient_credits when the hold cannot be taken, before any upstream call', async () => {
    const { model: id } = await model({ channels: [{ fake: primary, upstream: 'gpt-4o' }] });
    const c = await customer(100);
    // Without max_tokens the hold covers 4096 output tokens: 8192 credits.
    const refused = await c.openai.chat.completions.create({ model: id, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OpenAI.APIError);
    expect(refused).toMatchObject({ status: 402, code: 'insufficient_credits', type: 'gateway_error' });
    expect(chatRequests(primary)).toHaveLength(0);
    expect(await usageRows(c.accountId)).toHaveLength(0);
    // A small max_tokens fits the same wallet.
    const ok = await c.openai.chat.completions.create({ model: id, messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 });
    expect(ok.choices[0]!.finish_reason).toBe('length');
    expect(await balance(c.accountId)).toMatchObject({ reserved: 0 });

    // A key's own budget is held the same way: 402 budget_exceeded, nothing sent upstream.
    const budgeted = await customer(100_000, { budget: 50 });
    const overBudget = await gw.request('POST', '/v1/chat/completions', { key: budgeted.key, body: { model: id, messages: [{ role: 'user', content: 'hi' }] } });
    expect([overBudget.status, overBudget.body.error.code]).toEqual([402, 'budget_exceeded']);
    expect(chatRequests(primary)).toHaveLength(1);
    expect(await balance(budgeted.accountId)).toMatchObject({ balance: 100_000, reserved: 0 });
  });

  it('refuses unknown models, wrong categories, missing channels, bad bodies and models the key may not use', async () => {
    const { model: embedding } = await model({ category: 'embedding', channels: [{ fake: primary, upstream: 'text-embedding-3-small' }] });
    const { model: chat } = await model({ channels: [] });
    const c = await customer();
    const post = (path: string, body: unknown, key = c.key) => gw.request('POST', path, { key, body });

    const unknown = await post('/v1/chat/completions', { model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] });
    expect([unknown.status, unknown.body.error.code]).toEqual([404, 'model_not_found']);
    const wrong = await post('/v1/chat/completions', { model: embedding, messages: [{ role: 'user', content: 'x' }] });
    expect([wrong.status, wrong.body.error.code, wrong.body.error.type]).toEqual([400, 'invalid_request', 'invalid_request_error']);
    const wrongEmb = await post('/v1/embeddings', { model: chat, input: 'x' });
    expect(wrongEmb.status).toBe(400);
    const none = await post('/v1/chat/completions', { model: chat, messages: [{ role: 'user', content: 'x' }] });
    expect([none.status, none.body.error.code]).toEqual([503, 'no_channel_available']);
    const bad = await post('/v1/chat/completions', { model: chat, messages: [] });
    expect([bad.status, bad.body.error.code]).toEqual([400, 'invalid_request']);
    expect(bad.body.error.message).toContain('messages');
    const badEmb = await post('/v1/embeddings', { model: embedding, input: 42 });
    expect([badEmb.status, badEmb.body.error.code]).toEqual([400, 'invalid_request']);

    const limited = await customer(1_000, { models: ['something-else'] });
    const forbidden = await post('/v1/chat/completions', { model: chat, messages: [{ role: 'user', content: 'x' }] }, limited.key);
    expect([forbidden.status, forbidden.body.error.code]).toEqual([403, 'model_not_allowed']);
    expect(chatRequests(primary)).toHaveLength(0);
  });

  it('keeps the ledger equal to the usage rows after a run of mixed requests, failures included', async () => {
    const { model: chat } = await model({ channels: [{ fake: primary, upstream: 'gpt-4o', priority: 1 }, { fake: backup, upstream: 'gpt-4o' }] });
    const { model: emb } = await model({ category: 'embedding', pricing: { per_1k_input_tokens: 500 }, channels: [{ fake: backup, upstream: 'text-embedding-3-small' }] });
    const c = await customer(50_000);
    const user = (content: string) => [{ role: 'user' as const, content }];
    const drain = async (stream: AsyncIterable<unknown>) => {
      try {
        for await (const _ of stream) void _;
      } catch {
        // mid-stream failures are part of the mix
      }
    };

    await c.openai.chat.completions.create({ model: chat, messages: user('plain') });
    await drain(await c.openai.chat.completions.create({ model: chat, messages: user('streamed'), stream: true }));
    await drain(await c.openai.chat.completions.create({ model: chat, messages: user('usage'), stream: true, stream_options: { include_usage: true } }));
    await c.openai.embeddings.create({ model: emb, input: 'embed this' });
    await c.openai.embeddings.create({ model: emb, input: ['a', 'bb', 'ccc'] });
    primary.failNext('chat', 'server_error');
    await c.openai.chat.completions.create({ model: chat, messages: user('failover') });
    primary.failNext('chat', 'server_error');
    backup.failNext('chat', 'server_error');
    await c.openai.chat.completions.create({ model: chat, messages: user('all down') }).catch(() => undefined);
    primary.failNext('chat', 'invalid');
    await c.openai.chat.completions.create({ model: chat, messages: user('refused') }).catch(() => undefined);
    primary.chat.cutNextStreams(4);
    await drain(await c.openai.chat.completions.create({ model: chat, messages: user('cut mid-way'), stream: true }));
    primary.chat.setChunkDelayMs(30).setReply(Array.from({ length: 30 }, (_, i) => `x${i}`).join(' '));
    const leaving = await c.openai.chat.completions.create({ model: chat, messages: user('leave'), stream: true });
    let n = 0;
    for await (const _ of leaving) if (++n === 4) break;
    await settled(c.accountId);
    // Last, since the debt it leaves refuses every later request: 5 + 2 x 50,000 credits for a wallet of 50,000.
    primary.chat.setChunkDelayMs(0).setUsage({ prompt_tokens: 5, completion_tokens: 50_000 });
    await c.openai.chat.completions.create({ model: chat, messages: user('too long'), max_tokens: 30 });
    await settled(c.accountId);

    const rows = await usageRows(c.accountId);
    expect(rows.map((r) => r.status).sort()).toEqual(
      ['cancelled', 'failed', 'failed', 'failed', 'succeeded', 'succeeded', 'succeeded', 'succeeded', 'succeeded', 'succeeded', 'succeeded'].sort(),
    );
    // Every account of this file, this one included: captures equal usage credits, holds all closed.
    for (const accountId of accounts) {
      await settled(accountId);
      const [ledger] = await sql<{ captures: string; credits: string }>(
        `select (select coalesce(sum(amount), 0) from ledger_entries where account_id = ? and kind = 'capture') as captures,
                (select coalesce(sum(credits), 0) from usage_records where account_id = ?) as credits`,
        [accountId, accountId],
      );
      expect(Number(ledger!.captures)).toBe(Number(ledger!.credits));
      const totals = await ledgerTotals(gw.gateway.orm.em.getKnex(), accountId);
      expect(totals).toMatchObject({ reserved: 0, openHolds: 0, debt: totals.debtEntries });
      expect(totals.balance - totals.debt).toBe(totals.topups - totals.captures);
    }
    const spent = rows.reduce((sum, r) => sum + r.credits, 0);
    expect(spent).toBeGreaterThan(100_005);
    expect(await balance(c.accountId)).toEqual(expect.objectContaining({ balance: 0, reserved: 0, debt: spent - 50_000 }));
  });
});
