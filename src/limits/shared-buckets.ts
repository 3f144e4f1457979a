/**
 * Per-key rate limits shared by every API replica, without a database round trip per request.
 *
 * Each limit (a key's requests per minute, its chat tokens per minute) is one token bucket in PostgreSQL
 * (`rate_buckets`): capacity = the limit, refilled at limit/60 a second. A replica leases a share of the
 * bucket (a few tokens, LEASE_FRACTION of the limit) with one conditional update and spends it in
 * memory; when the share is empty it leases again. So the replicas together never admit more than the
 * bucket holds, however the balancer spreads the traffic, and a key costs one query per share, not per
 * request. A share unused for SHARE_IDLE_MS goes back to the bucket (so a replica that stopped getting
 * this key's traffic doesn't strand tokens the others need); close() gives every share back.
 *
 * What a share costs: while replica A holds unspent tokens, replica B may be refused although the key
 * is, in total, under its limit: at most (replicas - 1) x share tokens, i.e. under 10% with 3 replicas
 * and LEASE_FRACTION = 1/50. Token limits are charged after the answer (the count is known only then):
 * a request is admitted while the share has a token left, and its real count is then taken, the share
 * going negative if needed (the debt is leased back before the next admission). A key can so overshoot
 * its tpm by the tokens of the requests in flight when it runs out.
 */
import type { Knex } from '@mikro-orm/postgresql';
import type { Logger } from '../log';

export type LimitKind = 'rpm' | 'tpm';

/** The share a replica leases, as a fraction of the limit (at least 1 token). */
export const LEASE_FRACTION = 1 / 50;
/** A share nobody spent from for this long (ms) goes back to the bucket. */
export const SHARE_IDLE_MS = 1000;

export type TakeOutcome = { ok: true; remaining: number } | { ok: false; retryAfterSeconds: number };

interface Share {
  keyId: string;
  kind: LimitKind;
  capacity: number;
  /** Leased, unspent tokens; negative after a token-counted request spent more than it had. */
  tokens: number;
  lastUsed: number;
  /** The lease in flight: concurrent requests wait for it instead of each leasing. */
  leasing: Promise<void> | null;
  /** The bucket's level after the last lease (for Retry-After). */
  bucketLevel: number;
}

export interface SharedLimits {
  /** Takes `cost` tokens (1 for a request) from the key's limit, leasing a share when this replica's is short. */
  take(keyId: string, kind: LimitKind, capacity: number, cost?: number): Promise<TakeOutcome>;
  /** Charges tokens already used (a chat answer's count) against the key's share; it may go negative. */
  spend(keyId: string, kind: LimitKind, capacity: number, amount: number): void;
  /** Gives every share back to its bucket. */
  close(): Promise<void>;
}

export function createSharedLimits(deps: { knex: () => Knex; log: Logger; now?: () => number }): SharedLimits {
  const now = deps.now ?? Date.now;
  const shares = new Map<string, Share>();
  const sweeper = setInterval(() => void returnIdle(false), SHARE_IDLE_MS / 2);
  sweeper.unref();

  function shareOf(keyId: string, kind: LimitKind, capacity: number): Share {
    const id = `${kind}\n${keyId}`;
    let share = shares.get(id);
    if (!share) {
      share = { keyId, kind, capacity, tokens: 0, lastUsed: now(), leasing: null, bucketLevel: capacity };
      shares.set(id, share);
    }
    // A changed limit applies to the bucket at the next lease; the share keeps what it leased.
    share.capacity = capacity;
    return share;
  }

  async function lease(share: Share, want: number): Promise<void> {
    const rows = await leaseFromBucket(deps.knex(), share.keyId, share.kind, share.capacity, want);
    share.tokens += rows.granted;
    share.bucketLevel = rows.level;
  }

  async function returnShare(share: Share): Promise<void> {
    const amount = share.tokens;
    if (amount === 0) return;
    share.tokens = 0;
    try {
      await giveBack(deps.knex(), share.keyId, share.kind, share.capacity, amount);
    } catch (error) {
      share.tokens += amount;
      deps.log.warn({ err: error, keyId: share.keyId, kind: share.kind }, 'could not give a rate-limit share back');
    }
  }

  async function returnIdle(all: boolean): Promise<void> {
    const at = now();
    for (const [id, share] of shares) {
      if (share.leasing || (!all && at - share.lastUsed < SHARE_IDLE_MS)) continue;
      await returnShare(share);
      if (share.tokens === 0 && !share.leasing) shares.delete(id);
    }
  }

  return {
    async take(keyId, kind, capacity, cost = 1) {
      const share = shareOf(keyId, kind, capacity);
      share.lastUsed = now();
      for (let round = 0; share.tokens < cost && round < 3; round++) {
        if (share.leasing) {
          await share.leasing;
          continue;
        }
        const want = Math.max(1, Math.ceil(capacity * LEASE_FRACTION)) + Math.max(0, Math.ceil(cost - share.tokens) - 1);
        share.leasing = lease(share, want).finally(() => (share.leasing = null));
        await share.leasing;
        // The bucket had less than a whole share: whatever it gave is all there is for now.
        if (share.tokens < cost) break;
      }
      if (share.tokens < cost) {
        const missing = cost - Math.max(0, share.tokens) - Math.max(0, share.bucketLevel);
        return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((missing * 60) / capacity)) };
      }
      share.tokens -= cost;
      return { ok: true, remaining: Math.floor(share.tokens + Math.max(0, share.bucketLevel)) };
    },
    spend(keyId, kind, capacity, amount) {
      const share = shareOf(keyId, kind, capacity);
      share.lastUsed = now();
      share.tokens -= amount;
    },
    async close() {
      clearInterval(sweeper);
      await Promise.all([...shares.values()].map((share) => share.leasing));
      await returnIdle(true);
    },
  };
}

/** The bucket's level now: what it held, refilled at capacity/60 a second since, capped at capacity. */
const LEVEL = `least(cast(:capacity as double precision), tokens + greatest(0, extract(epoch from clock_timestamp() - updated_at)) * cast(:capacity as double precision) / 60.0)`;

/**
 * Grants up to `want` whole tokens from the bucket (creating it full), in one statement: the row lock
 * serialises replicas, so two can't be granted the same tokens.
 */
async function leaseFromBucket(knex: Knex, keyId: string, kind: LimitKind, capacity: number, want: number): Promise<{ granted: number; level: number }> {
  const qualified = (sql: string) => sql.replace(/\b(tokens|updated_at)\b/g, 'rate_buckets.$1');
  const level = qualified(LEVEL);
  const grant = `least(cast(:want as double precision), greatest(0, floor(${level})))`;
  const result = await knex.raw(
    `insert into rate_buckets (api_key_id, kind, tokens, last_grant, updated_at)
     values (:keyId, :kind, cast(:initialTokens as double precision), cast(:initialGrant as double precision), clock_timestamp())
     on conflict (api_key_id, kind) do update set
       last_grant = ${grant},
       tokens = ${level} - ${grant},
       updated_at = clock_timestamp()
     returning last_grant, tokens`,
    { keyId, kind, capacity, want, initialTokens: capacity - Math.min(want, capacity), initialGrant: Math.min(want, capacity) },
  );
  const row = (result as { rows: { last_grant: number | string; tokens: number | string }[] }).rows[0]!;
  return { granted: Number(row.last_grant), level: Number(row.tokens) };
}

/** Puts unspent tokens back (or, negative, charges a debt), never above the capacity. */
async function giveBack(knex: Knex, keyId: string, kind: LimitKind, capacity: number, amount: number): Promise<void> {
  await knex.raw(
    `update rate_buckets set tokens = least(cast(:capacity as double precision), ${LEVEL} + cast(:amount as double precision)), updated_at = clock_timestamp()
     where api_key_id = :keyId and kind = :kind`,
    { keyId, kind, capacity, amount },
  );
}
