import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { Knex } from '@mikro-orm/postgresql';
import { createBillingActivities } from '../../../activities/billing.activities';
import type { ActivityDeps } from '../../../activities/deps';
import type { Metrics } from '../../metrics/metrics';
import type { Orm } from '../../db/orm';

/** One task the repair looked at. */
export interface RepairedTask {
  task_id: string;
  /** The workflow's status in Temporal (TERMINATED, TIMED_OUT, ...), or NOT_FOUND once its history is gone. */
  workflow_status: string;
  /** refunded: hold released, task failed; would_refund: the same, in a dry run. */
  action: 'refunded' | 'would_refund';
  refunded: number;
}

/** Workflow statuses that can end without our workflow code running its refund (an operator's terminate, a timeout). */
const ENDED_WITHOUT_US = new Set(['TERMINATED', 'TIMED_OUT', 'FAILED', 'CANCELLED', 'NOT_FOUND']);
const FINAL = `('succeeded', 'failed', 'cancelled')`;
const SCAN_LIMIT = 500;

/**
 * Tasks whose workflow ended without running its last step: an operator terminated it in the Temporal
 * UI, or it timed out or failed on a bug. Their row stays `pending`/`running` and their hold stays
 * open, keeping the credits reserved forever. The repair releases each hold in full and fails the
 * task with `workflow_ended`, through the same idempotent step the workflow's own refund uses. Tasks
 * whose workflow still runs, and tasks younger than `minAgeSeconds`, are left alone (a workflow that
 * was just started may not be visible yet).
 */
export async function repairTasks(deps: { orm: Orm; temporal: Client; metrics?: Metrics }, opts: { taskId?: string; dryRun: boolean; minAgeSeconds?: number }): Promise<RepairedTask[]> {
  const knex = deps.orm.em.getKnex() as Knex;
  // A task still waiting for its workflow's start is the unstarted-task sweeper's: it starts it, or refunds
  // it once it can't start; refunding it here could race that start.
  const query = knex('tasks').select('id').whereRaw(`status not in ${FINAL}`).whereNull('pending_start')
    .andWhere('created_at', '<', knex.raw(`now() - make_interval(secs => ?)`, [opts.minAgeSeconds ?? 60]))
    .orderBy('created_at').limit(SCAN_LIMIT);
  if (opts.taskId) query.andWhere('id', opts.taskId);
  const candidates = (await query) as { id: string }[];
  // The refund step needs only the database (and counts into metrics): the same code the workflow runs.
  const { refundCredits } = createBillingActivities({ orm: deps.orm, metrics: deps.metrics } as Pick<ActivityDeps, 'orm' | 'metrics'> as ActivityDeps);
  const repaired: RepairedTask[] = [];
  for (const { id } of candidates) {
    const status = await workflowStatus(deps.temporal, id);
    if (!ENDED_WITHOUT_US.has(status)) continue;
    if (opts.dryRun) {
      const held = await knex('holds').where({ id, status: 'open' }).first('amount');
      repaired.push({ task_id: id, workflow_status: status, action: 'would_refund', refunded: Number(held?.amount ?? 0) });
      continue;
    }
    const { refunded } = await refundCredits({
      taskId: id,
      status: 'failed',
      error: { type: 'gateway_error', code: 'workflow_ended', message: `The task's workflow ended without finishing it (${status}); every credit was given back` },
    });
    repaired.push({ task_id: id, workflow_status: status, action: 'refunded', refunded });
  }
  return repaired;
}

async function workflowStatus(temporal: Client, workflowId: string): Promise<string> {
  try {
    const description = await temporal.workflow.getHandle(workflowId).describe();
    return description.status.name;
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return 'NOT_FOUND';
    throw error;
  }
}
