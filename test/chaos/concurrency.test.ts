import { startOpenAIFake, type OpenAIFake } from '../fakes/openai-fake';
import { createCustomer, createMockModel, startTestGateway, uniqueId, type TestGateway } from '../support/harness';
import { expectApiError, sql } from '../support/checks';
import { atScale, checkLedgerInvariants, reportFigures, sleep, type Query } from './support/chaos';
import { postUntilAnswered, waitAllFinal } from './support/tasks';

/**
 * Many parallel submissions against a wallet that covers only some: exactly as many are admitted as the
 * credits pay for, the rest answer 402 and leave nothing behind, and no observation of the account, taken
 * over and over while the requests race, shows a balance below zero.
 *
 * Each client sends an Idempotency-Key and, like the careful client that a 503 asks for, retries with it
 * when the gateway answers 503 (Temporal overloaded by the burst) or its own 90 s timeout fires: a retry
 * joins the same workflow, so it can neither admit a second task nor lose the first. Every 503 must be in
 * the error format; the final answers must be exactly AFFORDABLE 200s and the rest 402s.
 */
const SUBMISSIONS = atScale({ small: 50, full: 500 });
const AFFORDABLE = atScale({ small: 10, full: 100 });
const PRICE = 7;

describe('chaos: concurrent admission', () => {
  let gw: TestGateway;
  let upstream: OpenAIFake;

  beforeAll(async () => {
    gw = await startTestGateway();
    upstream = await startOpenAIFake();
  });
  afterAll(async () => {
    await Promise.all([gw?.stop(), upstream?.close()]);
  });

  it(`admits exactly ${AFFORDABLE} of ${SUBMISSIONS} parallel submissions`, async () => {
    const started = Date.now();
    const query: Query = (text, params) => sql(gw, text, params);
    const { model } = await createMockModel(gw, { category: 'image', pricing: { per_image: PRICE }, settings: { durationMs: 500 } });
    const customer = await createCustomer(gw, { credits: AFFORDABLE * PRICE });

    // The observer reads the account row (the database's view) and the admin API (the gateway's view)
    // in a loop for as long as the submissions run.
    const observations = { database: 0, api: 0, minBalance: Number.POSITIVE_INFINITY, minReserved: Number.POSITIVE_INFINITY, overdrawn: [] as unknown[] };
    let racing = true;
    const observe = (balance: number, reserved: number, source: string) => {
      observations.minBalance = Math.min(observations.minBalance, balance);
      observations.minReserved = Math.min(observations.minReserved, reserved);
      if (balance < 0 || reserved < 0 || balance + reserved > AFFORDABLE * PRICE) observations.overdrawn.push({ source, balance, reserved });
    };
    const observer = (async () => {
      while (racing) {
        const [row] = await query<{ balance: string; reserved: string }>('select balance, reserved from accounts where id = ?', [customer.accountId]);
        observe(Number(row!.balance), Number(row!.reserved), 'database');
        observations.database += 1;
        const viaApi = await gw.admin('GET', `/admin/accounts/${customer.accountId}`);
        observe(Number(viaApi.balance), Number(viaApi.reserved), 'api');
        observations.api += 1;
        await sleep(5);
      }
    })();

    const runs = await Promise.all(
      Array.from({ length: SUBMISSIONS }, (_, i) => postUntilAnswered(`${gw.url}/v1/images/generations`, customer.key, { model, prompt: `race ${i}` }, `race-${i}`, { tries: 10 })),
    );
    const answers = runs.map((run) => run.answer);
    const retriedAnswers = runs.flatMap((run) => run.seen.slice(0, -1));
    for (const answer of retriedAnswers) {
      if ('error' in answer) expect(answer.error).toMatch(/^TimeoutError/);
      else expectApiError(answer as { status: number; body: unknown; headers: Headers }, 503, 'service_unavailable', 'gateway_error');
    }
    const admittedMs = Date.now() - started;
    racing = false;
    await observer;

    const statuses: Record<string, number> = {};
    for (const answer of answers) {
      const label = 'error' in answer ? `error: ${answer.error}` : String(answer.status);
      statuses[label] = (statuses[label] ?? 0) + 1;
    }
    expect(statuses).toEqual({ 200: AFFORDABLE, 402: SUBMISSIONS - AFFORDABLE });
    for (const refused of answers.filter((answer) => 'status' in answer && answer.status === 402)) {
      expectApiError(refused as { status: number; body: unknown; headers: Headers }, 402, 'insufficient_credits', 'gateway_error');
    }
    expect(observations.overdrawn).toEqual([]);
    expect(observations.minBalance).toBeGreaterThanOrEqual(0);

    // Only the admitted ones exist, and they run to the end and are charged.
    const admittedIds = answers.flatMap((answer) => ('status' in answer && answer.status === 200 ? [answer.body.id as string] : []));
    expect(new Set(admittedIds).size).toBe(AFFORDABLE);
    const outcomes = await waitAllFinal(query, customer.accountId, AFFORDABLE, atScale({ small: 120_000, full: 300_000 }));
    expect(outcomes).toEqual({ succeeded: AFFORDABLE });
    const rows = await query<{ id: string }>('select id from tasks where account_id = ?', [customer.accountId]);
    expect(rows.map((row) => row.id).sort()).toEqual([...admittedIds].sort());
    expect(await gw.admin('GET', `/admin/accounts/${customer.accountId}`)).toMatchObject({ balance: 0, reserved: 0 });
    const invariants = await checkLedgerInvariants(query, [customer.accountId]);

    await reportFigures('concurrency', {
      submissions: SUBMISSIONS,
      creditsFor: AFFORDABLE,
      admitted: statuses[200],
      refused402: statuses[402],
      retriedAfter: {
        status503: retriedAnswers.filter((answer) => 'status' in answer).length,
        clientTimeout: retriedAnswers.filter((answer) => 'error' in answer).length,
      },
      balanceObservations: observations.database + observations.api,
      minBalanceObserved: observations.minBalance,
      invariantChecks: invariants.checks + observations.database + observations.api,
      seconds: { allAnswered: Math.round(admittedMs / 1000), total: Math.round((Date.now() - started) / 1000) },
    });
  }, atScale({ small: 300_000, full: 900_000 }));

  const CHATS = atScale({ small: 20, full: 200 });
  const MEDIA = atScale({ small: 20, full: 100 });
  const WALLET = atScale({ small: 2000, full: 20_000 });

  it(`charges parallel chats at their real usage beyond the wallet while ${MEDIA} media tasks race them: debt, then 402 for everything until a top-up`, async () => {
    const started = Date.now();
    const query: Query = (text, params) => sql(gw, text, params);
    // Each chat holds about 30 credits (10 output tokens at most by the model's setting) and the upstream
    // reports 500 completion tokens: 10 + 1,000 credits each, far beyond what was held.
    const chat = uniqueId('chat');
    await gw.admin('POST', '/admin/models', { id: chat, category: 'chat', pricing: { per_1k_input_tokens: 1000, per_1k_output_tokens: 2000 }, max_output_tokens: 10 });
    await gw.admin('POST', '/admin/channels', { name: `${chat} upstream`, provider: 'openai', base_url: upstream.url, api_key: upstream.apiKey, models: { [chat]: 'gpt-4o' } });
    upstream.chat.setUsage({ prompt_tokens: 10, completion_tokens: 500 });
    const { model: image } = await createMockModel(gw, { category: 'image', pricing: { per_image: PRICE }, settings: { durationMs: 300 } });
    const customer = await createCustomer(gw, { credits: WALLET });

    const postChat = async (i: number) => {
      const response = await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${customer.key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: chat, messages: [{ role: 'user', content: `chat ${i}` }] }),
      });
      const body = (await response.json()) as { error?: { code?: string } };
      return { status: response.status, code: body.error?.code };
    };
    // Balance and debt, read over and over while the requests race: never both above zero.
    const both: unknown[] = [];
    let observations = 0;
    let racing = true;
    const observer = (async () => {
      while (racing) {
        const [row] = await query<{ balance: string; debt: string }>('select balance, debt from accounts where id = ?', [customer.accountId]);
        if (Number(row!.balance) > 0 && Number(row!.debt) > 0) both.push(row);
        observations += 1;
        await sleep(5);
      }
    })();
    // Half the chats race the media submissions; the other half follows once the first half's debt is
    // written, so they must all be refused. The lease writes settlements every 20 ms, later when the
    // machine is loaded (RELIABILITY.md, known limits): flush it as the money reads do.
    const half = Math.floor(CHATS / 2);
    let second: { status: number; code?: string }[] = [];
    const [first, media] = await Promise.all([
      Promise.all(Array.from({ length: half }, (_, i) => postChat(i))).then(async (answers) => {
        await gw.gateway.leases.flush();
        second = await Promise.all(Array.from({ length: CHATS - half }, (_, i) => postChat(half + i)));
        return answers;
      }),
      Promise.all(Array.from({ length: MEDIA }, (_, i) => postUntilAnswered(`${gw.url}/v1/images/generations`, customer.key, { model: image, prompt: `media ${i}` }, `debt-${i}`, { tries: 10 }))),
    ]);
    const chats = [...first, ...second];
    racing = false;
    await observer;
    expect(second).toEqual(second.map(() => ({ status: 402, code: 'insufficient_credits' })));

    const count = (statuses: number[]) => statuses.reduce<Record<number, number>>((acc, status) => ({ ...acc, [status]: (acc[status] ?? 0) + 1 }), {});
    const chatStatuses = count(chats.map((c) => c.status));
    const mediaStatuses = count(media.map((m) => ('status' in m.answer ? m.answer.status : 0)));
    expect(Object.keys(chatStatuses).filter((s) => s !== '200' && s !== '402')).toEqual([]);
    expect(Object.keys(mediaStatuses).filter((s) => s !== '200' && s !== '402')).toEqual([]);
    for (const refused of chats.filter((c) => c.status === 402)) expect(refused.code).toBe('insufficient_credits');
    expect(both).toEqual([]);

    const admitted = mediaStatuses[200] ?? 0;
    await waitAllFinal(query, customer.accountId, admitted, atScale({ small: 120_000, full: 300_000 }));
    await gw.gateway.leases.quiesce({ accountId: customer.accountId });
    const owed = await gw.admin('GET', `/admin/accounts/${customer.accountId}`);
    // Every chat that got through cost 1,010: far more than the wallet once two of them did.
    expect(chatStatuses[200]).toBeGreaterThanOrEqual(2);
    expect(chatStatuses[402]).toBeGreaterThanOrEqual(CHATS - half);
    expect(owed).toMatchObject({ balance: 0, reserved: 0 });
    expect(owed.debt).toBe((chatStatuses[200] ?? 0) * 1010 + admitted * PRICE - WALLET);

    // While it owes, nothing new is held: neither chat nor media.
    expect(await postChat(-1)).toEqual({ status: 402, code: 'insufficient_credits' });
    const refusedMedia = await gw.request('POST', '/v1/images/generations', { key: customer.key, body: { model: image, prompt: 'after' } });
    expectApiError(refusedMedia, 402, 'insufficient_credits', 'gateway_error');
    // A top-up pays the debt first.
    expect(await gw.admin('POST', `/admin/accounts/${customer.accountId}/credits`, { amount: owed.debt + 100 })).toEqual({ balance: 100, debt: 0 });
    const invariants = await checkLedgerInvariants(query, [customer.accountId]);

    await reportFigures('concurrency-debt', {
      chats: CHATS,
      media: MEDIA,
      wallet: WALLET,
      chatAnswers: chatStatuses,
      mediaAnswers: mediaStatuses,
      debt: owed.debt,
      balanceObservations: observations,
      invariantChecks: invariants.checks + observations,
      seconds: Math.round((Date.now() - started) / 1000),
    });
  }, atScale({ small: 300_000, full: 900_000 }));
});
