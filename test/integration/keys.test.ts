import { createCustomer, createMockModel, startTestGateway, waitForTask, type TestGateway } from '../support/harness';
import { hashApiKey } from '../../src/security/secrets';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Consumer keys: limits enforced through the real API, and not enforced where they should not be. */
describe('consumer keys', () => {
  let gw: TestGateway;
  let image: string;

  beforeAll(async () => {
    gw = await startTestGateway();
    image = (await createMockModel(gw, { category: 'image', pricing: { per_image: 10 }, settings: { durationMs: 200 } })).model;
  });
  afterAll(async () => {
    await gw?.stop();
  });

  const createImage = (key: string, extra: Record<string, string> = {}) =>
    gw.request('POST', '/v1/images/generations', { key, body: { model: image, prompt: 'a cat' }, headers: extra });

  it('shows the key once, stores only its hash, and lists it by prefix', async () => {
    const customer = await createCustomer(gw, { credits: 10 });
    expect(customer.key).toMatch(/^sk-gw-/);
    expect(customer.webhookSecret).toMatch(/^whsec_/);
    const rows = await gw.gateway.orm.em.fork().getConnection().execute(`select key_hash, prefix, webhook_secret_enc from api_keys where id = ?`, [customer.keyId]);
    expect(rows[0].key_hash).toBe(hashApiKey(customer.key));
    expect(JSON.stringify(rows)).not.toContain(customer.key);
    expect(JSON.stringify(rows)).not.toContain(customer.webhookSecret.slice(6));
    const listed = await gw.admin('GET', `/admin/keys?account_id=${customer.accountId}`);
    expect(listed.data).toHaveLength(1);
    expect(listed.data[0]).toMatchObject({ id: customer.keyId, prefix: customer.key.slice(0, 12) });
    expect(JSON.stringify(listed)).not.toContain(customer.key);
  });

  it('limits models by exact id and wildcard, in GET /v1/models too', async () => {
    const customer = await createCustomer(gw, { credits: 100, key: { models: ['m-image-*'] } });
    expect((await createImage(customer.key)).status).toBe(200);
    const video = await createMockModel(gw, { category: 'video', pricing: { per_second: 1 } });
    const refused = await gw.request('POST', '/v1/videos', { key: customer.key, body: { model: video.model, prompt: 'x' } });
    expect(refused.status).toBe(403);
    expect(refused.body.error).toMatchObject({ code: 'model_not_allowed', type: 'permission_error' });
    const models = await gw.request('GET', '/v1/models', { key: customer.key });
    const ids = models.body.data.map((m: { id: string }) => m.id);
    expect(ids).toContain(image);
    expect(ids).not.toContain(video.model);
    expect(ids.every((id: string) => id.startsWith('m-image-'))).toBe(true);
  });

  it('enforces the IP allowlist on the socket address', async () => {
    const outside = await createCustomer(gw, { credits: 100, key: { ip_allowlist: ['10.0.0.0/8', '2001:db8::/32'] } });
    const refused = await createImage(outside.key);
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('ip_not_allowed');
    // An untrusted X-Forwarded-For is ignored: the socket (127.0.0.1) decides.
    const spoofed = await createImage(outside.key, { 'x-forwarded-for': '10.1.2.3' });
    expect(spoofed.status).toBe(403);
    const inside = await createCustomer(gw, { credits: 100, key: { ip_allowlist: ['127.0.0.1'] } });
    expect((await createImage(inside.key)).status).toBe(200);
  });

  it('believes X-Forwarded-For only from a trusted proxy, with IPv6 CIDRs', async () => {
    const proxied = await startTestGateway({ env: { TRUSTED_PROXIES: '127.0.0.1/32' } });
    try {
      const model = (await createMockModel(proxied, { category: 'image', pricing: { per_image: 1 } })).model;
      const customer = await createCustomer(proxied, { credits: 100, key: { ip_allowlist: ['2001:db8::/32'] } });
      const call = (xff?: string) =>
        proxied.request('POST', '/v1/images/generations', { key: customer.key, body: { model, prompt: 'x' }, headers: xff ? { 'x-forwarded-for': xff } : {} });
      expect((await call('2001:db8:0:1::5')).status).toBe(200);
      expect((await call('198.51.100.7, 2001:db8::9')).status).toBe(200);
      const outside = await call('2001:dead::1');
      expect(outside.status).toBe(403);
      expect(outside.body.error.code).toBe('ip_not_allowed');
      expect((await call()).status).toBe(403);
    } finally {
      await proxied.stop();
    }
  });

  it('accepts an IPv6 client by CIDR on the socket address', async () => {
    const v6 = await startTestGateway({ env: { HOST: '::1' } });
    try {
      const model = (await createMockModel(v6, { category: 'image', pricing: { per_image: 1 } })).model;
      const customer = await createCustomer(v6, { credits: 100, key: { ip_allowlist: ['::1/128'] } });
      const other = await createCustomer(v6, { credits: 100, key: { ip_allowlist: ['fd00::/8'] } });
      const port = new URL(v6.url).port;
      const call = (key: string) =>
        fetch(`http://[::1]:${port}/v1/images/generations`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model, prompt: 'x' }),
        });
      expect((await call(customer.key)).status).toBe(200);
      expect((await call(other.key)).status).toBe(403);
    } finally {
      await v6.stop();
    }
  });

  it('answers 429 with Retry-After past the key rpm', async () => {
    const customer = await createCustomer(gw, { credits: 1000, key: { rpm: 3 } });
    const statuses: number[] = [];
    let limited: Awaited<ReturnType<typeof gw.request>> | undefined;
    for (let i = 0; i < 5; i++) {
      const response = await gw.request('GET', '/v1/models', { key: customer.key });
      statuses.push(response.status);
      if (response.status === 429) limited = response;
    }
    expect(statuses.slice(0, 3)).toEqual([200, 200, 200]);
    expect(statuses.slice(3)).toEqual([429, 429]);
    expect(limited!.body.error).toMatchObject({ code: 'rate_limit_exceeded', type: 'gateway_error' });
    expect(Number(limited!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // Another key is not affected.
    const other = await createCustomer(gw, { credits: 10 });
    expect((await gw.request('GET', '/v1/models', { key: other.key })).status).toBe(200);
  });

  it('refuses expired keys, and revoked or rotated keys at once', async () => {
    const expired = await createCustomer(gw, { credits: 10, key: { expires_at: new Date(Date.now() - 1000).toISOString() } });
    const expiredCall = await gw.request('GET', '/v1/models', { key: expired.key });
    expect(expiredCall.status).toBe(401);
    expect(expiredCall.body.error.type).toBe('authentication_error');

    const revoked = await createCustomer(gw, { credits: 10 });
    expect((await gw.request('GET', '/v1/models', { key: revoked.key })).status).toBe(200);
    await gw.admin('DELETE', `/admin/keys/${revoked.keyId}`);
    expect((await gw.request('GET', '/v1/models', { key: revoked.key })).status).toBe(401);

    const rotated = await createCustomer(gw, { credits: 10, key: { models: [image], rpm: 100 } });
    expect((await gw.request('GET', '/v1/models', { key: rotated.key })).status).toBe(200);
    const fresh = await gw.admin('POST', `/admin/keys/${rotated.keyId}/rotate`);
    expect(fresh.key).not.toBe(rotated.key);
    expect(fresh).toMatchObject({ id: rotated.keyId, models: [image], rpm: 100 });
    expect((await gw.request('GET', '/v1/models', { key: rotated.key })).status).toBe(401);
    expect((await gw.request('GET', '/v1/models', { key: fresh.key })).status).toBe(200);
  });

  it('holds a key budget under 50 parallel requests exactly as the wallet does', async () => {
    const customer = await createCustomer(gw, { credits: 100_000, key: { budget: 100 } });
    const responses = await Promise.all(Array.from({ length: 50 }, () => createImage(customer.key)));
    const admitted = responses.filter((r) => r.status === 200);
    const refused = responses.filter((r) => r.status === 402);
    expect(admitted).toHaveLength(10);
    expect(refused).toHaveLength(40);
    for (const r of refused) expect(r.body.error.code).toBe('budget_exceeded');
    for (const r of admitted) await waitForTask(gw, customer.key, r.body.id);
    const key = await gw.admin('GET', `/admin/keys/${customer.keyId}`);
    expect(key).toMatchObject({ budget_spent: 100, budget_reserved: 0 });
    const account = await gw.admin('GET', `/admin/accounts/${customer.accountId}`);
    expect(account).toMatchObject({ balance: 100_000 - 100, reserved: 0 });
    // A failed task gives its budget back too.
    const raised = await gw.admin('PATCH', `/admin/keys/${customer.keyId}`, { budget: 110 });
    expect(raised.budget).toBe(110);
    const failing = await gw.request('POST', '/v1/images/generations', { key: customer.key, body: { model: image, prompt: 'x [mock:fail]' } });
    expect(failing.status).toBe(200);
    expect((await waitForTask(gw, customer.key, failing.body.id)).status).toBe('failed');
    expect(await gw.admin('GET', `/admin/keys/${customer.keyId}`)).toMatchObject({ budget_spent: 100, budget_reserved: 0 });
  });

  it('enforces a monthly budget', async () => {
    const customer = await createCustomer(gw, { credits: 1000, key: { budget_monthly: 30 } });
    const responses = await Promise.all(Array.from({ length: 6 }, () => createImage(customer.key)));
    expect(responses.filter((r) => r.status === 200)).toHaveLength(3);
    expect(responses.filter((r) => r.status === 402).every((r) => r.body.error.code === 'budget_exceeded')).toBe(true);
  });

  it('reports usage whose totals equal the ledger charges', async () => {
    const customer = await createCustomer(gw, { credits: 1000 });
    const ok1 = await createImage(customer.key);
    const ok2 = await gw.request('POST', '/v1/images/generations', { key: customer.key, body: { model: image, prompt: 'y', n: 3 } });
    const bad = await gw.request('POST', '/v1/images/generations', { key: customer.key, body: { model: image, prompt: 'z [mock:fail]' } });
    for (const r of [ok1, ok2, bad]) await waitForTask(gw, customer.key, r.body.id);
    const usage = await gw.request('GET', '/v1/usage', { key: customer.key });
    expect(usage.status).toBe(200);
    expect(usage.body.total).toEqual({ requests: 3, credits: 40 });
    expect(usage.body.data).toHaveLength(1);
    expect(usage.body.data[0]).toMatchObject({ model: image, requests: 3, credits: 40, units: { images: 4 } });
    const ledger = await gw.gateway.orm.em.fork().getConnection().execute(
      `select coalesce(sum(amount), 0)::int as captured from ledger_entries where account_id = ? and kind = 'capture'`,
      [customer.accountId],
    );
    expect(ledger[0].captured).toBe(usage.body.total.credits);
    const empty = await gw.request('GET', `/v1/usage?from=2020-01-01T00:00:00Z&to=2020-02-01T00:00:00Z`, { key: customer.key });
    expect(empty.body.total).toEqual({ requests: 0, credits: 0 });
    const badRange = await gw.request('GET', `/v1/usage?from=yesterday`, { key: customer.key });
    expect(badRange.status).toBe(400);
  });
});
