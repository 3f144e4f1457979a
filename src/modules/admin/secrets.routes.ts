import Router from '@koa/router';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { CacheInvalidation } from '../../cache/invalidation';
import type { SecretBox } from '../../security/secrets';

/** The sealed columns: every secret the gateway keeps encrypted at rest. */
const SEALED_COLUMNS = [
  { table: 'api_keys', column: 'webhook_secret_enc', name: 'api_keys' },
  { table: 'channels', column: 'api_key_enc', name: 'channels' },
] as const;

/**
 * POST /admin/secrets/reseal: the last step of a GATEWAY_SECRET rotation. With the new secret in
 * GATEWAY_SECRET and the old one in GATEWAY_SECRET_PREVIOUS, re-encrypts every sealed secret that is
 * not yet sealed with the current one, so the old secret can then be dropped. Each row is rewritten
 * only if it still holds the value read (a concurrent admin change wins); safe to run again.
 */
export function secretsRoutes(deps: { em: (ctx: { state: unknown }) => EntityManager; box: SecretBox; invalidation: CacheInvalidation }): Router {
  const router = new Router({ prefix: '/admin' });
  router.post('/secrets/reseal', async (ctx) => {
    const knex = deps.em(ctx).getKnex();
    const result: Record<string, { resealed: number; current: number; unreadable: number }> = {};
    for (const { table, column, name } of SEALED_COLUMNS) {
      const counts = { resealed: 0, current: 0, unreadable: 0 };
      const rows = await knex(table).select<{ id: string; sealed: string }[]>('id', `${column} as sealed`);
      for (const row of rows) {
        if (deps.box.sealedWithCurrent(row.sealed)) {
          counts.current++;
          continue;
        }
        let plaintext: string;
        try {
          plaintext = deps.box.open(row.sealed);
        } catch {
          // Sealed with a secret no longer in the ring: left alone, counted for the operator.
          counts.unreadable++;
          continue;
        }
        const updated = await knex(table).where({ id: row.id, [column]: row.sealed }).update({ [column]: deps.box.seal(plaintext) });
        counts.resealed += updated;
      }
      result[name] = counts;
    }
    // Decrypted channel credentials are cached; their plaintext is unchanged, but reload them anyway.
    await deps.invalidation.publish({ kind: 'routes' });
    ctx.body = { object: 'secrets.reseal', ...result };
  });
  return router;
}
