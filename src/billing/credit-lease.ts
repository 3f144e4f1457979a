/**
 * Credit leases for the synchronous token routes (chat completions, embeddings): the ledger without a
 * database round trip per request.
 *
 * A lease belongs to one API process and one (account, key). It is made of blocks; each block is an
 * ordinary hold (ref `lease_...`) taken with hold(), so the wallet, the key's total budget and its monthly
 * budget are checked by the same conditional updates as any other hold. A request carves its estimate
 * out of the blocks in memory; when they can't cover it, the lease takes a new block, so a request is
 * refused exactly when the wallet (or budget) plus the lease's uncarved credits can't cover it, as with a
 * hold per request. A quiet lease takes exactly the shortfall (a hold per request, in effect); only a busy
 * one (LEASE_BUSY_REQUESTS requests' worth in the last second or two) takes bigger blocks, sized by its
 * recent spending. That bounds what a lease holds beyond its requests' own estimates, which nobody
 * else can use meanwhile: another key, a media task or another replica spending the same wallet may get
 * a 402 while a busy lease holds about LEASE_MIN_BLOCK_REQUESTS requests' or LEASE_BLOCK_SECONDS of its
 * spending more than it carved.
 *
 * A settled request gives back what it did not capture to its blocks at once; what it captured is
 * written, with its usage row, by a batched flush every LEASE_FLUSH_MS: one transaction per lease inserts
 * the usage rows and one `capture` ledger row per request (ref = the request's ref), lowers the blocks by
 * the captured amounts and moves them from `reserved` to spent on the account and the key. Usage row and
 * capture commit together and the usage ref is unique, so a replayed flush changes nothing, and captures
 * always equal usage credits. Blocks idle for LEASE_IDLE_MS (or older than LEASE_MAX_AGE_MS, once their
 * requests are done) are released with closeHold(); close() flushes and releases everything at shutdown.
 *
 * A request may capture more than it carved (its real usage cost more than the estimate): its carved
 * part is captured from the blocks as usual, and the flush charges the rest with chargeBeyondHold in the
 * same transaction (from the balance, the remainder as the account's debt, ledger.ts). When that makes
 * debt, every lease of the account in this process stops lending, so the next request must take a new
 * hold, which the debt refuses (402); the retired blocks go back to the wallet, paying the debt.
 *
 * The invariant `balance + reserved - debt = top-ups - captures` holds at every moment: uncarved,
 * in-flight and settled-but-unflushed credits all sit in open block holds (an overage is charged only
 * when it is written). What lags (by about LEASE_FLUSH_MS) is the
 * moment a request's usage row and capture appear, and the moment unused credits return to the balance;
 * readers that must see them call flush() or quiesce() (the admin money reads and GET /v1/usage do).
 *
 * A crashed process leaves its blocks open; the stale-hold sweeper releases them (prefix `lease_`).
 * Requests it had settled but not flushed are then never charged: the error favours the customer and is
 * bounded by the traffic of one flush interval.
 */
import type { Knex } from '@mikro-orm/postgresql';
import { newId } from '../ids';
import type { Logger } from '../log';
import { chargeBeyondHold, closeHold, hold } from './ledger';

/** How often settled requests are written (ms): about the most a usage row lags its response. */
export const LEASE_FLUSH_MS = 20;
/** A block nobody carved from for this long (ms), with no request in flight, goes back to the wallet. */
export const LEASE_IDLE_MS = 1000;
/** A block stops lending after this long (ms), well under the stale-hold sweeper's age. */
export const LEASE_MAX_AGE_MS = 10 * 60 * 1000;
/** A lease that carved this many requests' worth (like the one asking) lately takes blocks bigger than the shortfall. */
export const LEASE_BUSY_REQUESTS = 4;
/** A busy lease's new block covers at least this many requests like the one that asked for it. */
export const LEASE_MIN_BLOCK_REQUESTS = 16;
/** ...and at least this many seconds of the lease's recent spending. */
const LEASE_BLOCK_SECONDS = 0.5;
/** Settlements kept for a retry after a failed flush, at most; beyond this they are dropped (logged). */
const MAX_PENDING = 100_000;

/** Everything a usage row records; credits are the captured amount. */
export interface UsageInput {
  model: string;
  category: string;
  channelId: string | null;
  units: Record<string, number>;
  status: string;
  latencyMs: number;
}

export type ReserveOutcome =
  | { status: 'held'; reservation: Reservation }
  | { status: 'insufficient' }
  | { status: 'budget_exceeded'; period: 'total' | 'monthly' };

/** Credits carved for one request. Settle it exactly once. */
export interface Reservation {
  readonly ref: string;
  readonly amount: number;
}

interface Block {
  ref: string;
  /** Uncarved credits. The block's hold amount = available + carved in flight + captured not yet flushed. */
  available: number;
  inFlight: number;
  /** Settled requests with a capture from this block not yet written. */
  pending: number;
  createdAt: number;
  lastUsed: number;
  state: 'lending' | 'retired' | 'closing';
}

interface Lease {
  accountId: string;
  apiKeyId: string;
  blocks: Block[];
  growing: Promise<ReserveOutcome | null> | null;
  /** Credits carved in the current and the previous one-second window, to size the next block. */
  window: { start: number; current: number; previous: number };
}

interface Part {
  block: Block;
  amount: number;
  captured: number;
}

interface Carved extends Reservation {
  lease: Lease;
  parts: Part[];
  settled: boolean;
}

interface Settlement {
  ref: string;
  lease: Lease;
  parts: Part[];
  /** The request's full price; above the parts' captures when usage cost more than was carved. */
  capture: number;
  usage: UsageInput;
}

/** What a settlement charges beyond what it carved. */
const overageOf = (s: Settlement) => s.capture - s.parts.reduce((sum, p) => sum + p.captured, 0);

export interface CreditLeasesDeps {
  knex: () => Knex;
  log: Logger;
  now?: () => number;
  /** Overrides for tests. */
  flushMs?: number;
  idleMs?: number;
  maxAgeMs?: number;
}

export type CreditLeases = ReturnType<typeof createCreditLeases>;

export function createCreditLeases(deps: CreditLeasesDeps) {
  const now = deps.now ?? Date.now;
  const idleMs = deps.idleMs ?? LEASE_IDLE_MS;
  const maxAgeMs = deps.maxAgeMs ?? LEASE_MAX_AGE_MS;
  const leases = new Map<string, Lease>();
  let pending: Settlement[] = [];
  let closed = false;
  let running: Promise<void> | null = null;
  let chain: Promise<void> = Promise.resolve();

  const timer = setInterval(() => {
    if (running || (pending.length === 0 && leases.size === 0)) return;
    running = serially({}).finally(() => (running = null));
  }, deps.flushMs ?? LEASE_FLUSH_MS);
  timer.unref();

  function leaseFor(accountId: string, apiKeyId: string): Lease {
    const id = `${accountId}\n${apiKeyId}`;
    let lease = leases.get(id);
    if (!lease) {
      lease = { accountId, apiKeyId, blocks: [], growing: null, window: { start: now(), current: 0, previous: 0 } };
      leases.set(id, lease);
    }
    return lease;
  }

  const lending = (lease: Lease) => lease.blocks.filter((b) => b.state === 'lending');
  const availableIn = (lease: Lease) => lending(lease).reduce((sum, b) => sum + b.available, 0);

  /** Takes `amount` from the lending blocks, oldest first, or nothing when they can't cover it. */
  function carve(lease: Lease, amount: number): Part[] | null {
    const blocks = lending(lease);
    if (blocks.reduce((sum, b) => sum + b.available, 0) < amount) return null;
    const parts: Part[] = [];
    let left = amount;
    const at = now();
    for (const block of blocks) {
      if (left === 0) break;
      const take = Math.min(left, block.available);
      if (take === 0) continue;
      block.available -= take;
      block.inFlight += 1;
      block.lastUsed = at;
      parts.push({ block, amount: take, captured: 0 });
      left -= take;
    }
    const w = lease.window;
    if (at - w.start >= 1000) {
      w.previous = at - w.start >= 2000 ? 0 : w.current;
      w.current = 0;
      w.start = at;
    }
    w.current += amount;
    return parts;
  }

  /** One new block: a bigger one if the wallet and budgets allow, else exactly the shortfall. Null when it got one. */
  async function grow(lease: Lease, shortfall: number, requestAmount: number): Promise<ReserveOutcome | null> {
    const recent = Math.max(lease.window.current, lease.window.previous);
    const busy = recent >= requestAmount * LEASE_BUSY_REQUESTS;
    const target = busy ? Math.max(shortfall, requestAmount * LEASE_MIN_BLOCK_REQUESTS, Math.ceil(recent * LEASE_BLOCK_SECONDS)) : shortfall;
    const sizes = target > shortfall ? [target, shortfall] : [shortfall];
    let outcome: Awaited<ReturnType<typeof hold>> | null = null;
    for (const size of sizes) {
      const ref = newId('lease');
      outcome = await hold(deps.knex(), { ref, accountId: lease.accountId, apiKeyId: lease.apiKeyId, amount: size });
      if (outcome.status === 'held') {
        const at = now();
        lease.blocks.push({ ref, available: size, inFlight: 0, pending: 0, createdAt: at, lastUsed: at, state: 'lending' });
        return null;
      }
    }
    if (outcome?.status === 'budget_exceeded') return { status: 'budget_exceeded', period: outcome.period };
    return { status: 'insufficient' };
  }

  /** Writes one lease's settlements in one transaction. Returns the debt it made. */
  async function write(lease: Lease, batch: Settlement[]): Promise<number> {
    let debt = 0;
    await deps.knex().transaction(async (trx) => {
      debt = 0;
      const blockRefs = [...new Set(batch.flatMap((s) => s.parts.filter((p) => p.captured > 0).map((p) => p.block.ref)))];
      const open = blockRefs.length === 0
        ? { rows: [] as { id: string; budget_month: string | null }[] }
        : await trx.raw(`select id, budget_month from holds where id = any(?) and status = 'open' for update`, [blockRefs]);
      const months = new Map<string, string | null>(open.rows.map((r: { id: string; budget_month: string | null }) => [r.id, r.budget_month]));
      const usable = batch.filter((s) => s.parts.every((p) => p.captured === 0 || months.has(p.block.ref)));
      if (usable.length < batch.length) {
        // Only a block the sweeper released (its process thought dead) gets here: the request is not charged.
        const written = new Set(usable);
        deps.log.error({ refs: batch.filter((s) => !written.has(s)).map((s) => s.ref) }, 'lease block already released; requests left uncharged');
      }
      if (usable.length === 0) return;
      const inserted = await trx.raw(
        `insert into usage_records (id, ref, account_id, api_key_id, model, category, channel_id, units, credits, status, latency_ms)
         select 'use_' || t.ref, t.ref, ?, ?, t.model, t.category, nullif(t.channel, ''), t.units::jsonb, t.credits, t.status, t.latency
         from unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::bigint[], ?::text[], ?::int[])
           as t(ref, model, category, channel, units, credits, status, latency)
         on conflict (ref) do nothing returning ref`,
        [
          lease.accountId, lease.apiKeyId,
          usable.map((s) => s.ref), usable.map((s) => s.usage.model), usable.map((s) => s.usage.category), usable.map((s) => s.usage.channelId ?? ''),
          usable.map((s) => JSON.stringify(s.usage.units)), usable.map((s) => s.capture), usable.map((s) => s.usage.status),
          usable.map((s) => Math.round(s.usage.latencyMs)),
        ],
      );
      const fresh = new Set((inserted.rows as { ref: string }[]).map((r) => r.ref));
      const applied = usable.filter((s) => fresh.has(s.ref) && s.capture > 0);
      if (applied.length === 0) return;
      await trx.raw(
        `insert into ledger_entries (account_id, kind, amount, ref) select ?, 'capture', t.amount, t.ref from unnest(?::text[], ?::bigint[]) as t(ref, amount)`,
        [lease.accountId, applied.map((s) => s.ref), applied.map((s) => s.capture)],
      );
      for (const s of applied) {
        const overage = overageOf(s);
        if (overage === 0) continue;
        const owed = await chargeBeyondHold(trx, { ref: s.ref, accountId: lease.accountId, apiKeyId: lease.apiKeyId, amount: overage });
        if (owed > 0) await trx.raw(`update usage_records set debt = ? where ref = ?`, [owed, s.ref]);
        debt += owed;
      }
      const perBlock = new Map<string, number>();
      for (const s of applied) for (const p of s.parts) if (p.captured > 0) perBlock.set(p.block.ref, (perBlock.get(p.block.ref) ?? 0) + p.captured);
      if (perBlock.size === 0) return;
      const refs = [...perBlock.keys()];
      const amounts = refs.map((r) => perBlock.get(r)!);
      const lowered = await trx.raw(
        `update holds h set amount = h.amount - t.amount, captured = h.captured + t.amount
         from unnest(?::text[], ?::bigint[]) as t(id, amount) where h.id = t.id and h.amount >= t.amount returning h.id`,
        [refs, amounts],
      );
      if (lowered.rows.length !== refs.length) throw new Error('a lease block holds less than its captures');
      const total = amounts.reduce((a, b) => a + b, 0);
      await trx.raw(`update accounts set reserved = reserved - ? where id = ?`, [total, lease.accountId]);
      await trx.raw(`update api_keys set budget_reserved = budget_reserved - ?, budget_spent = budget_spent + ? where id = ?`, [total, total, lease.apiKeyId]);
      const perMonth = new Map<string, number>();
      for (const [ref, amount] of perBlock) {
        const month = months.get(ref);
        if (month) perMonth.set(month, (perMonth.get(month) ?? 0) + amount);
      }
      for (const [month, amount] of perMonth) {
        await trx.raw(`update key_monthly_spend set reserved = reserved - ?, spent = spent + ? where api_key_id = ? and month = ?`, [amount, amount, lease.apiKeyId, month]);
      }
    });
    return debt;
  }

  /** Writes every pending settlement, then releases the blocks that may go. */
  async function run(opts: { closeWhere?: (lease: Lease) => boolean }): Promise<void> {
    const batch = pending;
    pending = [];
    const byLease = new Map<Lease, Settlement[]>();
    for (const s of batch) {
      const group = byLease.get(s.lease);
      if (group) group.push(s);
      else byLease.set(s.lease, [s]);
    }
    for (const [lease, settlements] of byLease) {
      try {
        const debt = await write(lease, settlements);
        for (const s of settlements) for (const p of s.parts) if (p.captured > 0) p.block.pending -= 1;
        if (debt > 0) stopLending(lease.accountId);
      } catch (error) {
        // Written again at the next flush: the usage ref makes the retry exact.
        deps.log.error({ err: error, requests: settlements.length }, 'flushing request settlements failed; will retry');
        if (pending.length + settlements.length <= MAX_PENDING) pending.push(...settlements);
        else deps.log.error({ refs: settlements.map((s) => s.ref) }, 'too many unwritten settlements; requests left uncharged');
      }
    }
    const at = now();
    for (const [id, lease] of leases) {
      const forced = opts.closeWhere?.(lease) ?? false;
      for (const block of lease.blocks) {
        if (block.state === 'lending' && (at - block.createdAt >= maxAgeMs || forced)) block.state = 'retired';
        const idle = block.state === 'lending' && at - block.lastUsed >= idleMs;
        if (block.inFlight === 0 && block.pending === 0 && (idle || block.state === 'retired')) block.state = 'closing';
      }
      for (const block of lease.blocks.filter((b) => b.state === 'closing')) {
        try {
          await closeHold(deps.knex(), { ref: block.ref, capture: 0 });
          lease.blocks.splice(lease.blocks.indexOf(block), 1);
        } catch (error) {
          deps.log.error({ err: error, ref: block.ref }, 'releasing a lease block failed; will retry');
          block.state = 'retired';
        }
      }
      if (lease.blocks.length === 0 && !lease.growing) leases.delete(id);
    }
  }

  /** The account owes: none of its leases here lends any more, so its next request asks the ledger (and gets 402). */
  function stopLending(accountId: string): void {
    for (const lease of leases.values()) {
      if (lease.accountId !== accountId) continue;
      for (const block of lease.blocks) if (block.state === 'lending') block.state = 'retired';
    }
  }

  function serially(opts: { closeWhere?: (lease: Lease) => boolean }): Promise<void> {
    const next = chain.then(() => run(opts));
    chain = next.catch((error: unknown) => deps.log.error({ err: error }, 'credit lease flush failed'));
    return next;
  }

  return {
    /** Carves `amount` for request `ref` from the (account, key)'s lease, growing it when needed. */
    async reserve(input: { ref: string; accountId: string; apiKeyId: string; amount: number }): Promise<ReserveOutcome> {
      if (closed) throw new Error('credit leases are closed');
      if (!Number.isInteger(input.amount) || input.amount < 0) throw new Error(`amount must be a non-negative integer, got ${input.amount}`);
      const lease = leaseFor(input.accountId, input.apiKeyId);
      for (;;) {
        const parts = carve(lease, input.amount);
        if (parts) {
          const carved: Carved = { ref: input.ref, amount: input.amount, lease, parts, settled: false };
          return { status: 'held', reservation: carved };
        }
        if (lease.growing) {
          await lease.growing.catch(() => null);
          continue;
        }
        const growing = grow(lease, input.amount - availableIn(lease), input.amount);
        lease.growing = growing;
        let refused: ReserveOutcome | null;
        try {
          refused = await growing;
        } finally {
          if (lease.growing === growing) lease.growing = null;
        }
        if (refused) return refused;
      }
    },

    /**
     * Settles a reservation: `capture` is charged at the next flush together with its usage row (what
     * it carved first, anything beyond from the balance or as debt); what it carved and did not capture
     * is lendable again at once. A second call changes nothing. Returns the capture.
     */
    settle(reservation: Reservation, input: { capture: number; usage: UsageInput }): number {
      const carved = reservation as Carved;
      if (carved.settled) return 0;
      if (!Number.isInteger(input.capture) || input.capture < 0) throw new Error(`capture must be a non-negative integer, got ${input.capture}`);
      carved.settled = true;
      const capture = input.capture;
      let left = capture;
      const at = now();
      for (const part of carved.parts) {
        part.captured = Math.min(left, part.amount);
        left -= part.captured;
        part.block.available += part.amount - part.captured;
        part.block.inFlight -= 1;
        part.block.lastUsed = at;
        if (part.captured > 0) part.block.pending += 1;
      }
      pending.push({ ref: carved.ref, lease: carved.lease, parts: carved.parts, capture, usage: input.usage });
      return capture;
    },

    /** Writes every settled request now (usage rows and captures). */
    flush(): Promise<void> {
      return serially({});
    },

    /**
     * Flushes, then gives back the unused credits of the matching leases: blocks with no request in flight
     * are released now, the others stop lending and go once their requests end. For exact money reads.
     */
    quiesce(filter: { accountId?: string; apiKeyId?: string } = {}): Promise<void> {
      return serially({
        closeWhere: (lease) => (filter.accountId === undefined || lease.accountId === filter.accountId) && (filter.apiKeyId === undefined || lease.apiKeyId === filter.apiKeyId),
      });
    },

    /** At shutdown, after the server stopped taking requests: flush and release everything. */
    async close(): Promise<void> {
      closed = true;
      clearInterval(timer);
      await serially({ closeWhere: () => true });
      const left = [...leases.values()].flatMap((l) => l.blocks.map((b) => b.ref));
      if (left.length > 0 || pending.length > 0) {
        deps.log.warn({ blocks: left, unwritten: pending.length }, 'credit leases left open at shutdown; the stale-hold sweeper releases them');
      }
    },

    /** For tests: stops lending and flushing without writing anything, as a crash would. */
    abandon(): void {
      closed = true;
      clearInterval(timer);
    },
  };
}
