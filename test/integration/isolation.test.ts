import { randomBytes } from 'node:crypto';
import { hashApiKey } from '../../src/security/secrets';
import { startOpenAIFake, type OpenAIFake } from '../fakes/openai-fake';
import { createCustomer, createMockModel, startTestGateway, uniqueId, waitForTask, type TestGateway } from '../support/harness';
import { eventually, expectApiError, sql } from '../support/checks';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver';
import { digestDiff, stateDigest, walletOf } from '../support/state';
import { textOf } from '../support/leak-watch';

/**
 * Tenant isolation: a key reaches its own account's tasks, assets and usage and nothing else (another
 * account's are 404, never 403, so their existence does not leak); admin routes refuse consumer keys.
 * Secrets: consumer keys are stored hashed, webhook secrets and provider credentials encrypted, and no
 * answer, stored row or workflow history carries them in clear.
 */
describe('tenant isolation', () => {
  let gw: TestGateway;
  let model: string;
  let slowModel: string;
  let alice: Awaited<ReturnType<typeof createCustomer>>;
  let aliceSecondKey: { key: string; id: string };
  let bob: Awaited<ReturnType<typeof createCustomer>>;
  /** Alice's finished task (with an asset) and her still-running one. */
  let done: any;
  let running: string;

  beforeAll(async () => {
    gw = await startTestGateway();
    ({ model } = await createMockModel(gw, { category: 'image', pricing: { per_request: 5 }, settings: { durationMs: 100 } }));
    ({ model: slowModel } = await createMockModel(gw, { category: 'video', pricing: { per_request: 7 }, settings: { durationMs: 60_000 } }));
    alice = await createCustomer(gw, { credits: 1000 });
    const second = await gw.admin('POST', '/admin/keys', { account_id: alice.accountId, name: 'second' });
    aliceSecondKey = { key: second.key, id: second.id };
    bob = await createCustomer(gw, { credits: 1000 });
    const created = await gw.request('POST', '/v1/images/generations', { key: alice.key, body: { model, prompt: "alice's picture" }, headers: { 'idempotency-key': 'shared-key-1' } });
    expect(created.status).toBe(200);
    done = await waitForTask(gw, alice.key, created.body.id);
    expect(done.status).toBe('succeeded');
    const slow = await gw.request('POST', '/v1/videos', { key: alice.key, body: { model: slowModel, prompt: "alice's long video" } });
    expect(slow.status).toBe(200);
    running = slow.body.id;
  });
  afterAll(async () => {
    await gw?.stop();
  });

  /** The answer for a task id nobody has, to compare another account's answer against. */
  const unknownTaskId = () => `task_${randomBytes(10).toString('hex').slice(0, 20)}`;
  const withoutId = (message: string, id: string) => message.split(id).join('<id>');

  it("answers 404 task_not_found for another account's task, exactly as for a task that does not exist", async () => {
    const nobody = unknownTaskId();
    for (const [method, suffix] of [['GET', ''], ['GET', '?wait=5'], ['POST', '/cancel']] as const) {
      for (const taskId of [done.id, running]) {
        const started = Date.now();
        const theirs = await gw.request(method, `/v1/tasks/${taskId}${suffix}`, { key: bob.key });
        const none = await gw.request(method, `/v1/tasks/${nobody}${suffix}`, { key: bob.key });
        expectApiError(theirs, 404, 'task_not_found', 'gateway_error');
        expectApiError(none, 404, 'task_not_found', 'gateway_error');
        expect(withoutId(theirs.body.error.message, taskId)).toBe(withoutId(none.body.error.message, nobody));
        // A long poll on someone else's task does not wait: it never sees the task.
        expect(Date.now() - started).toBeLessThan(2500);
      }
    }
    // Bob's cancel did nothing: Alice's video still runs and her hold is still there.
    const mine = await gw.request('GET', `/v1/tasks/${running}`, { key: alice.key });
    expect(mine.status).toBe(200);
    expect(['pending', 'queued', 'processing']).toContain(mine.body.status);
    expect(mine.body.credits).toMatchObject({ reserved: 7, refunded: 0 });
    expect((await walletOf(gw, alice.accountId)).reserved).toBe(7);
  });

  it("keeps another account's tasks out of lists, and refuses its ids as a cursor like unknown ones", async () => {
    const own = await gw.request('POST', '/v1/images/generations', { key: bob.key, body: { model, prompt: "bob's picture" } });
    expect(own.status).toBe(200);
    await waitForTask(gw, bob.key, own.body.id);
    for (const query of ['', '?limit=100', `?model=${model}`, `?model=${slowModel}`, '?status=succeeded', '?kind=video']) {
      const list = await gw.request('GET', `/v1/tasks${query}`, { key: bob.key });
      expect(list.status).toBe(200);
      const ids = list.body.data.map((task: { id: string }) => task.id);
      expect(ids).not.toContain(done.id);
      expect(ids).not.toContain(running);
    }
    const asCursor = await gw.request('GET', `/v1/tasks?after=${done.id}`, { key: bob.key });
    const unknownCursor = await gw.request('GET', `/v1/tasks?after=${unknownTaskId()}`, { key: bob.key });
    expectApiError(asCursor, 400, 'invalid_request', 'invalid_request_error');
    expect(asCursor.body).toEqual(unknownCursor.body);
  });

  it("lets every key of an account see the account's tasks", async () => {
    const read = await gw.request('GET', `/v1/tasks/${done.id}`, { key: aliceSecondKey.key });
    expect(read.status).toBe(200);
    expect(read.body).toEqual(done);
    const list = await gw.request('GET', '/v1/tasks?limit=100', { key: aliceSecondKey.key });
    expect(list.body.data.map((task: { id: string }) => task.id)).toEqual(expect.arrayContaining([done.id, running]));
  });

  it("scopes Idempotency-Key to the account: the same key and body from another account make another task", async () => {
    const before = await walletOf(gw, alice.accountId);
    const replay = await gw.request('POST', '/v1/images/generations', { key: bob.key, body: { model, prompt: "alice's picture" }, headers: { 'idempotency-key': 'shared-key-1' } });
    expect(replay.status).toBe(200);
    expect(replay.body.id).not.toBe(done.id);
    const bobs = await waitForTask(gw, bob.key, replay.body.id);
    expect(bobs.credits.charged).toBe(5);
    expect(await walletOf(gw, alice.accountId)).toEqual(before);
    const alices = await gw.request('GET', `/v1/tasks/${done.id}`, { key: alice.key });
    expect(alices.body).toEqual(done);
  });

  it("does not open an asset without its signature, with another asset's signature, or with an API key", async () => {
    const link = new URL(done.output[0].url);
    const assetId = link.pathname.split('/').pop()!;
    expect((await fetch(link)).status).toBe(200);
    const other = await gw.request('POST', '/v1/images/generations', { key: bob.key, body: { model, prompt: 'another asset' } });
    const otherTask = await waitForTask(gw, bob.key, other.body.id);
    const otherSig = new URL(otherTask.output[0].url).searchParams.get('sig')!;
    const attempts: [string, Record<string, string>][] = [
      [`/assets/${assetId}`, {}],
      [`/assets/${assetId}`, { authorization: `Bearer ${alice.key}` }],
      [`/assets/${assetId}?sig=${otherSig}`, {}],
      [`/assets/${assetId}?sig=${otherSig}`, { authorization: `Bearer ${bob.key}` }],
      [`/assets/${assetId}?sig=`, {}],
      [`/assets/${assetId}?sig=${link.searchParams.get('sig')!.slice(0, -1)}`, {}],
      [`/v1/assets/${assetId}`, { authorization: `Bearer ${bob.key}` }],
    ];
    for (const [path, headers] of attempts) {
      const answer = await gw.request('GET', path, { headers });
      expect({ path, status: answer.status }).toEqual({ path, status: 404 });
      expect(typeof answer.body?.error?.code).toBe('string');
    }
  });

  it("shows a key's usage only: another account's spending never appears", async () => {
    const spentBy = async (keyId: string) =>
      (await sql<{ credits: string }>(gw, 'select credits from usage_records where api_key_id = ?', [keyId])).reduce((n, row) => n + Number(row.credits), 0);
    for (const [who, other] of [[alice, bob], [bob, alice]] as const) {
      const usage = await gw.request('GET', '/v1/usage', { key: who.key });
      expect(usage.status).toBe(200);
      expect(usage.body.key_id).toBe(who.keyId);
      expect(usage.body.total.credits).toBe(await spentBy(who.keyId));
      expect(usage.body.total.credits).toBeGreaterThan(0);
      expect(JSON.stringify(usage.body)).not.toContain(other.keyId);
    }
  });

  it('refuses consumer keys on every admin route with 401, changing nothing', async () => {
    const routes: [string, string, unknown?][] = [
      ['POST', '/admin/accounts', { name: 'evil', credits: 1_000_000 }],
      ['GET', `/admin/accounts/${alice.accountId}`],
      ['POST', `/admin/accounts/${bob.accountId}/credits`, { amount: 1_000_000 }],
      ['POST', '/admin/keys', { account_id: alice.accountId, name: 'stolen' }],
      ['GET', '/admin/keys'],
      ['GET', `/admin/keys/${alice.keyId}`],
      ['PATCH', `/admin/keys/${bob.keyId}`, { rpm: null, models: null, budget: null }],
      ['DELETE', `/admin/keys/${alice.keyId}`],
      ['POST', `/admin/keys/${alice.keyId}/rotate`],
      ['POST', '/admin/models', { id: uniqueId('evil'), category: 'image', pricing: { per_request: 0 } }],
      ['GET', '/admin/models'],
      ['POST', '/admin/channels', { name: 'evil', provider: 'mock', models: [model], priority: 1_000_000 }],
      ['GET', '/admin/channels'],
      ['GET', `/admin/tasks/${done.id}`],
      ['GET', `/admin/usage?account_id=${alice.accountId}`],
      ['GET', '/admin/nothing-here'],
    ];
    const before = await stateDigest(gw);
    for (const [method, path, body] of routes) {
      const credentials: Record<string, string>[] = [{ authorization: `Bearer ${bob.key}` }, { 'x-api-key': bob.key }, { authorization: `Bearer ${alice.key}`, 'x-api-key': gw.adminToken }, {}];
      for (const headers of credentials) {
        const answer = await gw.request(method, path, { headers, body });
        expectApiError(answer, 401, 'invalid_admin_token', 'authentication_error');
      }
    }
    // ...and the admin token is no consumer key either.
    expectApiError(await gw.request('GET', '/v1/tasks', { key: gw.adminToken }), 401, 'invalid_api_key', 'authentication_error');
    expect(digestDiff(before, await stateDigest(gw)).filter((table) => !table.startsWith('tasks') && !table.startsWith('channel_health'))).toEqual([]);
  });

  it('stops a revoked key from reading the tasks it created', async () => {
    const temp = await gw.admin('POST', '/admin/keys', { account_id: bob.accountId, name: 'temporary' });
    const created = await gw.request('POST', '/v1/images/generations', { key: temp.key, body: { model, prompt: 'then revoked' } });
    expect(created.status).toBe(200);
    await gw.admin('DELETE', `/admin/keys/${temp.id}`);
    await eventually('the revocation to take effect', async () => (await gw.request('GET', `/v1/tasks/${created.body.id}`, { key: temp.key })).status === 401, 5000);
    expectApiError(await gw.request('GET', '/v1/tasks', { key: temp.key }), 401, 'invalid_api_key', 'authentication_error');
    // The account's other keys still see the task: it belongs to the account, not to the key.
    expect((await gw.request('GET', `/v1/tasks/${created.body.id}`, { key: bob.key })).status).toBe(200);
  });
});

describe('secrets', () => {
  let gw: TestGateway;
  let fake: OpenAIFake;
  let receiver: WebhookReceiver;
  let customer: Awaited<ReturnType<typeof createCustomer>>;
  let imageModel: string;
  let chatModel: string;
  let channelId: string;

  beforeAll(async () => {
    gw = await startTestGateway();
    fake = await startOpenAIFake();
    receiver = await startWebhookReceiver();
    imageModel = uniqueId('img');
    chatModel = uniqueId('chat');
    await gw.admin('POST', '/admin/models', { id: imageModel, category: 'image', pricing: { per_image: 3 } });
    await gw.admin('POST', '/admin/models', { id: chatModel, category: 'chat', pricing: { per_1k_input_tokens: 1, per_1k_output_tokens: 1 } });
    const channel = await gw.admin('POST', '/admin/channels', {
      name: 'secret openai', provider: 'openai', base_url: fake.url, api_key: fake.apiKey, models: { [imageModel]: 'gpt-image-1', [chatModel]: 'gpt-4o-mini' },
    });
    channelId = channel.id;
    expect(JSON.stringify(channel)).not.toContain(fake.apiKey);
    customer = await createCustomer(gw, { credits: 10_000 });
  });
  afterEach(() => fake.reset());
  afterAll(async () => {
    await receiver?.stop();
    await fake?.close();
    await gw?.stop();
  });

  /** Every public table's rows as text. */
  async function databaseText(): Promise<string> {
    const tables = await sql<{ table_name: string }>(gw, "select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'");
    const parts: string[] = [];
    for (const { table_name: table } of tables) {
      const rows = await sql<{ row: string }>(gw, `select t::text as row from "${table}" t`);
      parts.push(...rows.map((r) => r.row));
    }
    return parts.join('\n');
  }

  it('stores the consumer key as its SHA-256 and the webhook secret and provider credential encrypted, nowhere in clear', async () => {
    const created = await gw.request('POST', '/v1/images/generations', { key: customer.key, body: { model: imageModel, prompt: 'a vault', callback_url: receiver.url('/secrets') } });
    expect(created.status).toBe(200);
    expect((await waitForTask(gw, customer.key, created.body.id)).status).toBe('succeeded');
    await receiver.waitFor(1, (hook) => hook.path === '/secrets');

    const [key] = await sql<{ key_hash: string; prefix: string; webhook_secret_enc: string }>(gw, 'select key_hash, prefix, webhook_secret_enc from api_keys where id = ?', [customer.keyId]);
    expect(key!.key_hash).toBe(hashApiKey(customer.key));
    expect(customer.key.startsWith(key!.prefix)).toBe(true);
    expect(key!.prefix.length).toBeLessThanOrEqual(12);
    expect(gw.gateway.box.open(key!.webhook_secret_enc)).toBe(customer.webhookSecret);
    const [channel] = await sql<{ api_key_enc: string }>(gw, 'select api_key_enc from channels where id = ?', [channelId]);
    expect(gw.gateway.box.open(channel!.api_key_enc)).toBe(fake.apiKey);

    const stored = await databaseText();
    const webhookKey = customer.webhookSecret.replace(/^whsec_/, '');
    for (const [what, secret] of [['consumer key', customer.key], ['webhook secret', webhookKey], ['provider key', fake.apiKey], ['gateway secret', gw.secret]] as const) {
      expect({ what, inDatabase: stored.includes(secret) }).toEqual({ what, inDatabase: false });
    }

    // The workflow's history lives in Temporal's database: activities load secrets themselves.
    const history = textOf(await gw.gateway.temporal.workflow.getHandle(created.body.id).fetchHistory());
    expect(history).toContain(imageModel);
    for (const [what, secret] of [['consumer key', customer.key], ['webhook secret', webhookKey], ['provider key', fake.apiKey]] as const) {
      expect({ what, inHistory: history.includes(secret) }).toEqual({ what, inHistory: false });
    }
  });

  it('never shows a key, webhook secret or provider credential again after creation', async () => {
    const answers = [
      await gw.request('GET', '/admin/keys', { admin: true }),
      await gw.request('GET', `/admin/keys/${customer.keyId}`, { admin: true }),
      await gw.request('PATCH', `/admin/keys/${customer.keyId}`, { admin: true, body: { name: 'renamed' } }),
      await gw.request('GET', '/admin/channels', { admin: true }),
      await gw.request('GET', `/admin/channels/${channelId}`, { admin: true }),
      await gw.request('PATCH', `/admin/channels/${channelId}`, { admin: true, body: { name: 'renamed' } }),
    ];
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      const text = JSON.stringify(answer.body);
      for (const secret of [customer.key, customer.webhookSecret, fake.apiKey]) expect(text).not.toContain(secret);
    }
  });

  it('keeps the provider key out of error answers and task errors even when the provider echoes it', async () => {
    const echo = (what: string) => `${what}: the request with key ${fake.apiKey} (Authorization: Bearer ${fake.apiKey}) to ${fake.url} failed`;
    const leaks: string[] = [];
    const check = (where: string, text: string) => {
      for (const secret of [fake.apiKey, fake.apiKey.slice(8, 40), customer.key, customer.webhookSecret]) {
        if (text.includes(secret)) leaks.push(`${where}: ${text.slice(0, 300)}`);
      }
    };

    for (const kind of ['invalid', 'unauthorized', 'server_error', 'rate_limited', 'unavailable'] as const) {
      for (const stream of [false, true]) {
        fake.reset().failNext('chat', { kind, message: echo(kind) });
        const answer = await gw.request('POST', '/v1/chat/completions', {
          key: customer.key,
          body: { model: chatModel, messages: [{ role: 'user', content: 'hi' }], max_tokens: 5, stream },
        });
        expect(answer.status).toBeGreaterThanOrEqual(400);
        check(`chat ${kind} stream=${stream} -> ${answer.status}`, typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body));
      }
    }
    // The channel may have been disabled by the 401 above: bring it back for the media task.
    await gw.admin('PATCH', `/admin/channels/${channelId}`, { enabled: true });

    fake.reset().failNext('submit', { kind: 'invalid', message: echo('invalid image request') });
    const created = await gw.request('POST', '/v1/images/generations', { key: customer.key, body: { model: imageModel, prompt: 'leak?' } });
    expect(created.status).toBe(200);
    const task = await waitForTask(gw, customer.key, created.body.id);
    expect(task.status).toBe('failed');
    check('task error', JSON.stringify(task));
    check('admin task view', JSON.stringify((await gw.request('GET', `/admin/tasks/${task.id}`, { admin: true })).body));

    // Our own refusals don't echo a presented key either.
    const presented = `sk-gw-${randomBytes(30).toString('base64url')}`;
    const refused = await gw.request('GET', '/v1/tasks', { key: presented });
    expectApiError(refused, 401, 'invalid_api_key');
    expect(JSON.stringify(refused.body)).not.toContain(presented);
    const refusedAdmin = await gw.request('GET', '/admin/keys', { key: presented });
    expect(JSON.stringify(refusedAdmin.body)).not.toContain(presented);
    expect(leaks).toEqual([]);
  });
});
