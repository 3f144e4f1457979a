/**
 * Chat upstreams as rough as real ones: `n` choices, no usage, an error inside an HTTP 200, an error event
 * in the middle of a stream. The gateway passes good answers through whole, moves to the next channel
 * when nothing reached the client yet, ends a started stream with an error event, and always closes the
 * request's hold.
 */
import { startOpenAIFake, type OpenAIFake } from '../fakes';
import { createCustomer, startTestGateway, uniqueId, type TestGateway } from '../support/harness';

const PRICING = { per_1k_input_tokens: 1000, per_1k_output_tokens: 2000 };

describe('rough chat upstreams', () => {
  let gw: TestGateway;
  let primary: OpenAIFake;
  let backup: OpenAIFake;

  beforeAll(async () => {
    [gw, primary, backup] = await Promise.all([startTestGateway({ runWorker: false }), startOpenAIFake(), startOpenAIFake()]);
  });
  afterEach(() => [primary, backup].forEach((fake) => fake.reset()));
  afterAll(() => Promise.all([gw?.stop(), primary?.close(), backup?.close()]));

  /** A chat model on one channel per fake (the first asked first), and a customer. */
  async function setup(fakes: OpenAIFake[]) {
    const model = uniqueId('rough');
    await gw.admin('POST', '/admin/models', { id: model, category: 'chat', pricing: PRICING });
    for (const [i, fake] of fakes.entries()) {
      await gw.admin('POST', '/admin/channels', {
        name: `${model} #${i}`, provider: 'openai', base_url: fake.url, api_key: fake.apiKey, models: { [model]: 'gpt-4o-mini' }, priority: 10 - i,
      });
    }
    const customer = await createCustomer(gw, { credits: 100_000 });
    return { model, customer };
  }

  async function chat(key: string, body: Record<string, unknown>) {
    const response = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    return { status: response.status, text: await response.text() };
  }

  /** The request's usage row and the account's open holds, once settled. */
  async function settledUsage(accountId: string) {
    await gw.gateway.leases.quiesce({ accountId });
    await gw.gateway.leases.flush();
    const conn = gw.gateway.orm.em.fork().getConnection();
    const rows = await conn.execute<{ status: string; units: { output_tokens?: number }; channel_id: string | null }[]>(
      `select status, units, channel_id from usage_records where account_id = ? order by created_at`, [accountId],
    );
    const open = await conn.execute<{ n: string }[]>(`select count(*) as n from holds where account_id = ? and status = 'open'`, [accountId]);
    return { rows, openHolds: Number(open[0]!.n) };
  }

  const messages = [{ role: 'user', content: 'Name three colours' }];

  it('passes n choices through whole, streamed or not, and bills every choice', async () => {
    const { model, customer } = await setup([primary]);
    const one = await chat(customer.key, { model, messages });
    const three = await chat(customer.key, { model, messages, n: 3 });
    expect(three.status).toBe(200);
    const choices = JSON.parse(three.text).choices;
    expect(choices.map((c: { index: number }) => c.index)).toEqual([0, 1, 2]);
    expect(new Set(choices.map((c: { message: { content: string } }) => c.message.content)).size).toBe(1);

    const streamed = await chat(customer.key, { model, messages, n: 2, stream: true });
    const events = streamed.text.split('\n\n').filter((b) => b.startsWith('data: {')).map((b) => JSON.parse(b.slice(6)));
    const indexes = new Set(events.flatMap((e: { choices: { index: number }[] }) => e.choices.map((c) => c.index)));
    expect([...indexes].sort()).toEqual([0, 1]);
    expect(streamed.text.trimEnd().endsWith('data: [DONE]')).toBe(true);

    const { rows, openHolds } = await settledUsage(customer.accountId);
    expect(openHolds).toBe(0);
    expect(rows.map((r) => r.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    const [single, triple] = rows.map((r) => r.units.output_tokens ?? 0);
    expect(single).toBe(JSON.parse(one.text).usage.completion_tokens);
    expect(triple).toBe(3 * single!);
  });

  it('bills from its own count when the upstream reports no usage, for every choice', async () => {
    const { model, customer } = await setup([primary]);
    primary.chat.roughNext({ kind: 'no-usage' }, { kind: 'no-usage' });
    const one = await chat(customer.key, { model, messages });
    const two = await chat(customer.key, { model, messages, n: 2 });
    expect(JSON.parse(one.text).usage).toBeUndefined();
    expect(JSON.parse(two.text).choices).toHaveLength(2);
    const { rows } = await settledUsage(customer.accountId);
    const [single, double] = rows.map((r) => r.units.output_tokens ?? 0);
    expect(single).toBeGreaterThan(0);
    expect(double).toBe(2 * single!);
  });

  it('treats an error inside an HTTP 200 as a failed attempt: the next channel answers, the client never sees it', async () => {
    const { model, customer } = await setup([primary, backup]);
    primary.chat.roughNext({ kind: 'error-in-200', message: 'overloaded, try later' });
    const answer = await chat(customer.key, { model, messages });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.text).choices[0].message.content).toContain('Name three colours');
    expect(answer.text).not.toContain('overloaded');
    expect(primary.requestsTo('POST', '/v1/chat/completions')).toHaveLength(1);
    expect(backup.requestsTo('POST', '/v1/chat/completions')).toHaveLength(1);

    // With no other channel, the client gets a 502 in the error format and pays nothing.
    const alone = await setup([primary]);
    primary.chat.roughNext({ kind: 'error-in-200' });
    const failed = await chat(alone.customer.key, { model: alone.model, messages });
    expect(failed.status).toBe(502);
    expect(JSON.parse(failed.text).error).toMatchObject({ code: 'upstream_unavailable', type: 'upstream_error' });
    const { rows, openHolds } = await settledUsage(alone.customer.accountId);
    expect(openHolds).toBe(0);
    expect(rows).toMatchObject([{ status: 'failed' }]);
    expect(await gw.admin('GET', `/admin/accounts/${alone.customer.accountId}`)).toMatchObject({ balance: 100_000, reserved: 0 });
  });

  it('ends a stream whose upstream sends an error event mid-way with an error event, no [DONE], and closes the hold', async () => {
    const { model, customer } = await setup([primary, backup]);
    primary.chat.roughNext({ kind: 'error-mid-stream', afterChunks: 3, message: 'internal failure at sk-secret-looking-value' });
    const answer = await chat(customer.key, { model, messages, stream: true });
    expect(answer.status).toBe(200);
    const blocks = answer.text.split('\n\n').filter(Boolean);
    const last = JSON.parse(blocks.at(-1)!.slice(6));
    expect(last.error).toMatchObject({ type: 'upstream_error', code: 'upstream_stream_interrupted' });
    expect(answer.text).not.toContain('[DONE]');
    expect(answer.text).not.toContain('sk-secret');
    // The client already had bytes from the first channel: no silent switch to the second mid-answer.
    expect(backup.requestsTo('POST', '/v1/chat/completions')).toHaveLength(0);
    const { rows, openHolds } = await settledUsage(customer.accountId);
    expect(openHolds).toBe(0);
    expect(rows).toMatchObject([{ status: 'failed' }]);

    // An error event before any content is still a failed attempt: the next channel answers.
    primary.chat.roughNext({ kind: 'error-mid-stream', afterChunks: 0 });
    const early = await chat(customer.key, { model, messages, stream: true });
    expect(early.text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    expect(backup.requestsTo('POST', '/v1/chat/completions')).toHaveLength(1);
  });
});
