import Router from '@koa/router';
import { renderDocsPage } from './docs.page';
import { buildOpenApiDocument } from './openapi';
import { operations } from './operations';
import { version } from '../../../package.json';

/** The document as /openapi.json serves it; tests compare against the same call. */
export function gatewayOpenApiDocument(): Record<string, unknown> {
  return buildOpenApiDocument(operations, {
    title: 'media-gateway',
    version,
    description: 'One API for video, image, music and LLM models: OpenAI-compatible chat and embeddings, asynchronous media tasks '
      + 'with durable result links, and the operators\' admin routes. Every error answers `{"error":{"message","type","code"}}`.',
  });
}

/** The page allows only its own inline script and styles: it can load nothing from anywhere. */
const DOCS_CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** GET /openapi.json and GET /docs: public, no key needed. Both are built once, when the router is. */
export function docsRoutes(): Router {
  const document = gatewayOpenApiDocument();
  const body = JSON.stringify(document);
  const page = renderDocsPage(document);
  const router = new Router();
  router.get('/openapi.json', (ctx) => {
    ctx.type = 'application/json';
    ctx.body = body;
  });
  router.get('/docs', (ctx) => {
    ctx.type = 'text/html; charset=utf-8';
    ctx.set('content-security-policy', DOCS_CSP);
    ctx.set('x-content-type-options', 'nosniff');
    ctx.body = page;
  });
  return router;
}
