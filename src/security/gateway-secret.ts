import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * The secret that seals credentials and signs links. Production must set GATEWAY_SECRET; a local run
 * generates one into DATA_DIR/secret.key once, so restarts keep old links and sealed secrets readable.
 */
export async function resolveGatewaySecret(opts: { configured: string | undefined; env: string; dataDir: string }): Promise<string> {
  if (opts.configured) return opts.configured;
  if (opts.env === 'production') throw new Error('GATEWAY_SECRET must be set in production (32+ characters)');
  const file = path.join(opts.dataDir, 'secret.key');
  try {
    const existing = (await readFile(file, 'utf8')).trim();
    if (existing.length >= 32) return existing;
  } catch {
    // Not there yet: create it below.
  }
  await mkdir(opts.dataDir, { recursive: true });
  const secret = randomBytes(32).toString('base64url');
  await writeFile(file, secret, { mode: 0o600, flag: 'w' });
  return secret;
}
