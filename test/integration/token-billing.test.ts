import OpenAI from 'openai';
import { ledgerTotals } from '../../src/billing/ledger';
import { startOpenAIFake, type OpenAIFake } from '../fakes/openai-fake';
import { waitForNoOpenHold } from '../support/state';
import { createCustomer, createMockModel, startTestGateway, uniqueId, type TestGateway } from '../support/harness';

/**
 * Token money through the HTTP API against the fake OpenAI upstream, whose usage differs from the
 * request: tokens settle at the upstream's usage in full, above the hold when it says so; what the wallet
 * can't cover becomes debt, which blocks new holds (chat, embeddings, media) until a top-up pays it.
 *
 * Every expected figure is a literal worked out from the price table below and the o200k_base /
 * cl100k_base token counts of the texts sent (written next to each figure), never from the code under test.
 */
const PRICING = { per_1k_input_tokens: 1000, per_1k_output_tokens: 2000 }; // 1 credit per input token, 2 per output token

describe('token billing at real usage, and debt', () => {
  let gw: TestGateway;
  let upstream: OpenAIFake;
  const accounts: string[] = [];

  beforeAll(async () => {
    gw = await startTestGateway();
    upstream = await startOpenAIFake();
  });
  afterEach(() => upstream.reset());
  afterAll(async () => {
    await Promise.all([gw?.stop(), upstream?.close()]);
  });

  async function model(opts: { id?: string; category?: 'chat' | 'embedding'; pricing?: Record<string, number>; maxOutputTokens?: number } = {}) {
    const id = opts.id ?? uniqueId('chat');
    await gw.admin('POST', '/admin/models', {
      id, category: opts.category ?? 'chat', pricing: opts.pricing ?? PRICING,
      ...(opts.maxOutputTokens ? { max_output_tokens: opts.maxOutputTokens } : {}),
    });
    await gw.admin('POST', '/admin/channels', { name: `${id} upstream`, provider: 'openai', base_url: upstream.url, api_key: upstream.apiKey, models: { [id]: 'gpt-4o' } });
    return id;
  }

  async function customer(credits: number) {
    const c = await createCustomer(gw, { credits });
    accounts.push(c.accountId);
    return { ...c, openai: new OpenAI({ apiKey: c.key, baseURL: `${gw.url}/v1`, maxRetries: 0 }) };
  }

  async function sql<T = Record<string, unknown>>(query: string, params: unknown[] = []): Promise<T[]> {
    return gw.gateway.orm.em.fork().getConnection().execute<T[]>(query, params);
  }

  /** The account as the admin API shows it (its money reads flush this process's lease first). */
  const account = (id: string): Promise<{ balance: number; reserved: number; debt: number }> => gw.admin('GET', `/admin/accounts/${id}`);

  async function usageRows(accountId: string) {
    const answer = await gw.admin('GET', `/admin/usage?account_id=${accountId}`);
    return (answer.data as { ref: string; credits: number; debt: number; status: string; units: Record<string, number> }[]).reverse();
  }

  /** A stream its client left settles after the upstream's usage: wait for it. */
  const settled = (accountId: string) => waitForNoOpenHold(gw, accountId, 20_000);

  const chatCalls = () => upstream.requestsTo('POST', '/v1/chat/completions').length;
  const user = (content: string) => [{ role: 'user' as const, content }];

  it('charges a chat without max_tokens in full when the upstream reports 6,000 completion tokens', async () => {
    const id = await model();
    const c = await customer(100_000);
    upstream.chat.setUsage({ prompt_tokens: 10, completion_tokens: 6000 });
    await c.openai.chat.completions.create({ model: id, messages: user('endless') });
    // The hold was 3 + 4 + 2 ("endless") = 9 input tokens and 4,096 output tokens = 8,201 credits;
    // the charge is 10 x 1 + 6,000 x 2 = 12,010, all of it.
    const [row] = await usageRows(c.accountId);
    expect(row).toMatchObject({ credits: 12_010, debt: 0, status: 'succeeded', units: { input_tokens: 10, output_tokens: 6000 } });
    expect(await account(c.accountId)).toMatchObject({ balance: 100_000 - 12_010, reserved: 0, debt: 0 });
    const [capture] = await sql<{ amount: string }>(`select amount from ledger_entries where ref = ? and kind = 'capture'`, [row!.ref]);
    expect(Number(capture!.amount)).toBe(12_010);
  });

  it("sizes the hold without max_tokens from the model's max_output_tokens", async () => {
    const wide = await model();
    const narrow = await model({ maxOutputTokens: 100 });
    expect((await gw.admin('GET', '/admin/models')).data.find((m: { id: string }) => m.id === narrow)).toMatchObject({ max_output_tokens: 100 });
    const c = await customer(300);
    // 9 + 4,096 x 2 = 8,201 credits held by default: more than the wallet.
    const refused = await c.openai.chat.completions.create({ model: wide, messages: user('endless') }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ status: 402, code: 'insufficient_credits' });
    expect(chatCalls()).toBe(0);
    // 9 + 100 x 2 = 209 credits held with max_output_tokens 100: it fits.
    upstream.chat.setUsage({ prompt_tokens: 9, completion_tokens: 40 });
    await c.openai.chat.completions.create({ model: narrow, messages: user('endless') });
    expect((await usageRows(c.accountId))[0]).toMatchObject({ credits: 9 + 80 });
    expect(await account(c.accountId)).toMatchObject({ balance: 300 - 89, reserved: 0 });
    const bad = await gw.request('POST', '/admin/models', { admin: true, body: { id: uniqueId('chat'), category: 'chat', pricing: PRICING, max_output_tokens: 0 } });
    expect(bad.status).toBe(400);
  });

  it('prices reasoning and cached tokens at their own rates, above the hold', async () => {
    const id = await model({ pricing: { ...PRICING, per_1k_reasoning_tokens: 5000, per_1k_cached_input_tokens: 100 } });
    const c = await customer(100_000);
    upstream.chat.setUsage({ prompt_tokens: 1000, cached_tokens: 600, completion_tokens: 3000, reasoning_tokens: 2500 });
    await c.openai.chat.completions.create({ model: id, messages: user('think hard'), max_tokens: 3000 });
    // Held: (3 + 4 + 2) x 1 + 3,000 x 2 = 6,009. Charged: 400 uncached x 1 + 600 cached x 0.1 + 500 x 2
    // + 2,500 reasoning x 5 = 400 + 60 + 1,000 + 12,500 = 13,960.
    const [row] = await usageRows(c.accountId);
    expect(row).toMatchObject({ credits: 13_960, debt: 0, units: { input_tokens: 1000, output_tokens: 3000, cached_input_tokens: 600, reasoning_tokens: 2500 } });
    expect(await account(c.accountId)).toMatchObject({ balance: 100_000 - 13_960, reserved: 0 });
  });

  it('holds CJK embeddings by the tokenizer and charges the upstream-reported overage exactly', async () => {
    // A text-embedding-3 id: counted in cl100k_base, where these 600 CJK characters are 750 tokens.
    const id = await model({ id: uniqueId('text-embedding-3-small'), category: 'embedding' });
    const c = await customer(10_000);
    upstream.chat.setEmbeddingTokens(900);
    await c.openai.embeddings.create({ model: id, input: '你好世界'.repeat(150) });
    const [hold] = await sql<{ amount: string }>(`select amount from ledger_entries where account_id = ? and kind = 'hold'`, [c.accountId]);
    expect(Number(hold!.amount)).toBe(750);
    // 900 tokens at 1 credit each (bytes / 4 would have held, and charged, 450).
    expect((await usageRows(c.accountId))[0]).toMatchObject({ credits: 900, debt: 0, units: { input_tokens: 900 } });
    expect(await account(c.accountId)).toMatchObject({ balance: 9100, reserved: 0, debt: 0 });
  });

  it('turns what the wallet cannot cover into debt, refuses chat, embeddings and media while it lasts, and lets a top-up pay it first', async () => {
    const chat = await model({ maxOutputTokens: 100 });
    const embedding = await model({ category: 'embedding' });
    const { model: image } = await createMockModel(gw, { category: 'image', pricing: { per_image: 5 } });
    const c = await customer(1000);
    upstream.chat.setUsage({ prompt_tokens: 10, completion_tokens: 2000 });
    await c.openai.chat.completions.create({ model: chat, messages: user('endless') });
    // Held 9 + 100 x 2 = 209; charged 10 + 2,000 x 2 = 4,010: 1,000 from the wallet, 3,010 owed.
    const [row] = await usageRows(c.accountId);
    expect(row).toMatchObject({ credits: 4010, debt: 3010 });
    expect(await account(c.accountId)).toMatchObject({ balance: 0, reserved: 0, debt: 3010 });
    const usage = await gw.request('GET', '/v1/usage', { key: c.key });
    expect(usage.body).toMatchObject({ total: { credits: 4010 }, debt: 3010 });
    const metrics = await gw.request('GET', '/metrics', { admin: true });
    const owed = /^gateway_credits_debt (\d+)$/m.exec(String(metrics.body));
    expect(Number(owed?.[1])).toBeGreaterThanOrEqual(3010);

    // Every new hold is refused while the account owes, media included, and nothing goes upstream.
    const calls = chatCalls();
    const refusedChat = await c.openai.chat.completions.create({ model: chat, messages: user('again'), max_tokens: 1 }).catch((e: unknown) => e);
    expect(refusedChat).toMatchObject({ status: 402, code: 'insufficient_credits' });
    const refusedEmbedding = await c.openai.embeddings.create({ model: embedding, input: 'embed me' }).catch((e: unknown) => e);
    expect(refusedEmbedding).toMatchObject({ status: 402, code: 'insufficient_credits' });
    const refusedImage = await gw.request('POST', '/v1/images/generations', { key: c.key, body: { model: image, prompt: 'a fox' } });
    expect(refusedImage.status).toBe(402);
    expect(refusedImage.body).toMatchObject({ error: { code: 'insufficient_credits' } });
    expect(chatCalls()).toBe(calls);

    // A top-up smaller than the debt pays part of it and leaves nothing to spend.
    expect(await gw.admin('POST', `/admin/accounts/${c.accountId}/credits`, { amount: 1000 })).toEqual({ balance: 0, debt: 2010 });
    expect(await c.openai.embeddings.create({ model: embedding, input: 'embed me' }).catch((e: unknown) => e)).toMatchObject({ status: 402 });
    // One that covers it pays it first; the rest is spendable again.
    expect(await gw.admin('POST', `/admin/accounts/${c.accountId}/credits`, { amount: 5000 })).toEqual({ balance: 2990, debt: 0 });
    upstream.chat.setUsage(null);
    const created = await gw.request('POST', '/v1/images/generations', { key: c.key, body: { model: image, prompt: 'a fox' } });
    expect(created.status).toBe(200);

    const debtRows = await sql<{ amount: string }>(`select amount from ledger_entries where account_id = ? and kind = 'debt' order by id`, [c.accountId]);
    expect(debtRows.map((r) => Number(r.amount))).toEqual([3010, -1000, -2010]);
  });

  it('bills a client that leaves a stream from the usage the upstream sends afterwards', async () => {
    const id = await model();
    const c = await customer(100_000);
    upstream.chat.setReply(Array.from({ length: 40 }, (_, i) => `w${i}`).join(' ')).setChunkDelayMs(40).setUsage({ prompt_tokens: 7, completion_tokens: 40 });
    const stream = await c.openai.chat.completions.create({ model: id, messages: user('go'), stream: true });
    let received = 0;
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content) received++;
      if (received === 3) break; // the SDK aborts the request
    }
    await settled(c.accountId);
    // The gateway read on to the usage chunk: 7 x 1 + 40 x 2.
    expect((await usageRows(c.accountId))[0]).toMatchObject({ status: 'cancelled', credits: 87, units: { input_tokens: 7, output_tokens: 40 } });
    expect(await account(c.accountId)).toMatchObject({ balance: 100_000 - 87, reserved: 0 });
  });

  it('bills a client that leaves a stream without usage from the tokenizer count of what was generated', async () => {
    const id = await model();
    const c = await customer(100_000);
    upstream.chat.setReply(Array.from({ length: 40 }, (_, i) => `w${i}`).join(' ')).setChunkDelayMs(40).setUsage('none');
    const stream = await c.openai.chat.completions.create({ model: id, messages: user('go'), stream: true });
    let received = 0;
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content) received++;
      if (received === 3) break;
    }
    await settled(c.accountId);
    // Prompt 3 + 4 + 1 ("go") = 8; the whole reply "w0 w1 ... w39" was generated: 80 tokens in o200k_base.
    expect((await usageRows(c.accountId))[0]).toMatchObject({ status: 'cancelled', credits: 8 + 160, units: { input_tokens: 8, output_tokens: 80 } });
  });

  it('bills a non-streaming answer without usage from the tokenizer count of its text', async () => {
    const id = await model();
    const c = await customer(100_000);
    upstream.chat.setReply(Array.from({ length: 40 }, (_, i) => `w${i}`).join(' ')).setUsage('none');
    const answer = await c.openai.chat.completions.create({ model: id, messages: user('go') });
    expect(answer.usage).toBeUndefined();
    // Prompt 3 + 4 + 1 ("go") = 8; "w0 w1 ... w39" is 80 tokens in o200k_base.
    expect((await usageRows(c.accountId))[0]).toMatchObject({ status: 'succeeded', credits: 8 + 160, units: { input_tokens: 8, output_tokens: 80 } });
  });

  it('stops waiting for the usage of a left stream after CHAT_STREAM_USAGE_WAIT_MS and bills what was generated by then', async () => {
    const quick = await startTestGateway({ runWorker: false, env: { CHAT_STREAM_USAGE_WAIT_MS: '300' } });
    try {
      const id = uniqueId('chat');
      await quick.admin('POST', '/admin/models', { id, category: 'chat', pricing: PRICING });
      await quick.admin('POST', '/admin/channels', { name: id, provider: 'openai', base_url: upstream.url, api_key: upstream.apiKey, models: { [id]: 'gpt-4o' } });
      const c = await createCustomer(quick, { credits: 100_000 });
      // 40 words at 100 ms each: the usage chunk would come after 4 s.
      upstream.chat.setReply(Array.from({ length: 40 }, (_, i) => `w${i}`).join(' ')).setChunkDelayMs(100).setUsage({ prompt_tokens: 7, completion_tokens: 40 });
      const openai = new OpenAI({ apiKey: c.key, baseURL: `${quick.url}/v1`, maxRetries: 0 });
      const stream = await openai.chat.completions.create({ model: id, messages: user('go'), stream: true });
      let received = 0;
      for await (const chunk of stream) {
        if (chunk.choices[0]?.delta.content) received++;
        if (received === 3) break;
      }
      await waitForNoOpenHold(quick, c.accountId, 3000);
      const [row] = (await quick.admin('GET', `/admin/usage?account_id=${c.accountId}`)).data;
      // Not the upstream's 7 + 40 (it never came): the prompt estimate (8) and at least the three words
      // the client got ("w0 w1 w2 ": 6 tokens in o200k_base), fewer than the whole reply's 80.
      expect(row).toMatchObject({ status: 'cancelled', units: { input_tokens: 8 } });
      expect(row.units.output_tokens).toBeGreaterThanOrEqual(6);
      expect(row.units.output_tokens).toBeLessThan(80);
      expect(row.credits).toBe(8 + 2 * row.units.output_tokens);
    } finally {
      await quick.stop();
    }
  });

  it('keeps balance + holds - debt = top-ups - captures for every account of this file', async () => {
    for (const accountId of accounts) {
      await settled(accountId);
      const totals = await ledgerTotals(gw.gateway.orm.em.getKnex(), accountId);
      expect(totals.balance + totals.openHolds - totals.debt).toBe(totals.topups - totals.captures);
      expect(totals.debt).toBe(totals.debtEntries);
      expect(totals.reserved).toBe(totals.openHolds);
    }
  });
});
