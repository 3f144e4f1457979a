import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** A byte range of a stored file, both ends included (as HTTP's `Range: bytes=start-end`). */
export interface ByteRange {
  start: number;
  end: number;
}

/** What a presigned link makes the object store answer with. */
export interface PresignOptions {
  expiresInSeconds: number;
  contentType: string;
  contentDisposition: string;
}

/**
 * Where durable copies of generated files live: a local folder (src/storage/asset-store.ts, the embedded
 * default) or an S3 bucket (src/storage/s3-asset-store.ts), chosen by ASSET_STORE.
 */
export interface AssetStore {
  /**
   * Streams `body` to `key`, returning its size and SHA-256. Writing the same key twice is harmless.
   * Past `maxBytes` it fails with AssetTooLargeError and keeps nothing. `contentType` is what the gateway
   * decided the file is (a store that keeps metadata, like S3, may record it; the database row decides).
   */
  put(key: string, body: Readable, opts?: { maxBytes?: number; contentType?: string }): Promise<{ bytes: number; sha256: string }>;
  /**
   * Opens a stored file, or only `range` of it (the caller checked the range against the file's size).
   * `bytes` is always the size of the whole file. Null when there is no such file.
   */
  open(key: string, opts?: { range?: ByteRange }): Promise<{ body: Readable; bytes: number; contentType?: string } | null>;
  /** A short-lived URL that serves the object directly; only stores that can sign one have it. */
  presign?(key: string, opts: PresignOptions): Promise<string>;
}

export class AssetTooLargeError extends Error {}

/**
 * Counts and hashes what passes through and fails with AssetTooLargeError past `maxBytes`; `result()`
 * is valid once the stream has ended. Shared by every store so the cap and the hash mean the same.
 */
export function createMeter(maxBytes = Number.POSITIVE_INFINITY): { stream: Transform; result(): { bytes: number; sha256: string } } {
  const hash = createHash('sha256');
  let bytes = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      if (bytes > maxBytes) return callback(new AssetTooLargeError(`Asset is larger than ${maxBytes} bytes`));
      hash.update(chunk);
      callback(null, chunk);
    },
  });
  return { stream, result: () => ({ bytes, sha256: hash.digest('hex') }) };
}

export function createLocalAssetStore(rootDir: string): AssetStore {
  const root = resolve(rootDir);
  const pathOf = (key: string) => {
    const full = resolve(join(root, key));
    if (!full.startsWith(root + sep)) throw new Error('Asset key escapes the store');
    return full;
  };
  return {
    async put(key, body, opts) {
      const target = pathOf(key);
      await mkdir(dirname(target), { recursive: true });
      const temp = `${target}.${process.pid}.${Date.now()}.partial`;
      const meter = createMeter(opts?.maxBytes);
      try {
        await pipeline(body, meter.stream, createWriteStream(temp));
        await rename(temp, target);
      } catch (error) {
        await rm(temp, { force: true });
        throw error;
      }
      return meter.result();
    },
    async open(key, opts) {
      const target = pathOf(key);
      try {
        const info = await stat(target);
        const range = opts?.range;
        return { body: createReadStream(target, range ? { start: range.start, end: range.end } : {}), bytes: info.size };
      } catch {
        return null;
      }
    },
  };
}
