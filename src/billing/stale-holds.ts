import type { Knex } from '@mikro-orm/postgresql';
import { closeHold } from './ledger';

/**
 * Refs of holds taken for synchronous requests (chat, embeddings), which their own request settles, and
 * of credit-lease blocks, which their own API process releases (credit-lease.ts).
 */
const REQUEST_HOLD_PREFIXES = ['chat_', 'emb_', 'lease_'];

/**
 * Older than this, a request hold can only belong to a request whose process died before settling, and a
 * lease block to a dead process (a live one stops lending from a block after LEASE_MAX_AGE_MS).
 */
export const STALE_REQUEST_HOLD_MS = 60 * 60 * 1000;

/**
 * Releases request holds left open by an API process that died mid-request. Task holds are never touched:
 * their workflow settles them, however long it takes. Safe with several API replicas (an advisory lock
 * lets one sweep at a time) and with a request that settles concurrently (closing is idempotent).
 */
export async function releaseStaleRequestHolds(knex: Knex, olderThanMs = STALE_REQUEST_HOLD_MS): Promise<number> {
  return knex.transaction(async (trx) => {
    const lock = await trx.raw(`select pg_try_advisory_xact_lock(hashtext('release-stale-request-holds')) as locked`);
    if (!lock.rows[0].locked) return 0;
    const stale = await trx.raw(
      `select id from holds where status = 'open' and created_at < now() - (? * interval '1 millisecond')
       and (${REQUEST_HOLD_PREFIXES.map(() => 'id like ?').join(' or ')}) limit 1000`,
      [olderThanMs, ...REQUEST_HOLD_PREFIXES.map((prefix) => `${prefix}%`)],
    );
    let released = 0;
    for (const row of stale.rows as { id: string }[]) {
      const closed = await closeHold(knex, { ref: row.id, capture: 0 });
      if (closed.status === 'closed') released += 1;
    }
    return released;
  });
}
