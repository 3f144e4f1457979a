import { Client } from 'pg';
import type { Knex } from '@mikro-orm/postgresql';
import type { Logger } from '../log';

/** The PostgreSQL NOTIFY channel every API process listens on. */
export const INVALIDATION_CHANNEL = 'gateway_cache_invalidation';

/** Waits between reconnections of a lost listening connection (ms). */
const RECONNECT_DELAY_MS = 1000;

/** What changed: one key (its row id), or the routing data (models, channels). */
export type CacheChange = { kind: 'key'; keyId: string } | { kind: 'routes' };

/** The notification of a change to models or channels (the worker sends it raw when it disables a channel). */
export const ROUTES_CHANGED: CacheChange = { kind: 'routes' };

/**
 * Cache invalidation across API replicas, through PostgreSQL LISTEN/NOTIFY. An admin change publishes
 * what it changed; every process (the one that made it included) drops the matching cache entries as
 * soon as the notification arrives, a few milliseconds later. The caches' TTL stays as a backstop: a
 * notification lost while the listening connection was down is covered by dropping everything on
 * reconnection, and by the TTL meanwhile.
 */
export interface CacheInvalidation {
  /** Tells every process; this one drops its entries before the call returns. */
  publish(change: CacheChange): Promise<void>;
  /** `listener(null)`: drop everything (after a reconnection, notifications may have been missed). */
  subscribe(listener: (change: CacheChange | null) => void): void;
  /** Notifications received from PostgreSQL so far (tests assert the invalidation came through NOTIFY). */
  received(): number;
  close(): Promise<void>;
}

export async function startCacheInvalidation(opts: { databaseUrl: string; knex: () => Knex; log: Logger }): Promise<CacheInvalidation> {
  const listeners: ((change: CacheChange | null) => void)[] = [];
  let receivedCount = 0;
  let client: Client | null = null;
  let closed = false;
  let reconnectTimer: NodeJS.Timeout | null = null;

  const deliver = (change: CacheChange | null) => {
    for (const listener of listeners) listener(change);
  };

  async function connect(): Promise<void> {
    const next = new Client({ connectionString: opts.databaseUrl });
    next.on('notification', (message) => {
      if (message.channel !== INVALIDATION_CHANNEL) return;
      const change = parseChange(message.payload);
      receivedCount++;
      // An unreadable payload (a newer process's format): drop everything rather than miss a change.
      deliver(change);
    });
    const lost = (error?: Error) => {
      if (client !== next) return;
      client = null;
      next.removeAllListeners('notification');
      void next.end().catch(() => undefined);
      if (closed) return;
      opts.log.warn({ err: error }, 'cache invalidation connection lost; reconnecting');
      scheduleReconnect();
    };
    next.on('error', lost);
    next.on('end', () => lost());
    await next.connect();
    await next.query(`listen ${INVALIDATION_CHANNEL}`);
    client = next;
  }

  function scheduleReconnect(): void {
    if (reconnectTimer || closed) return;
    reconnectTimer = setTimeout(() => {
      reconnectTimer = null;
      connect().then(
        // Changes made while we were deaf are unknown: forget everything once.
        () => deliver(null),
        (error) => {
          opts.log.warn({ err: error }, 'cache invalidation reconnect failed');
          scheduleReconnect();
        },
      );
    }, RECONNECT_DELAY_MS);
    reconnectTimer.unref();
  }

  await connect();

  return {
    async publish(change) {
      deliver(change);
      await opts.knex().raw('select pg_notify(?, ?)', [INVALIDATION_CHANNEL, JSON.stringify(change)]);
    },
    subscribe(listener) {
      listeners.push(listener);
    },
    received: () => receivedCount,
    async close() {
      closed = true;
      if (reconnectTimer) clearTimeout(reconnectTimer);
      const current = client;
      client = null;
      await current?.end().catch(() => undefined);
    },
  };
}

function parseChange(payload: string | undefined): CacheChange | null {
  try {
    const value = JSON.parse(payload ?? '') as Partial<{ kind: string; keyId: unknown }>;
    if (value.kind === 'routes') return { kind: 'routes' };
    if (value.kind === 'key' && typeof value.keyId === 'string') return { kind: 'key', keyId: value.keyId };
  } catch {
    // Falls through to "drop everything".
  }
  return null;
}
