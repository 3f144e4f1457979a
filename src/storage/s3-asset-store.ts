import { GetObjectCommand, NoSuchKey, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { Readable } from 'node:stream';
import { AssetTooLargeError, createMeter, type AssetStore } from './asset-store';

/** Where the bucket is and how to reach it (the `storage.s3` group of the config). */
export interface S3StoreConfig {
  /** e.g. http://127.0.0.1:7070 for an S3-compatible server; unset: AWS for the region. */
  endpoint: string | undefined;
  bucket: string;
  region: string;
  /** Unset: the SDK's default chain (environment, shared files, instance role). */
  credentials: { accessKeyId: string; secretAccessKey: string } | undefined;
  /** bucket in the path (http://host/bucket/key), which most self-hosted servers need. */
  forcePathStyle: boolean;
  /** Prepended to every key, so one bucket can hold several gateways' assets. */
  prefix: string;
}

/** Parts of a multipart upload: S3's minimum is 5 MiB; at most PART_BYTES * QUEUE_SIZE sit in memory per upload. */
const PART_BYTES = 8 * 1024 * 1024;
const QUEUE_SIZE = 2;

/**
 * Assets in an S3 bucket. Uploads stream through the size cap and the hash into a multipart upload (one
 * PutObject when the body fits in one part); the object appears only when the upload completes, so a
 * cut or oversized upload leaves nothing behind (the upload is aborted). Reads map a byte range to
 * GetObject's Range.
 */
export function createS3AssetStore(config: S3StoreConfig, client = createS3Client(config)): AssetStore {
  const objectKey = (key: string) => {
    // The same rule as the local store: keys are ours, but a key that climbs out is a bug worth stopping.
    if (key.split('/').some((part) => part === '..' || part === '') || key.startsWith('/')) throw new Error('Asset key escapes the store');
    return `${config.prefix}${key}`;
  };
  return {
    async put(key, body, opts) {
      const meter = createMeter(opts?.maxBytes);
      // A failing source (a download cut short) must fail the upload, not end it early as if complete.
      body.once('error', (error) => meter.stream.destroy(error));
      const upload = new Upload({
        client,
        params: { Bucket: config.bucket, Key: objectKey(key), Body: body.pipe(meter.stream) },
        partSize: PART_BYTES,
        queueSize: QUEUE_SIZE,
        leavePartsOnError: false,
      });
      try {
        await upload.done();
      } catch (error) {
        body.destroy();
        // The SDK may wrap the stream's error: the cap is what the caller must see.
        const cause = meter.stream.errored;
        throw cause instanceof AssetTooLargeError ? cause : error;
      }
      return meter.result();
    },
    async open(key, opts) {
      const range = opts?.range;
      try {
        const answer = await client.send(
          new GetObjectCommand({ Bucket: config.bucket, Key: objectKey(key), Range: range ? `bytes=${range.start}-${range.end}` : undefined }),
        );
        if (!answer.Body) return null;
        // With a range, ContentLength is the slice; the whole size is after the slash of Content-Range.
        const total = range ? Number(/\/(\d+)$/.exec(answer.ContentRange ?? '')?.[1]) : Number(answer.ContentLength);
        if (!Number.isFinite(total)) throw new Error(`The object store gave no size for ${key}`);
        return { body: answer.Body as Readable, bytes: total };
      } catch (error) {
        if (error instanceof NoSuchKey || (error instanceof S3ServiceException && error.$metadata.httpStatusCode === 404)) return null;
        throw error;
      }
    },
    presign(key, opts) {
      const command = new GetObjectCommand({
        Bucket: config.bucket,
        Key: objectKey(key),
        ResponseContentType: opts.contentType,
        ResponseContentDisposition: opts.contentDisposition,
      });
      return getSignedUrl(client, command, { expiresIn: opts.expiresInSeconds });
    },
  };
}

export function createS3Client(config: S3StoreConfig): S3Client {
  return new S3Client({
    endpoint: config.endpoint,
    region: config.region,
    credentials: config.credentials,
    forcePathStyle: config.forcePathStyle,
    // A lost connection is retried by the SDK; a stalled one must not hold an activity forever.
    requestHandler: { connectionTimeout: 10_000, requestTimeout: 120_000 },
  });
}
