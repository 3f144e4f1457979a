import Router from '@koa/router';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Asset } from '../../db/entities';
import { errors } from '../../http/errors';
import type { SecretBox } from '../../security/secrets';
import { assetSignatureValid, extensionFor } from '../../storage/asset-links';
import type { AssetStore } from '../../storage/asset-store';

/** GET /assets/{id}?sig=...: durable result links, no API key needed, a bad signature is a 404. */
export function assetsRoutes(deps: {
  em: (ctx: { state: unknown }) => EntityManager;
  store: AssetStore;
  box: SecretBox;
  /** `redirect`: answer with a presigned URL of the object store instead of streaming through the API. */
  delivery?: { mode: 'stream' | 'redirect'; redirectTtlSeconds: number };
}): Router {
  const router = new Router();
  router.get('/assets/:assetId', async (ctx) => {
    const assetId = ctx.params.assetId ?? '';
    const signature = typeof ctx.query.sig === 'string' ? ctx.query.sig : undefined;
    if (!assetSignatureValid(deps.box, assetId, signature)) throw errors.notFound('asset_not_found', 'No such asset');
    const asset = await deps.em(ctx).findOne(Asset, { id: assetId });
    const filename = asset ? `${asset.id}.${extensionFor(asset.contentType)}` : '';
    if (asset && deps.delivery?.mode === 'redirect' && deps.store.presign) {
      // The link itself stays durable; only the URL it redirects to expires, so it must not be cached.
      ctx.set('cache-control', 'private, no-store');
      ctx.redirect(
        await deps.store.presign(asset.storageKey, {
          expiresInSeconds: deps.delivery.redirectTtlSeconds,
          contentType: asset.contentType,
          contentDisposition: `inline; filename="${filename}"`,
        }),
      );
      return;
    }
    const opened = asset && (await deps.store.open(asset.storageKey));
    if (!asset || !opened) throw errors.notFound('asset_not_found', 'No such asset');
    ctx.set('content-type', asset.contentType);
    ctx.set('content-length', String(opened.bytes));
    ctx.set('cache-control', 'private, max-age=31536000, immutable');
    ctx.set('etag', `"${asset.sha256}"`);
    ctx.set('content-disposition', `inline; filename="${filename}"`);
    ctx.body = opened.body;
  });
  return router;
}
