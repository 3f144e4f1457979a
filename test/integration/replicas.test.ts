import { freePort } from '../../src/infra/ports';
import { LEASE_FRACTION } from '../../src/limits/shared-buckets';
import { spawnApi, type ApiProcess } from '../chaos/support/api-process';
import { createCustomer, startTestGateway, type TestGateway } from '../support/harness';
import { eventually } from '../support/checks';

/**
 * Several API processes over one database, as replicas behind a balancer: admin changes made through
 * one reach the others through PostgreSQL NOTIFY, and a key's rpm holds across all of them.
 */
describe('API replicas', () => {
  let gw: TestGateway;
  const apis: ApiProcess[] = [];

  beforeAll(async () => {
    gw = await startTestGateway({ runWorker: false });
    // A cache TTL of 10 minutes: within this test, only a notification can make a replica see a change.
    for (let i = 0; i < 3; i++) apis.push(await spawnApi(gw, await freePort(), { CACHE_TTL_MS: '600000' }));
  }, 240_000);
  afterAll(async () => {
    await Promise.all(apis.map((api) => api.kill()));
    await gw?.stop();
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
});
