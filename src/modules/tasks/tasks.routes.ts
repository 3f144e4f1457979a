import Router from '@koa/router';
import type { EntityManager } from '@mikro-orm/postgresql';
import { authOf } from '../../http/auth';
import { AppError } from '../../http/errors';
import { ifNoneMatchMatches } from '../../http/etag';
import { parseBody, parseQuery } from '../../http/validate';
import type { MediaKind } from '../../../workflows/types';
import { CreateImageBody, CreateMusicBody, CreateVideoBody, GetTaskQuery, ListTasksQuery, TaskIdParam } from './tasks.schemas';
import type { TasksService } from './tasks.service';
import { createTaskAnswers } from './task-answers';

/** Media task routes: creation per category, read, cancel. */
export function tasksRoutes(deps: { tasks: TasksService; em: (ctx: { state: unknown }) => EntityManager }): Router {
  const router = new Router();
  const answers = createTaskAnswers({ tasks: deps.tasks });
  const creators: [string, MediaKind, typeof CreateVideoBody][] = [
    ['/v1/images/generations', 'image', CreateImageBody],
    ['/v1/videos', 'video', CreateVideoBody],
    ['/v1/music/generations', 'music', CreateMusicBody],
  ];
  for (const [path, kind, schema] of creators) {
    router.post(path, async (ctx) => {
      const body = parseBody(ctx, schema);
      const idempotencyKey = ctx.get('idempotency-key') || undefined;
      if (idempotencyKey !== undefined && (idempotencyKey.length > 255 || !/^[\x21-\x7e]+$/.test(idempotencyKey))) {
        throw new AppError(400, 'invalid_request', 'Idempotency-Key must be 1-255 visible ASCII characters', 'invalid_request_error');
      }
      ctx.body = await deps.tasks.create(deps.em(ctx), authOf(ctx), kind, body, idempotencyKey);
    });
  }
  router.get('/v1/tasks', async (ctx) => {
    ctx.body = await deps.tasks.list(deps.em(ctx), authOf(ctx), parseQuery(ctx, ListTasksQuery));
  });
  router.get('/v1/tasks/:taskId', async (ctx) => {
    const taskId = parseTaskId(ctx.params.taskId);
    const { wait } = parseQuery(ctx, GetTaskQuery);
    // Only a long poll needs to hear that the client left; abort() makes a DOMException with a stack, which
    // cost every plain poll a few percent of its CPU.
    let signal: AbortSignal | undefined;
    if (wait) {
      const closed = new AbortController();
      ctx.res.once('close', () => closed.abort());
      signal = closed.signal;
    }
    const answer = await answers.get(() => deps.em(ctx), authOf(ctx), taskId, { waitSeconds: wait, signal });
    ctx.set('etag', answer.etag);
    // Any cache must ask again (the task may change), and only the caller's own (the answer is per key).
    ctx.set('cache-control', 'private, no-cache');
    if (ifNoneMatchMatches(ctx.get('if-none-match') || undefined, answer.etag)) {
      ctx.status = 304;
      return;
    }
    ctx.type = 'application/json';
    ctx.body = answer.body;
  });
  router.post('/v1/tasks/:taskId/cancel', async (ctx) => {
    const taskId = parseTaskId(ctx.params.taskId);
    ctx.body = await deps.tasks.cancel(deps.em(ctx), authOf(ctx), taskId);
  });
  return router;
}

/** A malformed id can't name any task: 404, like an unknown one. */
export function parseTaskId(raw: string | undefined): string {
  const parsed = TaskIdParam.safeParse(raw);
  if (!parsed.success) throw new AppError(404, 'task_not_found', `No task ${String(raw).slice(0, 80)}`, 'gateway_error');
  return parsed.data;
}
