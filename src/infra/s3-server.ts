import { CreateBucketCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import fs from 'node:fs/promises';
import path from 'node:path';
import { findOrInstallGoBinary, type GoBinaryOptions } from './go-binaries';
import { isPortOpen } from './ports';
import { startServiceProcess } from './service-process';

/** versitygw (Apache-2.0): serves a folder over S3; each sub-folder of data/ is a bucket. */
export const VERSITYGW_VERSION = '1.8.0';

export function findOrInstallS3Server(opts: GoBinaryOptions = {}): Promise<string> {
  return findOrInstallGoBinary(
    {
      title: 'the S3 server (versitygw)',
      cacheName: `versitygw-${VERSITYGW_VERSION}`,
      envVar: 'VERSITYGW_BIN',
      goPackage: `github.com/versity/versitygw/cmd/versitygw@v${VERSITYGW_VERSION}`,
      probeArgs: ['--version'],
    },
    opts,
  );
}

/** A running S3 server, and what a client needs to reach it. */
export interface S3Server {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  pid: number;
  stop(): Promise<void>;
}

export async function startS3Server(opts: {
  binary: string;
  /** Keeps data/ (the buckets) and s3.log. */
  dataDir: string;
  port: number;
  accessKeyId: string;
  secretAccessKey: string;
  /** Created if missing. */
  buckets: string[];
  region?: string;
  log?: (msg: string) => void;
}): Promise<S3Server> {
  const region = opts.region ?? 'us-east-1';
  const dataDir = path.resolve(opts.dataDir);
  const root = path.join(dataDir, 'data');
  // Object metadata (content type, ETag) goes to a side folder: not every file system has user xattrs.
  const meta = path.join(dataDir, 'meta');
  await fs.mkdir(root, { recursive: true });
  await fs.mkdir(meta, { recursive: true });
  if (await isPortOpen('127.0.0.1', opts.port)) throw new Error(`Port ${opts.port} (S3 server) is already in use by another program.`);
  const endpoint = `http://127.0.0.1:${opts.port}`;
  const server = await startServiceProcess({
    title: 'The S3 server (versitygw)',
    command: opts.binary,
    args: ['--port', `127.0.0.1:${opts.port}`, '--region', region, '--quiet', 'posix', '--sidecar', meta, root],
    // The keys through the environment, not argv: argv is visible to every user in `ps`.
    env: { ...process.env, ROOT_ACCESS_KEY_ID: opts.accessKeyId, ROOT_SECRET_ACCESS_KEY: opts.secretAccessKey },
    logPath: path.join(dataDir, 's3.log'),
    ownProcessGroup: true,
    ready: () => isPortOpen('127.0.0.1', opts.port, 500),
  });
  const client = new S3Client({
    endpoint, region, forcePathStyle: true,
    credentials: { accessKeyId: opts.accessKeyId, secretAccessKey: opts.secretAccessKey },
  });
  try {
    for (const bucket of opts.buckets) {
      try {
        await client.send(new CreateBucketCommand({ Bucket: bucket }));
      } catch (error) {
        const name = error instanceof S3ServiceException ? error.name : '';
        if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw error;
      }
    }
  } catch (error) {
    await server.stop();
    throw error;
  } finally {
    client.destroy();
  }
  opts.log?.(`S3 server ready at ${endpoint} (buckets ${opts.buckets.join(', ')}, data ${root})`);
  return { endpoint, region, accessKeyId: opts.accessKeyId, secretAccessKey: opts.secretAccessKey, pid: server.pid, stop: server.stop };
}
