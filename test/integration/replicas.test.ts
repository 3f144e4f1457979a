import { freePort } from '../../src/infra/ports';
import { LEASE_FRACTION } from '../../src/limits/shared-buckets';
import { spawnApi, type ApiProcess } from '../chaos/support/api-process';
import { createCustomer, startTestGateway, uniqueId, type TestGateway } from '../support/harness';
import { startOpenAIFake, type OpenAIFake } from '../fakes/openai-fake';
import { eventually } from '../support/checks';

/**
 * Several API processes over one database, as replicas behind a balancer: admin changes made through
 * one reach the others through PostgreSQL NOTIFY, and a key's rpm holds across all of them.
 */
describe('API replicas', () => {
  let gw: TestGateway;
  let upstream: OpenAIFake;
  const apis: ApiProcess[] = [];

  beforeAll(async () => {
    gw = await startTestGateway({ runWorker: false });
    upstream = await startOpenAIFake();
    // A cache TTL of 10 minutes: within this test, only a notification can make a replica see a change.
    for (let i = 0; i < 3; i++) apis.push(await spawnApi(gw, await freePort(), { CACHE_TTL_MS: '600000' }));
  }, 240_000);
  afterAll(async () => {
    await Promise.all(apis.map((api) => api.kill()));
    await Promise.all([gw?.stop(), upstream?.close()]);
  });

  const get = (url: string, route: string, key: string) => fetch(`${url}${route}`, { headers: { authorization: `Bearer ${key}` } });

  it('sees a key revoked on another replica at once, although its cache would keep it for 10 minutes', async () => {
    const [a, b] = apis;
    const customer = await createCustomer(gw, { credits: 10 });
    // Both replicas have the key cached.
    expect((await get(a!.url, '/v1/models', customer.key)).status).toBe(200);
    expect((await get(b!.url, '/v1/models', customer.key)).status).toBe(200);

    const revoke = await fetch(`${a!.url}/admin/keys/${customer.keyId}`, { method: 'DELETE', headers: { authorization: `Bearer ${gw.adminToken}` } });
    expect(revoke.status).toBe(200);
    const revokedAt = Date.now();
    // The replica that revoked it refuses it before the DELETE returned.
    expect((await get(a!.url, '/v1/models', customer.key)).status).toBe(401);
    // The other gets a notification a few milliseconds later (loosely measured: a shared machine).
    await eventually('replica B refusing the revoked key', async () => (await get(b!.url, '/v1/models', customer.key)).status === 401, 10_000, 10);
    const seenAfterMs = Date.now() - revokedAt;
    expect(seenAfterMs).toBeLessThan(600_000);
    process.stdout.write(`revoke seen by replica B after ~${seenAfterMs} ms\n`);
  });

  it("applies a key's new IP allowlist and its rotation on every replica at once", async () => {
    const customer = await createCustomer(gw, { credits: 10 });
    for (const api of apis) expect((await get(api.url, '/v1/models', customer.key)).status).toBe(200);
    // Changed through the in-process gateway: the spawned replicas only hear of it by NOTIFY.
    await gw.admin('PATCH', `/admin/keys/${customer.keyId}`, { ip_allowlist: ['10.0.0.0/8'] });
    for (const api of apis) {
      await eventually(`replica ${api.url} applying the allowlist`, async () => (await get(api.url, '/v1/models', customer.key)).status === 403, 10_000, 10);
    }
    const rotated = await gw.admin('POST', `/admin/keys/${customer.keyId}/rotate`);
    for (const api of apis) {
      await eventually(`replica ${api.url} refusing the rotated-away secret`, async () => (await get(api.url, '/v1/models', customer.key)).status === 401, 10_000, 10);
      expect((await get(api.url, '/v1/models', rotated.key)).status).toBe(403);
    }
  });

  it('holds a key rpm within 10% across three replicas', async () => {
    const rpm = 300;
    const customer = await createCustomer(gw, { credits: 10, key: { rpm } });
    const started = Date.now();
    let admitted = 0;
    let refused = 0;
    // Round robin over the three replicas, 3 requests in flight per replica, twice the limit in all.
    const total = rpm * 2;
    let next = 0;
    await Promise.all(Array.from({ length: 9 }, async (_, worker) => {
      while (next < total) {
        next++;
        const response = await get(apis[worker % 3]!.url, '/v1/models', customer.key);
        await response.arrayBuffer();
        if (response.status === 200) admitted++;
        else if (response.status === 429) refused++;
        else throw new Error(`unexpected ${response.status}`);
      }
    }));
    const seconds = (Date.now() - started) / 1000;
    // The bucket: rpm at once, then rpm/60 a second while the burst lasted.
    const allowed = rpm + (rpm / 60) * seconds;
    process.stdout.write(`rpm ${rpm}: ${admitted} admitted, ${refused} refused in ${seconds.toFixed(1)} s (bucket allowed ${allowed.toFixed(0)}; share ${Math.ceil(rpm * LEASE_FRACTION)})\n`);
    expect(admitted + refused).toBe(total);
    expect(admitted).toBeLessThanOrEqual(Math.ceil(allowed * 1.1));
    expect(admitted).toBeGreaterThanOrEqual(Math.floor(rpm * 0.9));
  });

  /** A chat model on one channel pointing at the fake upstream. */
  async function chatModel() {
    const model = uniqueId('chat');
    await gw.admin('POST', '/admin/models', { id: model, category: 'chat', pricing: { per_1k_input_tokens: 1, per_1k_output_tokens: 1 } });
    const channel = await gw.admin('POST', '/admin/channels', {
      name: `${model} upstream`, provider: 'openai', base_url: upstream.url, api_key: upstream.apiKey, models: [model],
    });
    return { model, channelId: channel.id as string };
  }

  const chat = (url: string, key: string, model: string, text = 'hello there') => fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: text }], max_tokens: 16 }),
  });

  it('stops routing to a channel disabled through another process, on every replica at once', async () => {
    const { model, channelId } = await chatModel();
    const customer = await createCustomer(gw, { credits: 100_000 });
    for (const api of apis) expect((await chat(api.url, customer.key, model)).status).toBe(200);
    await gw.admin('PATCH', `/admin/channels/${channelId}`, { enabled: false });
    for (const api of apis) {
      await eventually(`replica ${api.url} dropping the disabled channel`, async () => {
        const response = await chat(api.url, customer.key, model);
        return response.status === 503 && ((await response.json()) as { error: { code: string } }).error.code === 'no_channel_available';
      }, 10_000, 10);
    }
  });

  it('holds a key tpm within 10% across three replicas (chat tokens counted from the answers)', async () => {
    const { model } = await chatModel();
    const tpm = 3000;
    const customer = await createCustomer(gw, { credits: 1_000_000, key: { tpm } });
    const started = Date.now();
    let admittedTokens = 0;
    let biggest = 0;
    let refused = 0;
    let sent = 0;
    const inFlight = 6;
    await Promise.all(Array.from({ length: inFlight }, async (_, worker) => {
      while (sent < 400) {
        sent++;
        const response = await chat(apis[worker % 3]!.url, customer.key, model, `tell me about ${sent}`);
        const body = (await response.json()) as { usage?: { total_tokens: number } };
        if (response.status === 200) {
          const tokens = body.usage!.total_tokens;
          admittedTokens += tokens;
          biggest = Math.max(biggest, tokens);
        } else if (response.status === 429) refused++;
        else throw new Error(`unexpected ${response.status}: ${JSON.stringify(body)}`);
      }
    }));
    const seconds = (Date.now() - started) / 1000;
    const allowed = tpm + (tpm / 60) * seconds;
    process.stdout.write(`tpm ${tpm}: ${admittedTokens} tokens admitted, ${refused} refused in ${seconds.toFixed(1)} s (bucket allowed ${allowed.toFixed(0)}, biggest request ${biggest})\n`);
    expect(refused).toBeGreaterThan(0);
    // Charged after the answer: the requests in flight when the share ran out may pass it, each by one answer.
    expect(admittedTokens).toBeLessThanOrEqual(Math.ceil(allowed * 1.1) + inFlight * biggest);
    expect(admittedTokens).toBeGreaterThanOrEqual(Math.floor(tpm * 0.9));
  });
});
