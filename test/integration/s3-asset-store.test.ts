import { ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { loadConfig } from '../../src/config';
import { AssetTooLargeError, type AssetStore } from '../../src/storage/asset-store';
import { createS3AssetStore, createS3Client } from '../../src/storage/s3-asset-store';
import { createCustomer, createMockModel, startTestGateway, waitForTask, type TestGateway } from '../support/harness';
import { startTestS3 } from '../support/s3';

const MiB = 1024 * 1024;

/** `total` bytes in chunks of 1 MiB, deterministic from `seed`, without holding them all in memory. */
function generated(total: number, seed: number): { stream: () => Readable; sha256: string } {
  const chunk = (i: number) => createHash('sha512').update(`${seed}:${i}`).digest().toString('hex').repeat(8192).slice(0, MiB);
  const hash = createHash('sha256');
  for (let at = 0, i = 0; at < total; at += MiB, i++) hash.update(chunk(i).slice(0, Math.min(MiB, total - at)));
  return {
    sha256: hash.digest('hex'),
    stream: () => Readable.from((function* () {
      for (let at = 0, i = 0; at < total; at += MiB, i++) yield Buffer.from(chunk(i).slice(0, Math.min(MiB, total - at)));
    })()),
  };
}

async function readAll(body: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of body) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

/** The S3 asset store against a real S3 server (versitygw serving a folder), not a fake. */
describe('S3 asset store', () => {
  let s3: Awaited<ReturnType<typeof startTestS3>>;
  let store: AssetStore;
  let config: ReturnType<typeof loadConfig>;

  beforeAll(async () => {
    s3 = await startTestS3();
    config = loadConfig({ ...s3.env, S3_KEY_PREFIX: 'gw/' });
    store = createS3AssetStore(config.storage.s3!);
  });
  afterAll(async () => {
    await s3?.dispose();
  });

  async function openMultipartUploads(): Promise<number> {
    const client = createS3Client(config.storage.s3!);
    try {
      const answer = await client.send(new ListMultipartUploadsCommand({ Bucket: s3.bucket }));
      return answer.Uploads?.length ?? 0;
    } finally {
      client.destroy();
    }
  }

  it('stores a small body and reads it back whole and by range, with its size and SHA-256', async () => {
    const body = randomBytes(1000);
    const stored = await store.put('tasks/t1/0.png', Readable.from([body]));
    expect(stored).toEqual({ bytes: 1000, sha256: createHash('sha256').update(body).digest('hex') });

    const whole = await store.open('tasks/t1/0.png');
    expect(whole!.bytes).toBe(1000);
    expect((await readAll(whole!.body)).equals(body)).toBe(true);

    const slice = await store.open('tasks/t1/0.png', { range: { start: 100, end: 199 } });
    expect(slice!.bytes).toBe(1000); // the whole object's size, for Content-Range
    expect((await readAll(slice!.body)).equals(body.subarray(100, 200))).toBe(true);
  });

  it('streams a big video through a multipart upload without changing a byte', async () => {
    const video = generated(21 * MiB, 1); // three parts of 8 MiB
    const stored = await store.put('tasks/t2/0.mp4', video.stream(), { maxBytes: 64 * MiB });
    expect(stored).toEqual({ bytes: 21 * MiB, sha256: video.sha256 });
    const opened = await store.open('tasks/t2/0.mp4');
    expect(opened!.bytes).toBe(21 * MiB);
    const hash = createHash('sha256');
    for await (const part of opened!.body) hash.update(part as Buffer);
    expect(hash.digest('hex')).toBe(video.sha256);
  });

  it('refuses a body over the cap, small or multipart, and leaves neither an object nor an open upload', async () => {
    await expect(store.put('tasks/t3/0.png', Readable.from([randomBytes(2000)]), { maxBytes: 1999 })).rejects.toBeInstanceOf(AssetTooLargeError);
    expect(await store.open('tasks/t3/0.png')).toBeNull();

    await expect(store.put('tasks/t3/1.mp4', generated(20 * MiB, 2).stream(), { maxBytes: 17 * MiB })).rejects.toBeInstanceOf(AssetTooLargeError);
    expect(await store.open('tasks/t3/1.mp4')).toBeNull();
    expect(await openMultipartUploads()).toBe(0);
  });

  it('fails, and stores nothing, when the source breaks off mid-way', async () => {
    const broken = Readable.from((async function* () {
      yield randomBytes(9 * MiB);
      throw new Error('connection reset by the provider');
    })());
    await expect(store.put('tasks/t4/0.mp4', broken)).rejects.toThrow('connection reset by the provider');
    expect(await store.open('tasks/t4/0.mp4')).toBeNull();
    expect(await openMultipartUploads()).toBe(0);
  });

  it('answers null for a missing key and refuses keys that climb out of the prefix', async () => {
    expect(await store.open('tasks/none/0.png')).toBeNull();
    await expect(store.put('../escape.png', Readable.from([Buffer.from('x')]))).rejects.toThrow('escapes');
    await expect(store.open('tasks/../../x')).rejects.toThrow('escapes');
  });

  it('signs a short-lived URL that serves the object with our content type, and stops working when it expires', async () => {
    await store.put('tasks/t5/0.wav', Readable.from([Buffer.from('RIFF....WAVE')]));
    const url = await store.presign!('tasks/t5/0.wav', { expiresInSeconds: 2, contentType: 'audio/wav', contentDisposition: 'inline; filename="a.wav"' });
    const fresh = await fetch(url);
    expect(fresh.status).toBe(200);
    expect(fresh.headers.get('content-type')).toBe('audio/wav');
    expect(await fresh.text()).toBe('RIFF....WAVE');
    await new Promise((resolve) => setTimeout(resolve, 3500));
    expect((await fetch(url)).status).toBe(403);
  });

  it('rejects inconsistent settings with one readable message', () => {
    expect(() => loadConfig({ ASSET_STORE: 's3' })).toThrow('S3_BUCKET is required when ASSET_STORE=s3');
    expect(() => loadConfig({ ...s3.env, S3_SECRET_ACCESS_KEY: '' })).toThrow('set both or neither');
    expect(() => loadConfig({ ASSET_DELIVERY: 'redirect' })).toThrow('redirect needs ASSET_STORE=s3');
  });

  describe('through the gateway', () => {
    let gw: TestGateway;
    afterEach(async () => {
      await gw?.stop();
    });

    async function finishedAsset(): Promise<{ url: string; bytes: number; contentType: string }> {
      const { model } = await createMockModel(gw, { category: 'image', pricing: { per_image: 5 }, settings: { durationMs: 100 } });
      const customer = await createCustomer(gw, { credits: 100 });
      const created = await gw.request('POST', '/v1/images/generations', { key: customer.key, body: { model, prompt: 'a fox' } });
      expect(created.status).toBe(200);
      const task = await waitForTask(gw, customer.key, created.body.id);
      expect(task.status).toBe('succeeded');
      return { url: task.output[0].url, bytes: task.output[0].bytes, contentType: task.output[0].content_type };
    }

    it('stores a task output in the bucket and streams it from there under the same durable link', async () => {
      gw = await startTestGateway({ env: s3.env });
      const asset = await finishedAsset();
      expect(asset.url).toMatch(new RegExp(`^${gw.url}/assets/asset_[^?]+\\?sig=`));
      const served = await fetch(asset.url);
      expect(served.status).toBe(200);
      expect(served.headers.get('content-type')).toBe('image/png');
      const bytes = Buffer.from(await served.arrayBuffer());
      expect(bytes.length).toBe(asset.bytes);
      expect(bytes.subarray(1, 4).toString('ascii')).toBe('PNG');
    });

    it('redirects to a presigned URL when ASSET_DELIVERY=redirect, and still refuses a bad signature', async () => {
      gw = await startTestGateway({ env: { ...s3.env, ASSET_DELIVERY: 'redirect', ASSET_REDIRECT_TTL_SECONDS: '60' } });
      const asset = await finishedAsset();
      const answer = await fetch(asset.url, { redirect: 'manual' });
      expect(answer.status).toBe(302);
      expect(answer.headers.get('cache-control')).toBe('private, no-store');
      const location = answer.headers.get('location')!;
      expect(location.startsWith(`${s3.server.endpoint}/${s3.bucket}/tasks/`)).toBe(true);
      expect(location).toContain('X-Amz-Expires=60');
      const followed = await fetch(location);
      expect(followed.status).toBe(200);
      expect(followed.headers.get('content-type')).toBe('image/png');
      expect((await followed.arrayBuffer()).byteLength).toBe(asset.bytes);
      expect((await fetch(asset.url.replace(/sig=./, 'sig=X'), { redirect: 'manual' })).status).toBe(404);
    });
  });
});
