/**
 * The trust boundary on the way in and out: provider outputs are downloaded only through the guarded
 * outbound client (private addresses refused, every redirect checked, size and time capped) and served
 * back inert (allowlisted media types inline, everything else an attachment, nosniff and a locking CSP,
 * Range and ETag). The replicate fake hands its outputs out as rough as the internet does: another host
 * name, redirects, a 127.0.0.2 trap outside the tests' allowlist, data: URIs, SVG and HTML, huge, cut.
 */
import { createHash } from 'node:crypto';
import { HTML_WITH_SCRIPT, SVG_WITH_SCRIPT, startReplicateFake, type OutputServing, type ReplicateFake } from '../fakes';
import { accountOf, sql } from '../support/checks';
import { createCustomer, startTestGateway, uniqueId, waitForTask, type TestGateway } from '../support/harness';

const PRICE = 5;
const CREDITS = 50;
/** The cap in this file's gateway: the fakes' small media pass, their "huge" files don't. */
const MAX_ASSET_BYTES = 256 * 1024;

describe('provider outputs and served assets', () => {
  let gw: TestGateway;
  let fake: ReplicateFake;
  let model: string;

  beforeAll(async () => {
    gw = await startTestGateway({ env: { MAX_ASSET_BYTES: String(MAX_ASSET_BYTES) } });
    fake = await startReplicateFake({ jobPlan: { queueMs: 20, runMs: 60 } });
    model = uniqueId('m-out');
    await gw.admin('POST', '/admin/models', { id: model, category: 'image', pricing: { per_image: PRICE } });
    await gw.admin('POST', '/admin/channels', {
      name: `replicate for ${model}`, provider: 'replicate', base_url: fake.url, api_key: fake.apiKey,
      models: { [model]: 'black-forest-labs/flux-schnell' }, settings: { pollIntervalMs: 50, timeoutMs: 5000 },
    });
  });
  afterAll(async () => {
    await gw?.stop();
    await fake?.close();
  });

  /** One image task whose output the fake serves as `serve` says; waits for its end. */
  async function imageTask(serve: OutputServing) {
    const customer = await createCustomer(gw, { credits: CREDITS });
    fake.planNextJobs({ serve });
    const created = await gw.request('POST', '/v1/images/generations', { key: customer.key, body: { model, prompt: 'a lighthouse at dusk' } });
    expect(created.status).toBe(200);
    const task = await waitForTask(gw, customer.key, created.body.id);
    const job = fake.lastJob();
    return { task, customer, job, file: job.files![0]! };
  }

  /** The task failed with `code`, every credit came back, and the ledger says so: a hold and its release. */
  async function expectRefused(run: Awaited<ReturnType<typeof imageTask>>, code: string) {
    expect(run.task).toMatchObject({ status: 'failed', error: { code, type: 'upstream_error' }, credits: { reserved: PRICE, charged: 0, refunded: PRICE } });
    expect(run.task.output).toEqual([]);
    expect(await accountOf(gw, run.customer.accountId)).toMatchObject({ balance: CREDITS, reserved: 0 });
    const ledger = await sql<{ kind: string; amount: string }>(gw, `select kind, amount::text from ledger_entries where ref = ? order by id`, [run.task.id]);
    expect(ledger.map((e) => e.kind).sort()).toEqual(['hold', 'release']);
    expect(ledger.some((e) => e.kind === 'capture')).toBe(false);
    expect(await sql(gw, `select id from assets where task_id = ?`, [run.task.id])).toEqual([]);
  }

  async function get(url: string, headers: Record<string, string> = {}) {
    const response = await fetch(url, { headers });
    return { status: response.status, headers: response.headers, bytes: Buffer.from(await response.arrayBuffer()) };
  }

  describe('SSRF through provider output URLs', () => {
    it('refuses an output URL on an address outside the allowlist, without a single request to it', async () => {
      const hitsBefore = fake.privateHits.length;
      const run = await imageTask({ host: 'private' });
      expect(run.file.url.startsWith('http://127.0.0.2:')).toBe(true);
      await expectRefused(run, 'output_refused');
      expect(run.task.error.message).toMatch(/private, loopback or link-local/);
      expect(fake.privateHits.length).toBe(hitsBefore);
    });

    it('refuses a redirect to an address outside the allowlist, after following the allowed hops', async () => {
      const hitsBefore = fake.privateHits.length;
      const run = await imageTask({ host: 'private', redirects: 2 });
      await expectRefused(run, 'output_refused');
      expect(run.task.error.message).toMatch(/redirect 2/);
      // Both redirect hops were followed (and checked); the third address was never connected to.
      expect(fake.requestsTo('GET', /^\/redirect\//).filter((r) => r.at >= run.job.createdAt)).toHaveLength(2);
      expect(fake.privateHits.length).toBe(hitsBefore);
    });

    it('follows redirects to another host name that the allowlist admits, and stores the file', async () => {
      const run = await imageTask({ host: 'other-host', redirects: 2 });
      expect(run.file.url).toMatch(/\/redirect\/2\/http%3A%2F%2Flocalhost%3A/);
      expect(run.task).toMatchObject({ status: 'succeeded', credits: { charged: PRICE } });
      const asset = await get(run.task.output[0].url);
      expect(asset.status).toBe(200);
      expect(asset.bytes.equals(run.file.bytes)).toBe(true);
    });
  });

  describe('the size cap and broken downloads', () => {
    it('fails a streamed output past MAX_ASSET_BYTES with a full refund and keeps nothing', async () => {
      const run = await imageTask({ body: 'huge', hugeBytes: 4 * MAX_ASSET_BYTES });
      await expectRefused(run, 'output_too_large');
      expect(run.task.error.message).toContain(String(MAX_ASSET_BYTES));
    });

    it('fails an output whose Content-Length is past the cap before reading it', async () => {
      const run = await imageTask({ body: 'huge-declared', hugeBytes: 64 * MAX_ASSET_BYTES });
      await expectRefused(run, 'output_too_large');
      expect(run.task.error.message).toContain(String(64 * MAX_ASSET_BYTES));
    });

    it('decodes a data: URI output under the same cap and content checks', async () => {
      const small = await imageTask({ dataUri: true });
      expect(small.file.url.startsWith('data:image/png;base64,')).toBe(true);
      expect(small.task).toMatchObject({ status: 'succeeded', credits: { charged: PRICE } });
      const asset = await get(small.task.output[0].url);
      expect(asset.bytes.equals(small.file.bytes)).toBe(true);
      expect(asset.headers.get('content-type')).toBe('image/png');

      const big = await imageTask({ dataUri: true, body: 'huge', hugeBytes: 2 * MAX_ASSET_BYTES });
      await expectRefused(big, 'output_too_large');

      const svg = await imageTask({ dataUri: true, content: 'svg' });
      expect(svg.task.output[0].content_type).toBe('application/octet-stream');
    });

    it('retries a download cut half-way and stores the whole file, never the half', async () => {
      const run = await imageTask({ body: 'truncated-once' });
      expect(run.task).toMatchObject({ status: 'succeeded', credits: { charged: PRICE } });
      expect(run.file.downloads).toBeGreaterThanOrEqual(2);
      expect(run.task.output[0].bytes).toBe(run.file.bytes.length);
      const asset = await get(run.task.output[0].url);
      expect(createHash('sha256').update(asset.bytes).digest('hex')).toBe(createHash('sha256').update(run.file.bytes).digest('hex'));
    });

    it('gives up on a download that is always cut, with a refund', async () => {
      const run = await imageTask({ body: 'truncated' });
      await expectRefused(run, 'output_unavailable');
    });
  });

  describe('served assets are inert', () => {
    it.each([
      ['an SVG with script', 'svg' as const, SVG_WITH_SCRIPT],
      ['an HTML page declared as a PNG', 'html' as const, HTML_WITH_SCRIPT],
    ])('serves %s as an octet-stream attachment with nosniff and a locking CSP', async (_name, content, bytes) => {
      const run = await imageTask({ content, ...(content === 'html' ? { contentType: 'image/png' } : {}) });
      expect(run.task.status).toBe('succeeded');
      expect(run.task.output[0].content_type).toBe('application/octet-stream');
      const asset = await get(run.task.output[0].url);
      expect(asset.status).toBe(200);
      expect(asset.bytes.equals(bytes)).toBe(true);
      expect(asset.headers.get('content-type')).toBe('application/octet-stream');
      expect(asset.headers.get('content-disposition')).toMatch(/^attachment; filename="asset_[^"]+\.bin"$/);
      expect(asset.headers.get('x-content-type-options')).toBe('nosniff');
      expect(asset.headers.get('content-security-policy')).toBe("default-src 'none'; sandbox");
    });

    it('serves a real PNG inline, with the security headers on every answer, errors included', async () => {
      const run = await imageTask({ contentType: 'text/html' });
      // The declared type lies; the bytes are a PNG, and an image task may have one.
      expect(run.task.output[0].content_type).toBe('image/png');
      const asset = await get(run.task.output[0].url);
      expect(asset.headers.get('content-type')).toBe('image/png');
      expect(asset.headers.get('content-disposition')).toMatch(/^inline; filename="asset_[^"]+\.png"$/);
      expect(asset.headers.get('cache-control')).toBe('private, max-age=31536000, immutable');
      const missing = await get(run.task.output[0].url.replace(/sig=./, 'sig=X'));
      expect(missing.status).toBe(404);
      expect(missing.headers.get('x-content-type-options')).toBe('nosniff');
      expect(missing.headers.get('content-security-policy')).toBe("default-src 'none'; sandbox");
    });
  });

  describe('Range and ETag', () => {
    let url: string;
    let file: Buffer;

    beforeAll(async () => {
      const run = await imageTask({});
      url = run.task.output[0].url;
      file = run.file.bytes;
    });

    it('answers byte ranges with 206 and Content-Range, and advertises them', async () => {
      const whole = await get(url);
      expect(whole.headers.get('accept-ranges')).toBe('bytes');
      const first = await get(url, { range: 'bytes=0-9' });
      expect(first.status).toBe(206);
      expect(first.headers.get('content-range')).toBe(`bytes 0-9/${file.length}`);
      expect(first.headers.get('content-length')).toBe('10');
      expect(first.bytes.equals(file.subarray(0, 10))).toBe(true);
      const open = await get(url, { range: 'bytes=20-' });
      expect(open.status).toBe(206);
      expect(open.bytes.equals(file.subarray(20))).toBe(true);
      const suffix = await get(url, { range: 'bytes=-5' });
      expect(suffix.headers.get('content-range')).toBe(`bytes ${file.length - 5}-${file.length - 1}/${file.length}`);
      expect(suffix.bytes.equals(file.subarray(file.length - 5))).toBe(true);
      const pastEnd = await get(url, { range: `bytes=10-${file.length + 1000}` });
      expect(pastEnd.status).toBe(206);
      expect(pastEnd.bytes.equals(file.subarray(10))).toBe(true);
      expect(pastEnd.headers.get('x-content-type-options')).toBe('nosniff');
      // HEAD: the same headers, no body.
      const head = await fetch(url, { method: 'HEAD', headers: { range: 'bytes=0-9' } });
      expect(head.status).toBe(206);
      expect(head.headers.get('content-length')).toBe('10');
      expect(head.headers.get('content-range')).toBe(`bytes 0-9/${file.length}`);
      expect((await head.arrayBuffer()).byteLength).toBe(0);
      expect((await fetch(url, { method: 'HEAD' })).headers.get('content-length')).toBe(String(file.length));
    });

    it('answers 416 for a range outside the file, and the whole file for ranges it does not read', async () => {
      const outside = await get(url, { range: `bytes=${file.length}-` });
      expect(outside.status).toBe(416);
      expect(outside.headers.get('content-range')).toBe(`bytes */${file.length}`);
      expect(JSON.parse(outside.bytes.toString()).error.code).toBe('range_not_satisfiable');
      expect((await get(url, { range: 'bytes=-0' })).status).toBe(416);
      for (const ignored of ['bytes=5-2', 'items=0-1', 'bytes=0-1,4-5', 'bytes=abc']) {
        const answer = await get(url, { range: ignored });
        expect({ ignored, status: answer.status, same: answer.bytes.equals(file) }).toEqual({ ignored, status: 200, same: true });
      }
    });

    it('carries the content hash as ETag: 304 on If-None-Match, If-Range for another version gets the whole file', async () => {
      const whole = await get(url);
      const etag = whole.headers.get('etag')!;
      expect(etag).toBe(`"${createHash('sha256').update(file).digest('hex')}"`);
      const again = await get(url, { 'if-none-match': etag });
      expect(again.status).toBe(304);
      expect(again.bytes.length).toBe(0);
      expect(again.headers.get('etag')).toBe(etag);
      expect((await get(url, { 'if-none-match': `"other", W/${etag}` })).status).toBe(304);
      expect((await get(url, { 'if-none-match': '"other"' })).status).toBe(200);
      expect((await get(url, { range: 'bytes=0-3', 'if-range': etag })).status).toBe(206);
      expect((await get(url, { range: 'bytes=0-3', 'if-range': '"stale"' })).status).toBe(200);
    });
  });
});
