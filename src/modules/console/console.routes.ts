import Router from '@koa/router';
import type Koa from 'koa';
import { timingSafeEqual } from 'node:crypto';
import { authOf } from '../../http/auth';
import { parseBody } from '../../http/validate';
import { buildConsoleBundle, type ConsoleBundle } from './bundle';
import type { ConsoleSessions } from './sessions';
import { CreateSessionBody } from './console.schemas';


/**
 * The console may run only its own script and styles (no inline script, no eval), talk only to this
 * origin, and show media from here or from the asset links' origin.
 */
export function consoleCsp(assetOrigin: string): string {
  const media = `'self' blob: data: ${assetOrigin}`;
  return [
    "default-src 'none'", "script-src 'self'", "style-src 'self'", `img-src ${media}`, `media-src ${media}`,
    "connect-src 'self'", "font-src 'self'", "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
  ].join('; ');
}

function escapeAttribute(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function renderShell(bundle: ConsoleBundle, opts: { temporalUiUrl?: string; namespace: string }): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>media-gateway console</title>
<link rel="stylesheet" href="/console/assets/${bundle.stylesheet}">
<script src="/console/assets/${bundle.script}" defer></script>
</head>
<body data-temporal-ui="${escapeAttribute(opts.temporalUiUrl ?? '')}" data-temporal-namespace="${escapeAttribute(opts.namespace)}">
<noscript>The console needs JavaScript.</noscript>
<div id="app"></div>
</body>
</html>
`;
}

export interface ConsoleRoutesDeps {
  sessions: ConsoleSessions;
  adminToken: string | undefined;
  /** The consumer auth chain of /v1 (key lookup, revocation, IP allowlist). */
  consumerAuth: Koa.Middleware;
  publicUrl: string;
  temporalUiUrl?: string;
  namespace: string;
}

/**
 * GET /console (the single-page app's shell), its bundled assets, and the session exchange. The bundle is
 * built on the first request and kept in memory.
 */
export function consoleRoutes(deps: ConsoleRoutesDeps): Router {
  const router = new Router();
  let bundle: Promise<ConsoleBundle> | undefined;
  const loadBundle = () => {
    if (!bundle) {
      bundle = buildConsoleBundle();
      // A failed build is retried on the next request rather than cached.
      bundle.catch(() => (bundle = undefined));
    }
    return bundle;
  };
  const csp = consoleCsp(new URL(deps.publicUrl).origin);
  const adminBytes = deps.adminToken ? Buffer.from(deps.adminToken) : null;

  router.get('/console', async (ctx) => {
    const html = renderShell(await loadBundle(), { temporalUiUrl: deps.temporalUiUrl, namespace: deps.namespace });
    ctx.type = 'text/html; charset=utf-8';
    ctx.set('content-security-policy', csp);
    ctx.set('x-content-type-options', 'nosniff');
    ctx.set('referrer-policy', 'no-referrer');
    ctx.set('cache-control', 'no-store');
    ctx.body = html;
  });

  router.get('/console/assets/:name', async (ctx) => {
    const file = (await loadBundle()).files.get(ctx.params.name ?? '');
    if (!file) return;
    ctx.type = file.contentType;
    ctx.set('x-content-type-options', 'nosniff');
    ctx.set('cache-control', 'public, max-age=31536000, immutable');
    ctx.body = file.body;
  });

  router.post('/console/api/session', async (ctx) => {
    const { credential } = parseBody(ctx, CreateSessionBody);
    const given = Buffer.from(credential);
    if (adminBytes && given.length === adminBytes.length && timingSafeEqual(given, adminBytes)) {
      const session = deps.sessions.issue('operator', credential);
      ctx.status = 201;
      ctx.body = { object: 'console.session', token: session.token, role: session.role, expires_at: session.expiresAt.toISOString() };
      return;
    }
    // Anything else must pass the consumer auth exactly as a /v1 request would.
    ctx.req.headers.authorization = `Bearer ${credential}`;
    await deps.consumerAuth(ctx, async () => undefined);
    const auth = authOf(ctx);
    const session = deps.sessions.issue('consumer', credential);
    ctx.status = 201;
    ctx.body = {
      object: 'console.session', token: session.token, role: session.role, expires_at: session.expiresAt.toISOString(),
      key_id: auth.apiKeyId, account_id: auth.accountId,
    };
  });

  router.delete('/console/api/session', (ctx) => {
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(ctx.get('authorization'))?.[1];
    if (bearer) deps.sessions.revoke(bearer);
    ctx.body = { object: 'console.session', deleted: true };
  });

  return router;
}
