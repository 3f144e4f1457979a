import net from 'node:net';
import { createCustomer, createMockModel, startTestGateway, waitForTask, type TestGateway } from '../support/harness';
import { expectApiError, taskRowCount } from '../support/checks';
import { rawRequest } from '../support/raw-http';
import { walletOf } from '../support/state';

/**
 * Bounds on what one request may cost us, each with a clear error: body size, JSON depth, header size,
 * prompt length, number and length of media references, and time for slow clients (slowloris: headers
 * or a body trickled in). The gateway runs with 2 s / 3 s timeouts so the slow cases take seconds.
 */
const HEADERS_TIMEOUT_MS = 2000;
const REQUEST_TIMEOUT_MS = 3000;
const MAX_BODY_BYTES = 1_000_000;
/** node sweeps expired connections once a second (gateway.ts): a cut comes at most this late. */
const SWEEP_SLACK_MS = 1500;

/** What a raw socket saw: the bytes the server sent and when it closed. */
interface SocketOutcome {
  text: string;
  /** When the first answer byte arrived (Infinity: none did). */
  firstByteAfterMs: number;
  closedAfterMs: number;
}

/**
 * Opens a socket, writes `head` at once, then `trickle` one byte every `everyMs` until the server
 * closes the connection (or `giveUpMs` passes). Resolves with what the server answered.
 */
function slowClient(url: string, head: string, trickle: string, everyMs: number, giveUpMs: number): Promise<SocketOutcome> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = net.connect({ host: hostname, port: Number(port) });
    const received: Buffer[] = [];
    let firstByteAfterMs = Infinity;
    let index = 0;
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      clearInterval(timer);
      clearTimeout(giveUp);
      socket.destroy();
      resolve({ text: Buffer.concat(received).toString('utf8'), firstByteAfterMs, closedAfterMs: Date.now() - started });
    };
    const giveUp = setTimeout(finish, giveUpMs);
    socket.on('data', (chunk: Buffer) => {
      if (received.length === 0) firstByteAfterMs = Date.now() - started;
      received.push(chunk);
    });
    socket.on('close', finish);
    socket.on('end', finish);
    socket.on('error', finish);
    socket.on('connect', () => {
      socket.write(head);
      timer = setInterval(() => {
        if (socket.destroyed || !socket.writable) return;
        socket.write(trickle[index % trickle.length]!);
        index++;
      }, everyMs);
    });
  });
}

/** The status and JSON body of a raw HTTP/1.1 answer. */
function parseAnswer(text: string): { status: number; body: any } {
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
  const raw = text.slice(text.indexOf('\r\n\r\n') + 4);
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    body = raw;
  }
  return { status, body };
}

describe('limits', () => {
  let gw: TestGateway;
  let model: string;
  let slowModel: string;
  let customer: Awaited<ReturnType<typeof createCustomer>>;
  const START = 1_000_000;

  beforeAll(async () => {
    gw = await startTestGateway({
      env: { HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS), HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS), MAX_BODY_BYTES: String(MAX_BODY_BYTES) },
    });
    ({ model } = await createMockModel(gw, { category: 'video', pricing: { per_request: 1 }, settings: { durationMs: 50 } }));
    ({ model: slowModel } = await createMockModel(gw, { category: 'video', pricing: { per_request: 1 }, settings: { durationMs: 60_000 } }));
    customer = await createCustomer(gw, { credits: START });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  const post = (body: unknown) => gw.request('POST', '/v1/videos', { key: customer.key, body });

  describe('body size and shape', () => {
    it('answers 413 to a declared Content-Length over the limit at once, without waiting for the body', async () => {
      const outcome = await slowClient(
        gw.url,
        `POST /v1/videos HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${customer.key}\r\nContent-Type: application/json\r\nContent-Length: ${MAX_BODY_BYTES + 1}\r\n\r\n{"model":`,
        ' ', 200, 10_000,
      );
      expect(outcome.firstByteAfterMs).toBeLessThan(1000);
      const answer = parseAnswer(outcome.text.split(/(?=HTTP\/1\.1 )/)[0]!);
      expect(answer.status).toBe(413);
      expect(answer.body.error).toMatchObject({ code: 'request_too_large', type: 'invalid_request_error' });
    });

    it('answers 413 to a chunked body that grows past the limit, and accepts one just under it', async () => {
      const big = Buffer.from(JSON.stringify({ model, prompt: 'big', options: { pad: 'x'.repeat(MAX_BODY_BYTES) } }));
      const over = await rawRequest(gw.url, {
        method: 'POST', path: '/v1/videos', body: big,
        headers: { authorization: `Bearer ${customer.key}`, 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      });
      expect(over.status).toBe(413);
      expect(over.json).toMatchObject({ error: { code: 'request_too_large', type: 'invalid_request_error' } });

      const fits = JSON.stringify({ model, prompt: 'fits', options: { pad: 'x'.repeat(MAX_BODY_BYTES - 200) } });
      expect(Buffer.byteLength(fits)).toBeLessThanOrEqual(MAX_BODY_BYTES);
      const under = await rawRequest(gw.url, {
        method: 'POST', path: '/v1/videos', body: fits, headers: { authorization: `Bearer ${customer.key}`, 'content-type': 'application/json' },
      });
      expect(under.status).toBe(200);
    });

    it('refuses JSON nested deeper than 64 levels with a 400, and takes 60 levels', async () => {
      const nested = (depth: number) => `{"model":${JSON.stringify(model)},"prompt":"deep","options":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`;
      const deep = await gw.request('POST', '/v1/videos', { key: customer.key, body: nested(64) });
      expectApiError(deep, 400, 'invalid_json', 'invalid_request_error');
      expect(deep.body.error.message).toMatch(/64 levels/);
      const chat = await gw.request('POST', '/v1/chat/completions', { key: customer.key, body: `{"model":"x","messages":${'['.repeat(200_000)}${']'.repeat(200_000)}}` });
      expectApiError(chat, 400, 'invalid_json', 'invalid_request_error');
      expect((await gw.request('POST', '/v1/videos', { key: customer.key, body: nested(60) })).status).toBe(200);
    });

    it('answers 431 in the error format to headers over 16 KB', async () => {
      const answer = await rawRequest(gw.url, { method: 'GET', path: '/v1/models', headers: { authorization: `Bearer ${customer.key}`, 'x-padding': 'x'.repeat(20_000) } });
      expect(answer.status).toBe(431);
      expect(answer.json).toMatchObject({ error: { code: 'headers_too_large', type: 'invalid_request_error' } });
      const longUrl = await rawRequest(gw.url, { method: 'GET', path: `/v1/tasks?model=${'x'.repeat(20_000)}`, headers: { authorization: `Bearer ${customer.key}` } });
      expect(longUrl.status).toBe(431);
    });
  });

  describe('prompt and references', () => {
    it('takes a 20,000-character prompt and refuses 20,001 characters, naming the field', async () => {
      expect((await post({ model, prompt: 'p'.repeat(20_000) })).status).toBe(200);
      const refused = await post({ model, prompt: 'p'.repeat(20_001) });
      expectApiError(refused, 400, 'invalid_request', 'invalid_request_error');
      expect(refused.body.error.details).toEqual([expect.objectContaining({ path: 'prompt' })]);
    });

    it('takes 8 image references and refuses 9, naming the field', async () => {
      const refs = (n: number) => Array.from({ length: n }, (_, i) => `http://8.8.8.8/ref-${i}.png`);
      expect((await post({ model, prompt: 'eight', image_urls: refs(8) })).status).toBe(200);
      const refused = await post({ model, prompt: 'nine', image_urls: refs(9) });
      expectApiError(refused, 400, 'invalid_request', 'invalid_request_error');
      expect(refused.body.error.details).toEqual([expect.objectContaining({ path: 'image_urls' })]);
    });

    it('refuses a reference URL longer than 4,096 characters in every URL field', async () => {
      const long = `http://8.8.8.8/${'a'.repeat(4096)}`;
      for (const field of ['image_url', 'video_url', 'audio_url', 'last_frame_url', 'callback_url', 'image_urls']) {
        const refused = await post({ model, prompt: 'long url', [field]: field === 'image_urls' ? [long] : long });
        expectApiError(refused, 400, 'invalid_request', 'invalid_request_error');
        expect(refused.body.error.details[0].path).toBe(field === 'image_urls' ? 'image_urls.0' : field);
      }
    });

    it('created nothing for the refused requests', async () => {
      // Accepted above: the 20,000-character prompt, 8 references, the 60-level body and the one just under the size limit.
      expect(await taskRowCount(gw, customer.accountId)).toBe(4);
      const wallet = await walletOf(gw, customer.accountId);
      expect(wallet.balance + wallet.reserved).toBeGreaterThanOrEqual(START - 4);
    });
  });

  describe('slow clients', () => {
    it(`cuts off a client that sends its headers slowly after about ${HEADERS_TIMEOUT_MS} ms, with a JSON 408`, async () => {
      const outcome = await slowClient(gw.url, `POST /v1/videos HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${customer.key}\r\n`, 'X-Slow: aaaaaaaa\r\n', 100, 15_000);
      expect(outcome.closedAfterMs).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 100);
      expect(outcome.closedAfterMs).toBeLessThan(HEADERS_TIMEOUT_MS + SWEEP_SLACK_MS);
      const answer = parseAnswer(outcome.text);
      expect(answer.status).toBe(408);
      expect(answer.body).toEqual({ error: { message: expect.any(String), type: 'invalid_request_error', code: 'request_timeout' } });
    });

    it(`cuts off a body trickled in past ${REQUEST_TIMEOUT_MS} ms, with a JSON 408, and creates nothing`, async () => {
      const tasksBefore = await taskRowCount(gw, customer.accountId);
      const body = JSON.stringify({ model, prompt: 'slow body '.repeat(20) });
      const outcome = await slowClient(
        gw.url,
        `POST /v1/videos HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${customer.key}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
        body, 50, 20_000,
      );
      expect(outcome.closedAfterMs).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 100);
      expect(outcome.closedAfterMs).toBeLessThan(REQUEST_TIMEOUT_MS + SWEEP_SLACK_MS);
      const answer = parseAnswer(outcome.text);
      expect(answer.status).toBe(408);
      expect(answer.body.error).toMatchObject({ code: 'request_timeout', type: 'invalid_request_error' });
      expect(await taskRowCount(gw, customer.accountId)).toBe(tasksBefore);
    });

    it('keeps serving others while 100 slowloris connections hold partial headers, then drops them all', async () => {
      const slow = Array.from({ length: 100 }, () => slowClient(gw.url, 'GET /v1/models HTTP/1.1\r\nHost: x\r\n', 'X-a: b\r\n', 300, 15_000));
      await new Promise((resolve) => setTimeout(resolve, 300));
      const started = Date.now();
      const normal = await gw.request('GET', '/v1/models', { key: customer.key });
      expect(normal.status).toBe(200);
      expect(Date.now() - started).toBeLessThan(1000);
      const outcomes = await Promise.all(slow);
      for (const outcome of outcomes) expect(outcome.closedAfterMs).toBeLessThan(HEADERS_TIMEOUT_MS + SWEEP_SLACK_MS + 300);
    });

    it('does not cut a long poll: the request is complete, only the answer takes time', async () => {
      const created = await post({ model: slowModel, prompt: 'long poll' });
      expect(created.status).toBe(200);
      // From `processing` on, the mock job's status holds for a minute: the poll waits its full 4 s.
      await waitForTask(gw, customer.key, created.body.id, { until: (task) => task.status === 'processing' });
      const started = Date.now();
      const polled = await gw.request('GET', `/v1/tasks/${created.body.id}?wait=4`, { key: customer.key });
      expect(polled.status).toBe(200);
      expect(Date.now() - started).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS);
    });

    it('counted none of the cut or refused requests as a server error', async () => {
      const metrics = await fetch(`${gw.url}/metrics`).then((r) => r.text());
      const serverErrors = metrics.split('\n').filter((line) => /^gateway_http_requests_total\{.*status="5\d\d"/.test(line));
      expect(serverErrors).toEqual([]);
    });
  });
});
