import Koa from 'koa';
import Router from '@koa/router';
import type { MikroORM, EntityManager } from '@mikro-orm/postgresql';
import type { Client } from '@temporalio/client';
import type { Config } from './config';
import type { CreditLeases } from './billing/credit-lease';
import type { Logger } from './log';
import { adminAuth, consumerAuth, createKeyCache } from './http/auth';
import { rateLimit } from './http/rate-limit';
import { errorHandler, jsonBody, requestContext } from './http/middleware';
import type { OutboundGuard } from './net/outbound-guard';
import type { SecretBox } from './security/secrets';
import type { AssetStore } from './storage/asset-store';
import { taskRepairRoutes } from './modules/tasks/task-repair.routes';
import { createRouteCache, type RouteCache } from './routing/route-cache';
import type { Metrics } from './metrics/metrics';
import { httpMetrics } from './metrics/http-metrics';
import { answerMetrics } from './metrics/metrics-endpoint';
import type { CacheInvalidation } from './cache/invalidation';
import type { SharedLimits } from './limits/shared-buckets';
import { secretsRoutes } from './modules/admin/secrets.routes';
import { adminRoutes } from './modules/admin/admin.routes';
import { assetsRoutes } from './modules/assets/assets.routes';
import { chatRoutes } from './modules/chat/chat.routes';
import { docsRoutes } from './modules/docs/docs.routes';
import { modelsRoutes } from './modules/models/models.routes';
import { createTasksService } from './modules/tasks/tasks.service';
import { tasksRoutes } from './modules/tasks/tasks.routes';
import { createTaskWatcher } from './modules/tasks/task-watcher';
import { usageRoutes } from './modules/usage/usage.routes';
import { consoleRoutes } from './modules/console/console.routes';
import { consumerConsoleRoutes } from './modules/console/consumer.routes';
import { operatorConsoleRoutes } from './modules/console/operator.routes';
import { consoleSessionAuth } from './modules/console/session-auth';
import { createConsoleSessions } from './modules/console/sessions';
import { providerCallbackRoutes } from './modules/provider-callbacks/provider-callbacks.routes';
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
  /** The media adapters, for the console's channel test. */
  providers: ProviderRegistry;
  /** Cross-replica invalidation of the key and route caches (LISTEN/NOTIFY). */
  invalidation: CacheInvalidation;
  /** Per-key rpm and tpm, shared by the replicas through PostgreSQL; the caller closes it at shutdown. */
  limits: SharedLimits;
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

  const publicRouter = new Router();
  publicRouter.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  // With METRICS_PORT, /metrics lives on its own listener (gateway.ts) and is a 404 here.
  if (deps.config.metrics.port === undefined) {
    publicRouter.get('/metrics', async (ctx) => {
      const answer = await answerMetrics(deps.metrics, deps.config.metrics.token, ctx.get('authorization') || undefined);
      ctx.status = answer.status;
      ctx.type = answer.type;
      ctx.body = answer.body;
    });
  }
  publicRouter.get('/readyz', async (ctx) => {
    await em(ctx).getConnection().execute('select 1');
    ctx.body = { status: 'ready' };
  });
  app.use(publicRouter.routes());
  app.use(assetsRoutes({ em, store: deps.store, box: deps.box, delivery: deps.config.storage.delivery }).routes());
  app.use(docsRoutes().routes());
  // Providers call back without an API key: mounted before consumer auth, guarded by its own token.
  app.use(providerCallbackRoutes({ em, box: deps.box, temporal: deps.temporal, providers: deps.providers }).routes());

  // Console sessions stand in for the key or admin token they were exchanged for: before both auths.
  const sessions = createConsoleSessions({ ttlSeconds: deps.config.console.sessionTtlSeconds });
  app.use(consoleSessionAuth(sessions));
  const keys = createKeyCache({ em: () => deps.orm.em.fork(), ttlMs: deps.config.cacheTtlMs, invalidation: deps.invalidation });
  const auth = consumerAuth({ keys, trustedProxies: deps.config.http.trustedProxies });
  const limit = rateLimit({ limits: deps.limits });
  app.use(async (ctx, next) => (ctx.path.startsWith('/v1/') || ctx.path === '/v1' ? auth(ctx, () => limit(ctx, next)) : next()));
  const admin = adminAuth(deps.config.adminToken);
  app.use(async (ctx, next) => (ctx.path.startsWith('/admin/') || ctx.path === '/admin' ? admin(ctx, next) : next()));
  // After authentication: a caller without a valid key or token never gets its body read.
  app.use(jsonBody({ maxBytes: deps.config.http.maxBodyBytes }));

  const routes = createRouteCache({ box: deps.box, em: () => deps.orm.em.fork(), ttlMs: deps.config.cacheTtlMs });
  deps.invalidation.subscribe((change) => {
    if (change === null || change.kind === 'routes') routes.invalidate();
  });
  // The admin routes' invalidate() drops this process's routes at once and tells the other replicas.
  const notifyingRoutes: RouteCache = {
    ...routes,
    invalidate: () => {
      deps.invalidation.publish({ kind: 'routes' }).catch((error) => deps.log.warn({ err: error }, 'could not notify the other API processes of a routing change'));
    },
  };
  const tasks = createTasksService({
    watcher: createTaskWatcher(deps.orm),
    temporal: deps.temporal,
    knex: () => deps.orm.em.getKnex(),
    log: deps.log.child({ component: 'tasks' }),
    taskQueue: deps.config.temporal.taskQueue,
    outbound: deps.outbound,
    ...links,
    defaultDeadlineSeconds: deps.config.tasks.defaultDeadlineSeconds,
    idempotencyKeyTtlMs: deps.config.tasks.idempotencyKeyTtlMs,
    maxChannelAttempts: deps.config.tasks.maxChannelAttempts,
  });
  for (const router of [
    tasksRoutes({ tasks, em }),
    modelsRoutes({ em }),
    chatRoutes({
      leases: deps.leases, routes, maxChannelAttempts: deps.config.tasks.maxChannelAttempts, limits: deps.limits,
      usageWaitMs: deps.config.chat.streamUsageWaitMs,
    }),
    usageRoutes({ em, leases: deps.leases }),
    adminRoutes({ em, ...links, leases: deps.leases, routes: notifyingRoutes, invalidation: deps.invalidation }),
    secretsRoutes({ em, box: deps.box, invalidation: deps.invalidation }),
    taskRepairRoutes({ orm: deps.orm, temporal: deps.temporal, metrics: deps.metrics }),
    consoleRoutes({
      sessions, adminToken: deps.config.adminToken, consumerAuth: auth, publicUrl: deps.config.http.publicUrl,
      temporalUiUrl: deps.config.console.temporalUiUrl, namespace: deps.config.temporal.namespace,
    }),
    consumerConsoleRoutes({ em, ...links, leases: deps.leases }),
    operatorConsoleRoutes({ em, ...links, leases: deps.leases, providers: deps.providers }),
  ]) {
    app.use(router.routes());
    app.use(router.allowedMethods());
  }
  return app;
}
