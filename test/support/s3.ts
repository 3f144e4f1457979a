import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { freePort } from '../../src/infra/ports';
import { findOrInstallS3Server, startS3Server, type S3Server } from '../../src/infra/s3-server';
import { testEnv } from './harness';
import { recordSecret } from './leak-watch';

/** A real S3 server (versitygw) of the test file's own, with one bucket, and the ASSET_STORE=s3 settings for it. */
export async function startTestS3(bucket = 'assets'): Promise<{ server: S3Server; bucket: string; env: Record<string, string>; dispose(): Promise<void> }> {
  const dataDir = path.join(testEnv().dataDir, 's3', randomBytes(4).toString('hex'));
  const binary = await findOrInstallS3Server();
  const server = await startS3Server({
    binary, dataDir, port: await freePort(), buckets: [bucket],
    accessKeyId: `ak${randomBytes(6).toString('hex')}`, secretAccessKey: randomBytes(20).toString('hex'),
  });
  recordSecret(server.secretAccessKey);
  return {
    server,
    bucket,
    env: {
      ASSET_STORE: 's3', S3_ENDPOINT: server.endpoint, S3_BUCKET: bucket, S3_REGION: server.region,
      S3_ACCESS_KEY_ID: server.accessKeyId, S3_SECRET_ACCESS_KEY: server.secretAccessKey, S3_FORCE_PATH_STYLE: 'true',
    },
    async dispose() {
      await server.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
