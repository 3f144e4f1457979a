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

/** Where durable copies of generated files live. Local folder here; an S3 bucket would implement the same. */
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
}

export class AssetTooLargeError extends Error {}

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
      const hash = createHash('sha256');
      let bytes = 0;
      const limit = opts?.maxBytes ?? Number.POSITIVE_INFINITY;
      const meter = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          bytes += chunk.length;
          if (bytes > limit) return callback(new AssetTooLargeError(`Asset is larger than ${limit} bytes`));
          hash.update(chunk);
          callback(null, chunk);
        },
      });
      try {
        await pipeline(body, meter, createWriteStream(temp));
        await rename(temp, target);
      } catch (error) {
        await rm(temp, { force: true });
        throw error;
      }
      return { bytes, sha256: hash.digest('hex') };
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
