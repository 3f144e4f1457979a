import type { EntityManager } from '@mikro-orm/postgresql';
import { createRouteCache, ROUTE_CACHE_TTL_MS } from '../../src/routing/route-cache';
import type { SecretBox } from '../../src/security/secrets';

/** An EntityManager whose channel query counts its calls and answers `rows` (or fails when told). */
function fakeEm() {
  const state = { queries: 0, fail: false, rows: [{ id: 'ch_1', provider: 'openai', priority: 0, weight: 1, models: { m: 'up-m' }, settings: {} }] };
  const em = {
    getConnection: () => ({
      execute: async () => {
        state.queries += 1;
        await new Promise((resolve) => setImmediate(resolve));
        if (state.fail) throw new Error('database down');
        return state.rows;
      },
    }),
  } as unknown as EntityManager;
  return { em, state };
}

describe('route cache', () => {
  it('reuses candidates for the TTL, shares one load between concurrent misses, and forgets on invalidate', async () => {
    let now = 1_000;
    const { em, state } = fakeEm();
    const cache = createRouteCache({ box: {} as SecretBox, em: () => em, now: () => now });
    const [a, b] = await Promise.all([cache.candidates('m', 'default'), cache.candidates('m', 'default')]);
    expect(a).toEqual([expect.objectContaining({ id: 'ch_1', upstreamModel: 'up-m' })]);
    expect(b).toBe(a);
    expect(state.queries).toBe(1);
    now += ROUTE_CACHE_TTL_MS - 1;
    await cache.candidates('m', 'default');
    expect(state.queries).toBe(1);
    await cache.candidates('m', 'vip');
    expect(state.queries).toBe(2);
    now += 1;
    await cache.candidates('m', 'default');
    expect(state.queries).toBe(3);
    cache.invalidate();
    await cache.candidates('m', 'default');
    expect(state.queries).toBe(4);
  });

  it('does not remember a failed load', async () => {
    const { em, state } = fakeEm();
    const cache = createRouteCache({ box: {} as SecretBox, em: () => em });
    state.fail = true;
    await expect(cache.candidates('m', 'default')).rejects.toThrow('database down');
    state.fail = false;
    await expect(cache.candidates('m', 'default')).resolves.toHaveLength(1);
    expect(state.queries).toBe(2);
  });
});
