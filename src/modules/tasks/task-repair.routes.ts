import Router from '@koa/router';
import type { Client } from '@temporalio/client';
import { z } from 'zod';
import type { Orm } from '../../db/orm';
import { parseBody } from '../../http/validate';
import type { Metrics } from '../../metrics/metrics';
import { repairTasks } from './task-repair';
import { TaskIdParam } from './tasks.schemas';

export const RepairTasksBody = z.strictObject({
  /** Only this task; default every task whose workflow has ended without finishing it. */
  task_id: TaskIdParam.optional(),
  /** List what would be repaired, change nothing. */
  dry_run: z.boolean().default(false),
  /** Leave tasks younger than this alone (their workflow may not be visible yet). */
  min_age_seconds: z.number().int().min(0).max(365 * 86_400).default(60),
});

/** The answer, for the OpenAPI document. */
export const RepairTasksResult = z.object({
  object: z.literal('list'),
  dry_run: z.boolean(),
  data: z.array(z.object({
    task_id: z.string(),
    workflow_status: z.string().describe('TERMINATED, TIMED_OUT, FAILED, CANCELLED, or NOT_FOUND once the history is gone'),
    action: z.enum(['refunded', 'would_refund']),
    refunded: z.number().int().describe('Credits given back (would be, in a dry run)'),
  })),
});

/** POST /admin/tasks/repair: close the holds of tasks whose workflow was terminated by hand (behind adminAuth). */
export function taskRepairRoutes(deps: { orm: Orm; temporal: Client; metrics?: Metrics }): Router {
  const router = new Router({ prefix: '/admin' });
  router.post('/tasks/repair', async (ctx) => {
    const body = parseBody(ctx, RepairTasksBody);
    const data = await repairTasks(deps, { taskId: body.task_id, dryRun: body.dry_run, minAgeSeconds: body.min_age_seconds });
    ctx.body = { object: 'list', data, dry_run: body.dry_run };
  });
  return router;
}
