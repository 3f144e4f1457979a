import type { EntityManager } from '@mikro-orm/postgresql';
import { createKeyCache, KEY_CACHE_SIZE, NEGATIVE_KEY_CACHE_SIZE } from '../../src/http/auth';
import { Lru } from '../../src/cache/lru';

/** An EntityManager that knows one key and counts its lookups. */
function fakeEm(knownHash: string) {
  const lookups: string[] = [];
  const em = {
    findOne: async (_entity: unknown, where: { keyHash: string }) => {
      lookups.push(where.keyHash);
      if (where.keyHash !== knownHash) return null;
      return { id: 'key_real', accountId: 'acct_1', group: 'default', models: null, ipAllowlist: null, rpm: null, tpm: null, defaultCallbackUrl: null, expiresAt: null, revokedAt: null };
    },
  } as unknown as EntityManager;
  return { em: () => em, lookups };
}

describe('key cache', () => {
  it('keeps a real key cached through a spray of random keys bigger than both caches', async () => {
    const { em, lookups } = fakeEm('real');
    let clock = 0;
    const cache = createKeyCache({ em, ttlMs: 60_000, now: () => clock });
    expect((await cache.load('real')).row?.id).toBe('key_real');
    for (let i = 0; i < KEY_CACHE_SIZE + NEGATIVE_KEY_CACHE_SIZE + 5000; i++) await cache.load(`random-${i}`);
    clock += 1000;
    const before = lookups.length;
    expect((await cache.load('real')).row?.id).toBe('key_real');
    expect(lookups.length).toBe(before);
    expect(cache.sizes()).toEqual({ known: 1, unknown: NEGATIVE_KEY_CACHE_SIZE });
  });

  it('answers a repeated unknown key from the negative cache until its TTL', async () => {
    const { em, lookups } = fakeEm('real');
    let clock = 0;
    const cache = createKeyCache({ em, ttlMs: 2000, now: () => clock });
    expect((await cache.load('nope')).row).toBeNull();
    expect((await cache.load('nope')).row).toBeNull();
    expect(lookups).toEqual(['nope']);
    clock += 2001;
    await cache.load('nope');
    expect(lookups).toEqual(['nope', 'nope']);
  });

  it('drops a key on its invalidation, and everything on a reset', async () => {
    const { em, lookups } = fakeEm('real');
    const listeners: ((change: { kind: 'key'; keyId: string } | { kind: 'routes' } | null) => void)[] = [];
    const invalidation = { subscribe: (listener: (typeof listeners)[number]) => listeners.push(listener) } as never;
    const cache = createKeyCache({ em, ttlMs: 600_000, invalidation });
    await cache.load('real');
    listeners.forEach((l) => l({ kind: 'key', keyId: 'key_other' }));
    await cache.load('real');
    expect(lookups).toEqual(['real']);
    listeners.forEach((l) => l({ kind: 'key', keyId: 'key_real' }));
    await cache.load('real');
    expect(lookups).toEqual(['real', 'real']);
    await cache.load('unknown');
    listeners.forEach((l) => l(null));
    expect(cache.sizes()).toEqual({ known: 0, unknown: 0 });
  });
});

describe('Lru', () => {
  it('evicts the least recently used entry', () => {
    const lru = new Lru<string, number>(2);
    lru.set('a', 1);
    lru.set('b', 2);
    expect(lru.get('a')).toBe(1);
    lru.set('c', 3);
    expect(lru.get('b')).toBeUndefined();
    expect(lru.get('a')).toBe(1);
    expect(lru.get('c')).toBe(3);
  });
});
