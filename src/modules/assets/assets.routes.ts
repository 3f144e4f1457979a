import Router from '@koa/router';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Asset } from '../../db/entities';
import { AppError, errors } from '../../http/errors';
import { isServableInline, OPAQUE_CONTENT_TYPE } from '../../media/sniff';
import type { SecretBox } from '../../security/secrets';
import { assetSignatureValid, extensionFor } from '../../storage/asset-links';
import type { AssetStore } from '../../storage/asset-store';
import { etagMatches, parseRange } from './asset-http';

/**
 * GET /assets/{id}?sig=...: durable result links, no API key needed, a bad signature is a 404.
 * Every answer is inert on our origin: `nosniff`, a CSP that allows nothing and sandboxes the document,
 * and only allowlisted media types inline (anything else, old rows included, is an octet-stream
 * attachment). Range requests (206 / 416) let players seek; the ETag is the content's SHA-256, so a
 * revalidation is a 304 and the answer is cacheable as immutable.
 */
export function assetsRoutes(deps: {
  em: (ctx: { state: unknown }) => EntityManager;
  store: AssetStore;
  box: SecretBox;
  /** `redirect`: answer with a presigned URL of the object store instead of streaming through the API. */
  delivery?: { mode: 'stream' | 'redirect'; redirectTtlSeconds: number };
}): Router {
  const router = new Router();
  router.get('/assets/:assetId', async (ctx) => {
    ctx.set('x-content-type-options', 'nosniff');
    ctx.set('content-security-policy', "default-src 'none'; sandbox");
    const assetId = ctx.params.assetId ?? '';
    const signature = typeof ctx.query.sig === 'string' ? ctx.query.sig : undefined;
    if (!assetSignatureValid(deps.box, assetId, signature)) throw errors.notFound('asset_not_found', 'No such asset');
    const asset = await deps.em(ctx).findOne(Asset, { id: assetId });
    if (!asset) throw errors.notFound('asset_not_found', 'No such asset');
    const inline = isServableInline(asset.contentType);
    const contentType = inline ? asset.contentType : OPAQUE_CONTENT_TYPE;
    const disposition = `${inline ? 'inline' : 'attachment'}; filename="${asset.id}.${extensionFor(contentType)}"`;
    if (deps.delivery?.mode === 'redirect' && deps.store.presign) {
      // The link itself stays durable; only the URL it redirects to expires, so it must not be cached.
      // The object store answers with the same inert type and disposition we would have sent.
      ctx.set('cache-control', 'private, no-store');
      ctx.redirect(await deps.store.presign(asset.storageKey, { expiresInSeconds: deps.delivery.redirectTtlSeconds, contentType, contentDisposition: disposition }));
      return;
    }

    const etag = `"${asset.sha256}"`;
    ctx.set('etag', etag);
    ctx.set('cache-control', 'private, max-age=31536000, immutable');
    ctx.set('accept-ranges', 'bytes');
    if (etagMatches(ctx.get('if-none-match') || undefined, etag)) {
      ctx.status = 304;
      return;
    }
    // A Range with an If-Range for another version gets the whole (current) file.
    const ifRange = ctx.get('if-range');
    const ask = ifRange && !etagMatches(ifRange, etag) ? { kind: 'whole' as const } : parseRange(ctx.get('range') || undefined, asset.bytes);
    if (ask.kind === 'unsatisfiable') {
      throw new AppError(416, 'range_not_satisfiable', `The file has ${asset.bytes} bytes; the requested range is outside it`, 'invalid_request_error', undefined, {
        'content-range': `bytes */${asset.bytes}`,
      });
    }
    const range = ask.kind === 'part' ? ask.range : undefined;
    const headers = {
      'content-type': contentType,
      'content-disposition': disposition,
      'content-length': String(range ? range.end - range.start + 1 : asset.bytes),
      ...(range ? { 'content-range': `bytes ${range.start}-${range.end}/${asset.bytes}` } : {}),
    };
    // A HEAD answers the headers only: opening the file would leave a stream nobody reads.
    const opened = ctx.method === 'HEAD' ? null : await deps.store.open(asset.storageKey, range ? { range } : undefined);
    if (ctx.method !== 'HEAD' && !opened) throw errors.notFound('asset_not_found', 'No such asset');
    ctx.set(headers);
    ctx.status = range ? 206 : 200;
    if (!opened) return;
    ctx.body = opened.body;
  });
  return router;
}
