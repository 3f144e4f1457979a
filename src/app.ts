import Koa from 'koa';
import Router from '@koa/router';
import type { MikroORM, EntityManager } from '@mikro-orm/postgresql';
import type { Client } from '@temporalio/client';
import type { Config } from './config';
import type { CreditLeases } from './billing/credit-lease';
import type { Logger } from './log';
import { adminAuth, consumerAuth } from './http/auth';
import { rateLimit } from './http/rate-limit';
import { errorHandler, jsonBody, requestContext } from './http/middleware';
import type { OutboundGuard } from './net/outbound-guard';
import type { SecretBox } from './security/secrets';
import type { AssetStore } from './storage/asset-store';
import { createRouteCache } from './routing/route-cache';
import type { Metrics } from './metrics/metrics';
import { httpMetrics } from './metrics/http-metrics';
import { adminRoutes } from './modules/admin/admin.routes';
import { assetsRoutes } from './modules/assets/assets.routes';
import { chatRoutes } from './modules/chat/chat.routes';
import { docsRoutes } from './modules/docs/docs.routes';
import { modelsRoutes } from './modules/models/models.routes';
import { createTasksService } from './modules/tasks/tasks.service';
import { tasksRoutes } from './modules/tasks/tasks.routes';
import { createTaskWatcher } from './modules/tasks/task-watcher';
import { usageRoutes } from './modules/usage/usage.routes';
import { providerCallbackRoutes } from './modules/provider-callbacks/provider-callbacks.routes';
import { createDefaultProviders } from './providers';
import type { ProviderRegistry } from './providers/registry';

export interface AppDeps {
  config: Config;
  orm: MikroORM;
  temporal: Client;
  log: Logger;
  store: AssetStore;
  box: SecretBox;
  outbound: OutboundGuard;
  metrics: Metrics;
  /** This process's credit leases for the chat and embeddings routes; the caller closes them at shutdown. */
  leases: CreditLeases;
  /** The adapters that read provider callbacks (default: the built-in ones). */
  providers?: ProviderRegistry;
}

/** Builds the Koa app. It never listens: main.ts does, and tests use app.callback(). */
export function createApp(deps: AppDeps): Koa {
  const app = new Koa();
  app.proxy = false;
  // One identity map per request, forked on first use: the chat hot path never needs one. The ORM's
  // global context stays unused.
  const em = (ctx: { state: unknown }) => {
    const state = ctx.state as { em?: EntityManager };
    return (state.em ??= deps.orm.em.fork());
  };
  const links = { publicUrl: deps.config.http.publicUrl, box: deps.box };

  app.use(requestContext(deps.log));
  app.use(httpMetrics(deps.metrics));
  app.use(errorHandler());
  app.use(jsonBody({ maxBytes: deps.config.http.maxBodyBytes }));

  const publicRouter = new Router();
  publicRouter.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  publicRouter.get('/metrics', async (ctx) => {
    ctx.set('content-type', deps.metrics.registry.contentType);
    ctx.body = await deps.metrics.registry.metrics();
  });
  publicRouter.get('/readyz', async (ctx) => {
    await em(ctx).getConnection().execute('select 1');
    ctx.body = { status: 'ready' };
  });
  app.use(publicRouter.routes());
  app.use(assetsRoutes({ em, store: deps.store, box: deps.box }).routes());
  app.use(docsRoutes().routes());
  // Providers call back without an API key: mounted before consumer auth, guarded by its own token.
  app.use(providerCallbackRoutes({ em, box: deps.box, temporal: deps.temporal, providers: deps.providers ?? createDefaultProviders() }).routes());

  const auth = consumerAuth({ em: () => deps.orm.em.fork(), trustedProxies: deps.config.http.trustedProxies });
  const limit = rateLimit();
  app.use(async (ctx, next) => (ctx.path.startsWith('/v1/') || ctx.path === '/v1' ? auth(ctx, () => limit(ctx, next)) : next()));
  const admin = adminAuth(deps.config.adminToken);
  app.use(async (ctx, next) => (ctx.path.startsWith('/admin/') || ctx.path === '/admin' ? admin(ctx, next) : next()));

  const routes = createRouteCache({ box: deps.box, em: () => deps.orm.em.fork() });
  const tasks = createTasksService({
    watcher: createTaskWatcher(deps.orm),
    temporal: deps.temporal,
    taskQueue: deps.config.temporal.taskQueue,
    outbound: deps.outbound,
    ...links,
    defaultDeadlineSeconds: deps.config.tasks.defaultDeadlineSeconds,
    maxChannelAttempts: deps.config.tasks.maxChannelAttempts,
  });
  for (const router of [
    tasksRoutes({ tasks, em }),
    modelsRoutes({ em }),
    chatRoutes({ leases: deps.leases, routes, maxChannelAttempts: deps.config.tasks.maxChannelAttempts }),
    usageRoutes({ em, leases: deps.leases }),
    adminRoutes({ em, ...links, leases: deps.leases, routes }),
  ]) {
    app.use(router.routes());
    app.use(router.allowedMethods());
  }
  return app;
}
