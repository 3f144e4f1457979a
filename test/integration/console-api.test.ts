import { startOpenAIFake } from '../fakes/openai-fake';
import { expectApiError } from '../support/checks';
import { createCustomer, createMockModel, startTestGateway, uniqueId, waitForTask, type TestGateway } from '../support/harness';

/**
 * The console's server side: the session exchange and its scopes, the console read routes against what
 * the API says, and the upstream cost recorded on usage rows for the money page.
 */
describe('web console API', () => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startTestGateway();
  });
  afterAll(async () => {
    await gw?.stop();
  });

  async function session(credential: string) {
    return gw.request('POST', '/console/api/session', { body: { credential } });
  }

  it('exchanges a key for a consumer session that works on /v1 and nowhere else', async () => {
    const customer = await createCustomer(gw, { credits: 1000, key: { budget: 600, budget_monthly: 400 } });
    const answer = await session(customer.key);
    expect(answer.status).toBe(201);
    expect(answer.body).toMatchObject({ object: 'console.session', role: 'consumer', key_id: customer.keyId, account_id: customer.accountId });
    const token = answer.body.token as string;
    expect(token).toMatch(/^gwcs_/);
    expect(JSON.stringify(answer.body)).not.toContain(customer.key);
    expect(Date.parse(answer.body.expires_at) - Date.now()).toBeGreaterThan(25 * 60_000);

    const credits = await gw.request('GET', '/v1/console/credits', { key: token });
    expect(credits.status).toBe(200);
    expect(credits.body.account).toEqual({ id: customer.accountId, name: expect.any(String), balance: 1000, reserved: 0, debt: 0 });
    expect(credits.body.key).toMatchObject({ id: customer.keyId, budget: 600, budget_left: 600, budget_monthly: 400, budget_monthly_left: 400 });
    // The same answer as the key itself gets.
    expect((await gw.request('GET', '/v1/console/credits', { key: customer.key })).body).toEqual(credits.body);
    expect((await gw.request('GET', '/v1/models', { key: token })).status).toBe(200);

    // A consumer session is no admin token.
    expectApiError(await gw.request('GET', '/admin/keys', { key: token }), 401, 'invalid_admin_token');

    // Signed out: refused, with a code the console recognises.
    expect((await gw.request('DELETE', '/console/api/session', { key: token })).status).toBe(200);
    expectApiError(await gw.request('GET', '/v1/models', { key: token }), 401, 'session_expired', 'authentication_error');
  });

  it('exchanges the admin token for an operator session that works on /admin only', async () => {
    const answer = await session(gw.adminToken);
    expect(answer.status).toBe(201);
    expect(answer.body.role).toBe('operator');
    const token = answer.body.token as string;
    expect((await gw.request('GET', '/admin/console/accounts', { key: token })).status).toBe(200);
    expect((await gw.request('GET', '/admin/keys', { key: token })).status).toBe(200);
    expectApiError(await gw.request('GET', '/v1/models', { key: token }), 401, 'invalid_api_key');
  });

  it('refuses bad credentials, revoked keys and made-up sessions without a session', async () => {
    expectApiError(await session('sk-gw-not-a-key'), 401, 'invalid_api_key');
    expectApiError(await session(`${gw.adminToken}x`), 401, 'invalid_api_key');
    expectApiError(await gw.request('POST', '/console/api/session', { body: { credential: '' } }), 400, 'invalid_request');
    expectApiError(await gw.request('POST', '/console/api/session', { body: { key: 'x' } }), 400, 'invalid_request');
    expectApiError(await gw.request('GET', '/v1/models', { key: 'gwcs_madeup' }), 401, 'session_expired');

    const customer = await createCustomer(gw, { credits: 10 });
    const token = (await session(customer.key)).body.token as string;
    await gw.admin('DELETE', `/admin/keys/${customer.keyId}`);
    // The key cache lets a revoked key live at most 2 s; the session goes with its key.
    await new Promise((resolve) => setTimeout(resolve, 2100));
    expectApiError(await gw.request('GET', '/v1/models', { key: token }), 401, 'invalid_api_key');
    expectApiError(await session(customer.key), 401, 'invalid_api_key');
  });

  it('serves the console page with a CSP that forbids inline script, and its hashed assets', async () => {
    const page = await fetch(`${gw.url}/console`);
    expect(page.status).toBe(200);
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    expect(csp).toContain("default-src 'none'");
    const html = await page.text();
    const scripts = [...html.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBe(1);
    for (const [, attributes, body] of scripts) {
      expect(attributes).toMatch(/src="\/console\/assets\/app\.[0-9a-f]{12}\.js"/);
      expect(body).toBe('');
    }
    expect(html).not.toMatch(/https?:\/\/(?!127\.0\.0\.1)/);
    const script = await fetch(`${gw.url}${/src="([^"]+)"/.exec(scripts[0]![1]!)![1]}`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toMatch(/javascript/);
    expect((await script.text()).length).toBeGreaterThan(10_000);
    expectApiError(await gw.request('GET', '/console/assets/app.nothing.js'), 404, 'not_found');
  });

  it('lists tasks with filters and shows a timeline, scoped to the account', async () => {
    const image = await createMockModel(gw, { category: 'image', pricing: { per_image: 7 }, settings: { durationMs: 100 } });
    const video = await createMockModel(gw, { category: 'video', pricing: { per_second: 3 }, defaultDuration: 2, settings: { durationMs: 200 } });
    const mine = await createCustomer(gw, { credits: 1000 });
    const other = await createCustomer(gw, { credits: 1000 });
    const a = await gw.request('POST', '/v1/images/generations', { key: mine.key, body: { model: image.model, prompt: 'a cat', n: 2 } });
    const b = await gw.request('POST', '/v1/videos', { key: mine.key, body: { model: video.model, prompt: 'a fox', duration: 2 } });
    const c = await gw.request('POST', '/v1/videos', { key: other.key, body: { model: video.model, prompt: 'not yours', duration: 2 } });
    for (const [key, id] of [[mine.key, a.body.id], [mine.key, b.body.id], [other.key, c.body.id]] as const) {
      expect((await waitForTask(gw, key, id)).status).toBe('succeeded');
    }

    const all = await gw.request('GET', '/v1/console/tasks', { key: mine.key });
    expect(all.body.data.map((t: { id: string }) => t.id)).toEqual([b.body.id, a.body.id]);
    const videos = await gw.request('GET', '/v1/console/tasks?kind=video', { key: mine.key });
    expect(videos.body.data.map((t: { id: string }) => t.id)).toEqual([b.body.id]);
    expect(videos.body.data[0].output[0].content_type).toBe('video/mp4');
    const today = new Date().toISOString().slice(0, 10);
    expect((await gw.request('GET', `/v1/console/tasks?from=${today}&to=${today}`, { key: mine.key })).body.data).toHaveLength(2);
    expect((await gw.request('GET', '/v1/console/tasks?to=2000-01-01', { key: mine.key })).body.data).toHaveLength(0);
    expectApiError(await gw.request('GET', '/v1/console/tasks?from=yesterday', { key: mine.key }), 400, 'invalid_request');
    expectApiError(await gw.request('GET', `/v1/console/tasks/${c.body.id}`, { key: mine.key }), 404, 'task_not_found');

    const detail = await gw.request('GET', `/v1/console/tasks/${a.body.id}`, { key: mine.key });
    expect(detail.status).toBe(200);
    expect(detail.body.credits).toEqual({ reserved: 14, charged: 14, refunded: 0 });
    expect(detail.body.output).toHaveLength(2);
    expect(detail.body.timeline.map((e: { event: string }) => e.event)).toEqual(['created', 'attempt', 'final']);
    expect(detail.body.timeline[1]).toMatchObject({ outcome: 'submitted' });
    expect(detail.body.timeline[1].channel_id).toBeUndefined();
    expect(detail.body.channel_id).toBeUndefined();

    const operator = await gw.request('GET', `/admin/console/tasks/${a.body.id}`, { admin: true });
    expect(operator.body.timeline[1].channel_id).toBe(image.channelId);
    const everyone = await gw.request('GET', `/admin/console/tasks?model=${video.model}`, { admin: true });
    expect(everyone.body.data.map((t: { id: string }) => t.id).sort()).toEqual([b.body.id, c.body.id].sort());
    const one = await gw.request('GET', `/admin/console/tasks?model=${video.model}&account_id=${other.accountId}`, { admin: true });
    expect(one.body.data.map((t: { id: string }) => t.id)).toEqual([c.body.id]);
  });

  it('records the upstream cost of each usage row from the channel and sums revenue, cost and margin', async () => {
    const video = await createMockModel(gw, { category: 'video', pricing: { per_second: 10 }, defaultDuration: 2, settings: { durationMs: 100 } });
    const image = await createMockModel(gw, { category: 'image', pricing: { per_image: 9 }, settings: { durationMs: 100 } });
    // The video channel costs us 4 per second plus 1 per request; the image channel has no upstream pricing.
    const patched = await gw.admin('PATCH', `/admin/channels/${video.channelId}`, { upstream_pricing: { per_second: 4, per_request: 1 } });
    expect(patched.upstream_pricing).toEqual({ per_second: 4, per_request: 1 });
    expectApiError(await gw.request('PATCH', `/admin/channels/${video.channelId}`, { admin: true, body: { upstream_pricing: { per_second: -1 } } }), 400, 'invalid_request');

    const customer = await createCustomer(gw, { credits: 1000 });
    const ids: string[] = [];
    for (const body of [{ model: video.model, prompt: 'one', duration: 3 }, { model: video.model, prompt: 'two', duration: 2 }]) {
      ids.push((await gw.request('POST', '/v1/videos', { key: customer.key, body })).body.id);
    }
    ids.push((await gw.request('POST', '/v1/images/generations', { key: customer.key, body: { model: image.model, prompt: 'three' } })).body.id);
    ids.push((await gw.request('POST', '/v1/videos', { key: customer.key, body: { model: video.model, prompt: 'four [mock:fail]', duration: 2 } })).body.id);
    for (const id of ids) await waitForTask(gw, customer.key, id);

    const rows = await gw.gateway.orm.em.fork().getConnection().execute<{ ref: string; credits: string; upstream_cost: string | null; status: string }[]>(
      `select ref, credits, upstream_cost, status from usage_records where account_id = ? order by created_at`, [customer.accountId],
    );
    const byRef = new Map(rows.map((r) => [r.ref, r]));
    expect(byRef.get(ids[0]!)).toMatchObject({ credits: '30', upstream_cost: '13', status: 'succeeded' });
    expect(byRef.get(ids[1]!)).toMatchObject({ credits: '20', upstream_cost: '9' });
    expect(byRef.get(ids[2]!)).toMatchObject({ credits: '9', upstream_cost: null });
    expect(byRef.get(ids[3]!)).toMatchObject({ credits: '0', upstream_cost: '0', status: 'failed' });

    // A later price change leaves recorded costs alone.
    await gw.admin('PATCH', `/admin/channels/${video.channelId}`, { upstream_pricing: { per_second: 100 } });
    const money = await gw.request('GET', '/admin/console/money', { admin: true });
    expect(money.status).toBe(200);
    const mine = money.body.data.filter((r: { model: string }) => r.model === video.model || r.model === image.model);
    const today = new Date().toISOString().slice(0, 10);
    expect(mine).toEqual(expect.arrayContaining([
      { day: today, model: video.model, channel_id: video.channelId, requests: 3, revenue: 50, costed_revenue: 50, upstream_cost: 22, margin: 28, uncosted_requests: 0 },
      { day: today, model: image.model, channel_id: image.channelId, requests: 1, revenue: 9, costed_revenue: 0, upstream_cost: null, margin: null, uncosted_requests: 1 },
    ]));
    const sum = (field: string) => money.body.data.reduce((total: number, r: Record<string, number | null>) => total + (r[field] ?? 0), 0);
    for (const field of ['requests', 'revenue', 'costed_revenue', 'upstream_cost', 'margin', 'uncosted_requests']) {
      expect({ field, total: money.body.total[field] }).toEqual({ field, total: sum(field) });
    }
    expect(money.body.total.margin).toBe(money.body.total.costed_revenue - money.body.total.upstream_cost);
    expectApiError(await gw.request('GET', '/admin/console/money?from=2030-01-02&to=2030-01-01', { admin: true }), 400, 'invalid_request');
    expectApiError(await gw.request('GET', '/admin/console/money'), 401, 'invalid_admin_token');
  });

  it('tests a channel with one real call through its adapter', async () => {
    const ok = await createMockModel(gw, { category: 'image', pricing: { per_image: 1 }, settings: { durationMs: 100 } });
    const broken = await createMockModel(gw, { category: 'image', pricing: { per_image: 1 }, settings: { submitError: 500 } });
    const passed = await gw.request('POST', `/admin/console/channels/${ok.channelId}/test`, { admin: true, body: {} });
    expect(passed.status).toBe(200);
    expect(passed.body).toMatchObject({ ok: true, model: ok.model, kind: 'image', error: null });
    expect(passed.body.job_id).toEqual(expect.any(String));
    const failed = await gw.request('POST', `/admin/console/channels/${broken.channelId}/test`, { admin: true, body: {} });
    expect(failed.status).toBe(200);
    expect(failed.body).toMatchObject({ ok: false, model: broken.model, job_id: null, error: { code: expect.any(String) } });
    expectApiError(await gw.request('POST', '/admin/console/channels/ch_nope/test', { admin: true, body: {} }), 404, 'channel_not_found');
    expectApiError(await gw.request('POST', `/admin/console/channels/${ok.channelId}/test`, { admin: true, body: { model: 'other' } }), 400, 'invalid_request');

    // A chat channel: one completion of at most one token through the chat upstream client.
    const openai = await startOpenAIFake();
    try {
      const chat = uniqueId('chat');
      await gw.admin('POST', '/admin/models', { id: chat, category: 'chat', pricing: { per_1k_input_tokens: 1 } });
      const good = await gw.admin('POST', '/admin/channels', { name: 'chat ok', provider: 'openai', base_url: openai.url, api_key: openai.apiKey, models: { [chat]: 'gpt-test' } });
      const bad = await gw.admin('POST', '/admin/channels', { name: 'chat bad key', provider: 'openai', base_url: openai.url, api_key: 'sk-wrong-key-for-the-fake', models: [chat] });
      const chatOk = await gw.request('POST', `/admin/console/channels/${good.id}/test`, { admin: true, body: {} });
      expect(chatOk.body).toMatchObject({ ok: true, model: chat, kind: 'chat', status: '200', error: null });
      expect(openai.requests.at(-1)?.body).toMatchObject({ model: 'gpt-test', max_tokens: 1 });
      const chatBad = await gw.request('POST', `/admin/console/channels/${bad.id}/test`, { admin: true, body: {} });
      expect(chatBad.body).toMatchObject({ ok: false, kind: 'chat', error: { code: 'upstream_auth_failed' } });
      expect(JSON.stringify(chatBad.body)).not.toContain('sk-wrong-key-for-the-fake');
    } finally {
      await openai.close();
    }

    const health = await gw.request('GET', '/admin/console/channels/health', { admin: true });
    expect(health.status).toBe(200);
    expect(health.body.data.find((h: { channel_id: string }) => h.channel_id === ok.channelId)).toMatchObject({ circuit: { state: 'closed' }, requests: 0, failure_rate: null });
  });
});
