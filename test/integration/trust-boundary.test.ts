import net from 'node:net';
import { createCustomer, createMockModel, startTestGateway, waitForTask, type TestGateway } from '../support/harness';

/** Refusals that cost the gateway nothing, /metrics kept private, idempotency keys that expire, secret rotation. */
describe('trust boundary', () => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startTestGateway();
  });
  afterAll(async () => {
    await gw?.stop();
  });

  /** Sends only the headers of a request announcing `bodyBytes`, and resolves with what comes back before any body byte. */
  function headersOnly(url: string, lines: string[], bodyBytes: number): Promise<string> {
    const { hostname, port } = new URL(url);
    return new Promise((resolve, reject) => {
      const socket = net.connect(Number(port), hostname);
      let received = '';
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`no answer before the body; got ${JSON.stringify(received)}`));
      }, 15_000);
      socket.on('data', (chunk) => {
        received += chunk.toString('utf8');
        // The whole answer: headers and the (small, JSON) body.
        const [head, body] = received.split('\r\n\r\n');
        const length = Number(/content-length: (\d+)/i.exec(head ?? '')?.[1] ?? 'NaN');
        if (body !== undefined && body.length >= length) {
          clearTimeout(timer);
          socket.destroy();
          resolve(received);
        }
      });
      socket.on('error', reject);
      socket.write([...lines, `Content-Length: ${bodyBytes}`, 'Content-Type: application/json', '', ''].join('\r\n'));
    });
  }

  it('answers 401 to a bad key before reading a 1 MB body, and closes the connection', async () => {
    const { host } = new URL(gw.url);
    const answer = await headersOnly(gw.url, ['POST /v1/videos HTTP/1.1', `Host: ${host}`, 'Authorization: Bearer sk-gw-not-a-real-key'], 1_000_000);
    expect(answer).toMatch(/^HTTP\/1\.1 401 /);
    expect(answer).toMatch(/\r\nconnection: close\r\n/i);
    expect(answer).toContain('"type":"authentication_error"');

    const admin = await headersOnly(gw.url, ['POST /admin/accounts HTTP/1.1', `Host: ${host}`, 'Authorization: Bearer wrong-admin-token'], 1_000_000);
    expect(admin).toMatch(/^HTTP\/1\.1 401 /);
    expect(admin).toContain('invalid_admin_token');
  });

  it('replays a creation as its first answer (pending) for 24 h, then starts a new task with the same key', async () => {
    const { model } = await createMockModel(gw, { category: 'image', pricing: { per_image: 1 }, settings: { durationMs: 50 } });
    const customer = await createCustomer(gw, { credits: 100 });
    const post = () => gw.request('POST', '/v1/images/generations', { key: customer.key, body: { model, prompt: 'a fox' }, headers: { 'idempotency-key': 'order-42' } });

    const first = await post();
    expect(first.status).toBe(200);
    expect(first.body.status).toBe('pending');
    expect((await waitForTask(gw, customer.key, first.body.id)).status).toBe('succeeded');
    const replay = await post();
    expect(replay.body).toEqual(first.body);

    // A day later (the row's creation moved back 25 hours) the key names a new task.
    const knex = gw.gateway.orm.em.getKnex();
    await knex('tasks').where({ id: first.body.id }).update({ created_at: knex.raw(`now() - interval '25 hours'`) });
    const later = await post();
    expect(later.status).toBe(200);
    expect(later.body.id).not.toBe(first.body.id);
    expect(later.body.status).toBe('pending');
    expect((await post()).body.id).toBe(later.body.id);
    expect((await waitForTask(gw, customer.key, later.body.id)).status).toBe('succeeded');
    const account = await gw.admin('GET', `/admin/accounts/${customer.accountId}`);
    expect(account).toMatchObject({ balance: 98, reserved: 0 });
  });

  it('serves /metrics only with METRICS_TOKEN, or only on METRICS_PORT', async () => {
    const token = 'metrics-token-0123456789';
    const withToken = await startTestGateway({ runWorker: false, env: { METRICS_TOKEN: token } });
    const onPort = await startTestGateway({ runWorker: false, env: { METRICS_PORT: '0' } });
    try {
      expect((await fetch(`${withToken.url}/metrics`)).status).toBe(401);
      expect((await fetch(`${withToken.url}/metrics`, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status).toBe(401);
      const scraped = await fetch(`${withToken.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
      expect(scraped.status).toBe(200);
      expect(await scraped.text()).toContain('gateway_http_requests_total');

      expect((await fetch(`${onPort.url}/metrics`)).status).toBe(404);
      const port = onPort.gateway.metricsPort;
      expect(port).toEqual(expect.any(Number));
      const own = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(own.status).toBe(200);
      expect(await own.text()).toContain('gateway_http_requests_total');
      expect((await fetch(`http://127.0.0.1:${port}/v1/models`)).status).toBe(404);
    } finally {
      await withToken.stop();
      await onPort.stop();
    }
  });

  it('rotates GATEWAY_SECRET: the new gateway opens what the old secret sealed, re-seals it, and old links still verify', async () => {
    const { model, channelId } = await createMockModel(gw, { category: 'image', pricing: { per_image: 1 }, settings: { durationMs: 50 } });
    const customer = await createCustomer(gw, { credits: 10 });
    const task = await gw.request('POST', '/v1/images/generations', { key: customer.key, body: { model, prompt: 'a fox' } });
    const done = await waitForTask(gw, customer.key, task.body.id);
    const oldLink = done.output[0].url as string;

    // The next secret, with the old one as previous: what the worker reads and the links both keep working.
    const rotated = await startTestGateway({ env: { GATEWAY_SECRET_PREVIOUS: gw.secret, ASSET_DIR: gw.config.assetDir } });
    try {
      const link = new URL(oldLink);
      expect((await fetch(`${rotated.url}${link.pathname}${link.search}`)).status).toBe(200);
      const knex = rotated.gateway.orm.em.getKnex();
      const sealedBefore = (await knex('channels').where({ id: channelId }).first('api_key_enc')).api_key_enc as string;
      expect(rotated.gateway.box.sealedWithCurrent(sealedBefore)).toBe(false);

      const result = await rotated.admin('POST', '/admin/secrets/reseal');
      expect(result.object).toBe('secrets.reseal');
      expect(result.channels.resealed).toBeGreaterThanOrEqual(1);
      expect(result.api_keys.resealed).toBeGreaterThanOrEqual(1);
      const sealedAfter = (await knex('channels').where({ id: channelId }).first('api_key_enc')).api_key_enc as string;
      expect(rotated.gateway.box.sealedWithCurrent(sealedAfter)).toBe(true);
      expect(rotated.gateway.box.open(sealedAfter)).toBe('mock');
      const webhook = (await knex('api_keys').where({ id: customer.keyId }).first('webhook_secret_enc')).webhook_secret_enc as string;
      expect(rotated.gateway.box.open(webhook)).toBe(customer.webhookSecret);
      // Run again: nothing of ours is left to re-seal (rows of other test gateways count as unreadable).
      const again = await rotated.admin('POST', '/admin/secrets/reseal');
      expect(again.channels.current).toBeGreaterThanOrEqual(result.channels.resealed);
      // A task on the re-sealed channel still runs (the worker opens the credential with the new secret).
      const next = await rotated.request('POST', '/v1/images/generations', { key: customer.key, body: { model, prompt: 'another fox' } });
      expect((await waitForTask(rotated, customer.key, next.body.id)).status).toBe('succeeded');
    } finally {
      await rotated.stop();
    }
  });
});
