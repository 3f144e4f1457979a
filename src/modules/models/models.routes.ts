import Router from '@koa/router';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Model } from '../../db/entities';
import { authOf, modelAllowed } from '../../http/auth';
import { presentMediaUnits } from '../admin/admin.presenter';

/** GET /v1/models: the public models this key may use, in OpenAI's list shape. */
export function modelsRoutes(deps: { em: (ctx: { state: unknown }) => EntityManager }): Router {
  const router = new Router();
  router.get('/v1/models', async (ctx) => {
    const auth = authOf(ctx);
    const models = await deps.em(ctx).find(Model, {}, { orderBy: { id: 'asc' } });
    ctx.body = {
      object: 'list',
      data: models
        .filter((model) => modelAllowed(auth.models, model.id))
        .map((model) => ({
          id: model.id,
          object: 'model',
          created: Math.floor(model.createdAt.getTime() / 1000),
          owned_by: 'gateway',
          category: model.category,
          pricing: model.pricing,
          ...presentMediaUnits(model),
          metadata: model.metadata,
        })),
    };
  });
  return router;
}
