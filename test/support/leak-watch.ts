/**
 * What the secret scan at the end of `npm test` (scripts/secret-scan.ts) reads. While tests run, every
 * secret they create (consumer keys, webhook secrets, the fakes' provider credentials) is appended to
 * `<TEST_DATA_DIR>/leak-watch/secrets-<pid>.txt`, the gateways' logs go to `logs-<pid>.log`, and every
 * error answer's body to `errors-<pid>.txt`. One file per process: jest runs unit tests in parallel workers.
 *
 * Outside `npm test` (no TEST_DATA_DIR) nothing is recorded.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';

export const LEAK_WATCH_DIR = 'leak-watch';

function watchDir(): string | null {
  const dataDir = process.env.TEST_DATA_DIR;
  if (!dataDir) return null;
  const dir = path.join(dataDir, LEAK_WATCH_DIR);
  mkdirSync(dir, { recursive: true });
  return dir;
}

function append(kind: 'secrets' | 'errors', line: string): void {
  const dir = watchDir();
  if (dir) appendFileSync(path.join(dir, `${kind}-${process.pid}.txt`), `${line}\n`);
}

/** Remembers a secret the scan must not find anywhere it looks. */
export function recordSecret(secret: string | undefined | null): void {
  if (secret) append('secrets', secret);
}

/** Remembers an error answer's body (one line: newlines escaped by JSON). */
export function recordErrorBody(status: number, route: string, text: string): void {
  append('errors', JSON.stringify({ status, route, text }));
}

/** The file this process's gateway logs go to, or null when not under `npm test`. */
export function logFile(name: string): string | null {
  const dir = watchDir();
  return dir ? path.join(dir, `logs-${name}-${process.pid}.log`) : null;
}

/** Consumer keys (`sk-gw-...`) and webhook secrets (`whsec_...`) anywhere in an API answer. */
export function recordSecretsIn(value: unknown): void {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const item = stack.pop();
    if (typeof item === 'string') {
      if (/^(sk-gw-|whsec_|gwcs_)/.test(item)) recordSecret(item);
    } else if (item && typeof item === 'object') {
      stack.push(...Object.values(item));
    }
  }
}

/** Every string and byte payload of a value (a workflow history: payloads are JSON in bytes), as UTF-8. */
export function textOf(value: unknown): string {
  const out: string[] = [];
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const item = stack.pop();
    if (typeof item === 'string') out.push(item);
    else if (item instanceof Uint8Array) out.push(Buffer.from(item).toString('utf8'));
    else if (item && typeof item === 'object') stack.push(...Object.values(item));
  }
  return out.join('\n');
}
