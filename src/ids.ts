import { createHash, randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';

/** A random id with a readable prefix, e.g. `task_3k9...`: 20 base-36 characters (~103 bits). */
export function newId(prefix: string): string {
  const bytes = randomBytes(20);
  let out = '';
  for (const byte of bytes) out += ALPHABET[byte % 36];
  return `${prefix}_${out}`;
}

/**
 * The task id that an Idempotency-Key maps to. Deterministic, so concurrent retries of one POST reach
 * the same workflow id and Temporal itself de-duplicates them. `generation` counts the key's reuses
 * after expiry (0: its first use), so an expired key maps to a new task, still deterministically.
 */
export function taskIdForIdempotencyKey(accountId: string, idempotencyKey: string, generation = 0): string {
  const seed = generation === 0 ? `${accountId}\n${idempotencyKey}` : `${accountId}\n${idempotencyKey}\n${generation}`;
  const digest = createHash('sha256').update(seed).digest();
  let out = '';
  for (const byte of digest.subarray(0, 20)) out += ALPHABET[byte % 36];
  return `task_${out}`;
}
