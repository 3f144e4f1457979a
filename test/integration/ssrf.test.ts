import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createOutboundGuard } from '../../src/net/outbound-guard';
import { guardedPost } from '../../src/net/guarded-post';
import { createOutboundClient } from '../../src/net/outbound-client';
import { send, type HttpCall } from '../../src/providers/http';
import { MAX_PROVIDER_ANSWER_BYTES, useProviderOutboundGuard } from '../../src/providers/transport';
import { ProviderError } from '../../src/providers/types';
import { createCustomer, createMockModel, startTestGateway, waitForTask, type TestGateway } from '../support/harness';
import { sql, taskRowCount } from '../support/checks';
import { walletOf } from '../support/state';

/**
 * SSRF: URLs a consumer hands us (callback_url and the media references) may not reach loopback, private,
 * link-local or metadata addresses, however they are spelled, unless OUTBOUND_ALLOWLIST admits them; and
 * a callback receiver can't bounce our POST to such an address with a redirect.
 */

/** Every spelling of a non-public address we know of; none may pass without an allowlist entry. */
const PRIVATE_URLS = [
  'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
  'http://[fd00::1]/', 'http://[fd00:ec2::254]/', 'http://[fd12:3456:789a::1]:8080/',
  'http://[::1]/', 'http://[0:0:0:0:0:0:0:1]/', 'http://[::]/',
  'http://10.0.0.1/', 'http://10.255.255.255:8443/x',
  'http://192.168.0.1/', 'http://192.168.255.254/',
  'http://172.16.0.1/', 'http://172.31.255.254/',
  'http://0.0.0.0/', 'http://0/', 'http://127.0.0.1/', 'https://127.0.0.1:8443/', 'http://127.255.255.254/',
  'http://[::ffff:127.0.0.1]/', 'http://[::ffff:7f00:1]/', 'http://[::ffff:169.254.169.254]/', 'http://[::ffff:10.0.0.1]/',
  'http://[0:0:0:0:0:ffff:192.168.0.1]/', 'http://[::127.0.0.1]/', 'http://[::ffff:0:127.0.0.1]/', 'http://[64:ff9b::7f00:1]/',
  'http://2130706433/', 'http://0x7f000001/', 'http://0177.0.0.1/', 'http://127.1/', 'http://0x7f.1/', 'http://2852039166/',
  'http://localhost/', 'http://LOCALHOST:3000/', 'http://localhost./', 'http://[fe80::1]/', 'http://100.64.0.1/',
  'http://224.0.0.1/', 'http://255.255.255.255/',
];

/** Not private, but still not something we fetch or post to. */
const BAD_SCHEMES = ['ftp://8.8.8.8/x', 'file:///etc/passwd', 'gopher://8.8.8.8:70/_x', 'http://user:secret@8.8.8.8/', 'javascript:alert(1)'];

const URL_FIELDS = ['callback_url', 'image_url', 'video_url', 'audio_url', 'last_frame_url', 'image_urls'] as const;

interface Hit {
  method: string;
  path: string;
}

/** A tiny HTTP server on `host` that records every request and answers what `answer` says. */
async function startRecorder(host: string, answer: (path: string) => { status: number; headers?: Record<string, string> } = () => ({ status: 200 })) {
  const hits: Hit[] = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      hits.push({ method: req.method ?? '', path: req.url ?? '' });
      const { status, headers } = answer(req.url ?? '/');
      res.writeHead(status, { 'content-type': 'text/plain', ...headers }).end('recorded');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    hits,
    url: (path: string) => `http://${host}:${port}${path}`,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('SSRF: the outbound guard', () => {
  const resolver = (table: Record<string, string[]>) => async (host: string) => {
    const found = table[host];
    if (!found) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return found;
  };

  it('refuses every private spelling and every non-http scheme with an empty allowlist', async () => {
    const guard = createOutboundGuard({ allowlist: [], resolve: resolver({ localhost: ['127.0.0.1', '::1'] }) });
    const passed: string[] = [];
    for (const url of [...PRIVATE_URLS, ...BAD_SCHEMES]) if ((await guard.check(url)).ok) passed.push(url);
    expect(passed).toEqual([]);
    expect(await guard.check('http://8.8.8.8/hook')).toEqual({ ok: true });
    expect(await guard.check('https://[2606:4700:4700::1111]/hook')).toEqual({ ok: true });
  });

  it('refuses a host name that resolves to a private address, even when only one of its addresses is', async () => {
    const guard = createOutboundGuard({
      allowlist: [],
      resolve: resolver({
        'metadata.attacker.example': ['169.254.169.254'],
        'mixed.attacker.example': ['8.8.8.8', '10.0.0.7'],
        'v6.attacker.example': ['fd00::5'],
        'mapped.attacker.example': ['::ffff:127.0.0.1'],
        'public.example': ['8.8.4.4'],
      }),
    });
    for (const host of ['metadata.attacker.example', 'mixed.attacker.example', 'v6.attacker.example', 'mapped.attacker.example', 'nowhere.example']) {
      expect({ host, verdict: (await guard.check(`https://${host}/hook`)).ok }).toEqual({ host, verdict: false });
    }
    expect(await guard.check('https://public.example/hook')).toEqual({ ok: true });
  });

  it('admits what the operator allowlists, by CIDR or by host name, and nothing next to it', async () => {
    const guard = createOutboundGuard({
      allowlist: ['127.0.0.2/32', 'fd00:1::/64', 'hooks.internal'],
      resolve: resolver({ 'hooks.internal': ['10.1.2.3'], 'other.internal': ['10.1.2.3'] }),
    });
    for (const url of ['http://127.0.0.2:9/h', 'http://[fd00:1::5]/h', 'https://hooks.internal/h', 'https://HOOKS.internal/h']) {
      expect({ url, ok: (await guard.check(url)).ok }).toEqual({ url, ok: true });
    }
    for (const url of ['http://127.0.0.1:9/h', 'http://127.0.0.3/h', 'http://2130706433/h', 'http://[fd00:2::5]/h', 'https://other.internal/h', 'http://localhost/h']) {
      expect({ url, ok: (await guard.check(url)).ok }).toEqual({ url, ok: false });
    }
  });

  it('checks the address again at connect time, for host names and IP literals alike', async () => {
    const trap = await startRecorder('127.0.0.1');
    try {
      const guard = createOutboundGuard({ allowlist: [] });
      const targets = [`http://localhost:${trap.port}/x`, `http://127.0.0.1:${trap.port}/x`, `http://[::ffff:127.0.0.1]:${trap.port}/x`, `http://2130706433:${trap.port}/x`];
      for (const url of targets) {
        await expect(guardedPost(url, '{}', { 'content-type': 'application/json' }, { guard, timeoutMs: 2000 })).rejects.toMatchObject({ code: 'EREFUSEDPRIVATE' });
      }
      expect(trap.hits).toEqual([]);
      // The same receiver, allowlisted, is reached: the refusals above were the guard's doing.
      const allowed = createOutboundGuard({ allowlist: ['127.0.0.1/32'] });
      await expect(guardedPost(`http://127.0.0.1:${trap.port}/ok`, '{}', {}, { guard: allowed, timeoutMs: 2000 })).resolves.toEqual({ status: 200 });
      expect(trap.hits).toEqual([{ method: 'POST', path: '/ok' }]);
    } finally {
      await trap.stop();
    }
  });
});

describe('SSRF: the shared outbound client (downloads, callbacks)', () => {
  const guard = createOutboundGuard({ allowlist: ['127.0.0.1/32'] });
  const client = createOutboundClient(guard);

  it('follows allowed redirects, checks every hop, and never connects to one the allowlist does not cover', async () => {
    const trap = await startRecorder('127.0.0.2');
    const origin = await startRecorder('127.0.0.1', (path) =>
      path === '/hop1' ? { status: 301, headers: { location: '/hop2' } }
        : path === '/hop2' ? { status: 302, headers: { location: trap.url('/latest/meta-data/') } }
          : path === '/to-file' ? { status: 307, headers: { location: '/file' } }
            : { status: 200 });
    try {
      const ok = await client.request(origin.url('/to-file'), { timeoutMs: 5000, maxRedirects: 5 });
      expect({ status: ok.status, url: ok.url }).toEqual({ status: 200, url: origin.url('/file') });
      ok.body.resume();
      await expect(client.request(origin.url('/hop1'), { timeoutMs: 5000, maxRedirects: 5 })).rejects.toThrow(/Refused redirect 2: it points at a private/);
      expect(origin.hits.map((h) => h.path)).toEqual(['/to-file', '/file', '/hop1', '/hop2']);
      expect(trap.hits).toEqual([]);
      // Fewer hops allowed than the chain has: refused at the limit, not followed further.
      await expect(client.request(origin.url('/hop1'), { timeoutMs: 5000, maxRedirects: 1 })).rejects.toThrow(/more than 1 redirects/);
      expect(trap.hits).toEqual([]);
    } finally {
      await trap.stop();
      await origin.stop();
    }
  });

  it("trusts only the first hop of an adapter's request, and never carries its credentials to another origin", async () => {
    const trap = await startRecorder('127.0.0.2');
    const seen: { path: string; authorization?: string }[] = [];
    const channelHost = http.createServer((req, res) => {
      seen.push({ path: req.url ?? '', authorization: req.headers.authorization });
      const port = (channelHost.address() as AddressInfo).port;
      const location = req.url === '/to-cdn' ? `http://localhost:${port}/cdn` : req.url === '/same' ? '/same-file' : req.url === '/to-trap' ? trap.url('/x') : undefined;
      res.writeHead(location ? 302 : 200, location ? { location } : {}).end('ok');
    });
    await new Promise<void>((resolve) => channelHost.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(channelHost.address() as AddressInfo).port}`;
    const strict = createOutboundClient(createOutboundGuard({ allowlist: [] }));
    const credential = { authorization: 'Bearer channel-key', accept: '*/*' };
    try {
      // The channel's own host may be private (the operator chose it); what it redirects to may not.
      const own = await strict.request(`${base}/file`, { timeoutMs: 5000, headers: credential, trustFirstHop: true });
      own.body.resume();
      expect(own.status).toBe(200);
      await expect(strict.request(`${base}/file`, { timeoutMs: 5000, headers: credential })).rejects.toThrow(/Refused the URL/);
      await expect(strict.request(`${base}/to-trap`, { timeoutMs: 5000, headers: credential, trustFirstHop: true, maxRedirects: 5 })).rejects.toThrow(/Refused redirect 1/);
      expect(trap.hits).toEqual([]);
      // Same origin keeps the credential; another origin (localhost is another host name) never gets it.
      for (const path of ['/same', '/to-cdn']) {
        const answer = await client.request(`${base}${path}`, { timeoutMs: 5000, headers: credential, trustFirstHop: true, maxRedirects: 5 });
        answer.body.resume();
      }
      expect(seen.filter((s) => s.path !== '/file' && s.path !== '/to-trap')).toEqual([
        { path: '/same', authorization: 'Bearer channel-key' },
        { path: '/same-file', authorization: 'Bearer channel-key' },
        { path: '/to-cdn', authorization: 'Bearer channel-key' },
        { path: '/cdn', authorization: undefined },
      ]);
    } finally {
      await trap.stop();
      channelHost.closeAllConnections();
      await new Promise<void>((resolve) => channelHost.close(() => resolve()));
    }
  });

  it('never follows a redirect for a POST (a callback): the 3xx is the answer', async () => {
    const trap = await startRecorder('127.0.0.2');
    const receiver = await startRecorder('127.0.0.1', () => ({ status: 307, headers: { location: trap.url('/steal') } }));
    try {
      await expect(guardedPost(receiver.url('/hook'), '{}', {}, { guard, timeoutMs: 5000 })).resolves.toEqual({ status: 307 });
      expect(trap.hits).toEqual([]);
    } finally {
      await trap.stop();
      await receiver.stop();
    }
  });

  it('bounds the whole exchange, body included, by one time limit', async () => {
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.write('a');
      // ... and never more: a drip that would hold a worker for ever.
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slow`;
      const response = await client.request(url, { timeoutMs: 300 });
      const read = (async () => {
        for await (const _chunk of response.body) void _chunk;
      })();
      await expect(read).rejects.toThrow(/No complete answer within 300 ms/);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe("SSRF: a provider adapter's own API calls", () => {
  afterEach(() => useProviderOutboundGuard(createOutboundGuard({ allowlist: [] })));

  function statusCall(url: string, timeoutMs = 5000): HttpCall {
    return { provider: 'ark', operation: 'status', method: 'GET', url, headers: { authorization: 'Bearer channel-key' }, timeoutMs, secrets: ['channel-key'] };
  }

  it("reach the channel's private host, but a redirect from it to another private address is a connection_error, and the trap is never called", async () => {
    const trap = await startRecorder('127.0.0.2');
    const channelHost = await startRecorder('127.0.0.1', (path) => (path === '/to-trap' ? { status: 302, headers: { location: trap.url('/latest/meta-data/') } } : { status: 200 }));
    useProviderOutboundGuard(createOutboundGuard({ allowlist: [] }));
    try {
      await expect(send(statusCall(channelHost.url('/task')))).resolves.toMatchObject({ status: 200, text: 'recorded' });
      const refused = await send(statusCall(channelHost.url('/to-trap'))).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(ProviderError);
      expect(refused).toMatchObject({ code: 'connection_error', retryable: true });
      expect((refused as Error).message).toMatch(/Refused redirect 1/);
      expect(trap.hits).toEqual([]);
      // The operator's allowlist is what opens it, as for every other outbound request.
      useProviderOutboundGuard(createOutboundGuard({ allowlist: ['127.0.0.2/32'] }));
      await expect(send(statusCall(channelHost.url('/to-trap')))).resolves.toMatchObject({ status: 200 });
      expect(trap.hits.map((h) => h.path)).toEqual(['/latest/meta-data/']);
    } finally {
      await trap.stop();
      await channelHost.stop();
    }
  });

  it('gives up on an answer larger than the cap, and on one that never ends, as retryable errors', async () => {
    const server = http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      if (req.url === '/drip') {
        res.write('{');
        return;
      }
      const chunk = Buffer.alloc(1024 * 1024, 0x20);
      let sent = 0;
      const more = () => {
        while (sent <= MAX_PROVIDER_ANSWER_BYTES) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', more);
        }
        res.end();
      };
      more();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      await expect(send(statusCall(`${base}/huge`, 60_000))).rejects.toMatchObject({ code: 'connection_error', message: expect.stringMatching(/larger than/) });
      await expect(send(statusCall(`${base}/drip`, 300))).rejects.toMatchObject({ code: 'timeout', retryable: true });
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('SSRF through the API (OUTBOUND_ALLOWLIST=127.0.0.2/32)', () => {
  let gw: TestGateway;
  let model: string;
  /** Listens on 127.0.0.1, which is not allowlisted: it must never be reached. */
  let trap: Awaited<ReturnType<typeof startRecorder>>;
  /** Listens on 127.0.0.2, the allowlisted receiver; `/redirect-*` bounce to the trap. */
  let receiver: Awaited<ReturnType<typeof startRecorder>>;

  beforeAll(async () => {
    trap = await startRecorder('127.0.0.1');
    receiver = await startRecorder('127.0.0.2', (path) => {
      const redirect = /^\/redirect-(\d{3})/.exec(path);
      if (redirect) return { status: Number(redirect[1]), headers: { location: trap.url(`/stolen${path}`) } };
      if (path.startsWith('/redirect-metadata')) return { status: 302, headers: { location: 'http://169.254.169.254/latest/meta-data/' } };
      return { status: 200 };
    });
    gw = await startTestGateway({ env: { OUTBOUND_ALLOWLIST: '127.0.0.2/32' } });
    ({ model } = await createMockModel(gw, { category: 'video', pricing: { per_request: 5 }, settings: { durationMs: 100 } }));
  });
  afterAll(async () => {
    await gw?.stop();
    await receiver?.stop();
    await trap?.stop();
  });

  it(`refuses ${PRIVATE_URLS.length + BAD_SCHEMES.length} hostile URLs in each of the ${URL_FIELDS.length} URL fields with a 400 naming the field, creating nothing`, async () => {
    const customer = await createCustomer(gw, { credits: 100 });
    const wrong: string[] = [];
    for (const field of URL_FIELDS) {
      for (const url of [...PRIVATE_URLS, ...BAD_SCHEMES]) {
        const body = { model, prompt: 'ssrf', [field]: field === 'image_urls' ? ['http://8.8.8.8/ok.png', url] : url };
        const answer = await gw.request('POST', '/v1/videos', { key: customer.key, body });
        const paths = (answer.body?.error?.details ?? []).map((d: { path: string }) => d.path);
        const named = field === 'image_urls' ? paths.includes('image_urls.1') : paths.includes(field);
        if (answer.status !== 400 || answer.body?.error?.code !== 'invalid_request' || !named) {
          wrong.push(`${field}=${url} -> ${answer.status} ${JSON.stringify(answer.body).slice(0, 200)}`);
        }
      }
    }
    expect(wrong).toEqual([]);
    expect(await taskRowCount(gw, customer.accountId)).toBe(0);
    expect(await walletOf(gw, customer.accountId)).toEqual({ balance: 100, reserved: 0 });
    expect(trap.hits).toEqual([]);
  });

  it("refuses a task whose key's default callback_url points at a private address", async () => {
    const customer = await createCustomer(gw, { credits: 100, key: { callback_url: 'http://169.254.169.254/latest/meta-data/' } });
    const answer = await gw.request('POST', '/v1/videos', { key: customer.key, body: { model, prompt: 'default callback' } });
    expect(answer.status).toBe(400);
    expect(answer.body.error.details).toEqual([expect.objectContaining({ path: 'callback_url' })]);
    expect(await taskRowCount(gw, customer.accountId)).toBe(0);
  });

  it('accepts a public reference and delivers to the allowlisted receiver (the refusals are not blanket)', async () => {
    const customer = await createCustomer(gw, { credits: 100 });
    const created = await gw.request('POST', '/v1/videos', {
      key: customer.key,
      body: { model, prompt: 'allowed', image_url: 'http://8.8.8.8/frame.png', image_urls: ['https://[2606:4700:4700::1111]/ref.png'], callback_url: receiver.url('/ok') },
    });
    expect(created.status).toBe(200);
    expect((await waitForTask(gw, customer.key, created.body.id)).status).toBe('succeeded');
    await until('the callback to the allowlisted receiver', () => receiver.hits.find((hit) => hit.path === '/ok'));
  });

  it('does not follow a receiver that redirects our callback to a private address', async () => {
    const customer = await createCustomer(gw, { credits: 100 });
    const paths = ['/redirect-302', '/redirect-307', '/redirect-301', '/redirect-308', '/redirect-metadata'];
    const ids: string[] = [];
    for (const path of paths) {
      const created = await gw.request('POST', '/v1/videos', { key: customer.key, body: { model, prompt: `redirect ${path}`, callback_url: receiver.url(path) } });
      expect(created.status).toBe(200);
      ids.push(created.body.id);
    }
    for (const path of paths) await until(`the first delivery to ${path}`, () => receiver.hits.find((hit) => hit.path === path));
    // Give a client that follows redirects time to do it.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(trap.hits).toEqual([]);
    const deliveries = await sql<{ url: string; last_status: number; delivered_at: Date | null }>(
      gw, `select url, last_status, delivered_at from webhook_deliveries where task_id in (${ids.map(() => '?').join(', ')}) order by url`, ids,
    );
    expect(deliveries).toHaveLength(paths.length);
    for (const delivery of deliveries) {
      // The redirect is an answer like any non-2xx: not delivered, retried later to the same URL.
      expect(delivery.delivered_at).toBeNull();
      expect([301, 302, 307, 308]).toContain(delivery.last_status);
      expect(delivery.url.startsWith(receiver.url('/redirect-'))).toBe(true);
    }
  });
});

describe('SSRF with the operator allowlist the tests use (127.0.0.0/8, ::1)', () => {
  let gw: TestGateway;
  let receiver: Awaited<ReturnType<typeof startRecorder>>;

  beforeAll(async () => {
    gw = await startTestGateway();
    receiver = await startRecorder('127.0.0.1');
  });
  afterAll(async () => {
    await gw?.stop();
    await receiver?.stop();
  });

  it('admits loopback in every spelling the allowlist covers, and still refuses the private ranges it does not', async () => {
    const { model } = await createMockModel(gw, { category: 'image', pricing: { per_request: 1 }, settings: { durationMs: 50 } });
    const customer = await createCustomer(gw, { credits: 100 });
    for (const url of [`http://localhost:${receiver.port}/a`, `http://2130706433:${receiver.port}/b`, `http://[::ffff:127.0.0.1]:${receiver.port}/c`]) {
      const created = await gw.request('POST', '/v1/images/generations', { key: customer.key, body: { model, prompt: 'allowlisted', callback_url: url } });
      expect({ url, status: created.status }).toEqual({ url, status: 200 });
      await waitForTask(gw, customer.key, created.body.id);
    }
    await until('three callbacks', () => (receiver.hits.length >= 3 ? receiver.hits : undefined));
    expect(receiver.hits.map((hit) => hit.path).sort()).toEqual(['/a', '/b', '/c']);
    for (const url of ['http://169.254.169.254/', 'http://10.0.0.1/', 'http://[fd00::1]/', 'http://192.168.1.1/']) {
      const refused = await gw.request('POST', '/v1/images/generations', { key: customer.key, body: { model, prompt: 'still private', image_url: url } });
      expect({ url, status: refused.status }).toEqual({ url, status: 400 });
    }
  });
});
