import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Knex } from '@mikro-orm/postgresql';
import { createBillingActivities } from '../../../activities/billing.activities';
import type { ActivityDeps } from '../../../activities/deps';
import type { Orm } from '../../db/orm';
import type { Logger } from '../../log';
import type { Metrics } from '../../metrics/metrics';
import { inputOfUnstarted, markStarted, startReserved, UNSTARTED_COLUMNS, unstartable, type UnstartedTask } from './task-admission';

/**
 * How old a reservation must be before the sweeper takes it over. The POST starts the workflow a few
 * milliseconds after its commit; one still unstarted after this belongs to an API that died in between
 * (or whose start failed), and a retried POST may already be starting it (which is harmless: starts join).
 */
export const UNSTARTED_GRACE_MS = 5_000;
/** How often each API process sweeps (one at a time across replicas). */
export const UNSTARTED_SWEEP_INTERVAL_MS = 5_000;
/** Rows one pass looks at; the rest wait for the next pass. */
const BATCH = 100;
/** A start that Temporal doesn't answer within this is left for the next pass. */
const START_TIMEOUT_MS = 5_000;

export interface SweepOutcome {
  /** false: another replica was sweeping; this pass did nothing. */
  swept: boolean;
  started: number;
  /** Workflows found already there (a retried POST or a slow start got there first). */
  existed: number;
  refunded: number;
}

/**
 * Finds tasks the API reserved (row and hold committed) whose workflow it never started, and starts each
 * from its row, exactly as the POST would have (the start is idempotent, so a retried POST racing the
 * sweeper makes one workflow). A task that can't be started any more, because its model is gone or its
 * deadline passed while no workflow ran it, is refunded through the workflow's own refund step (idempotent)
 * and failed with an error that says so; only after checking that no workflow of it exists, so a workflow
 * that did start is never refunded under its feet. A transaction-scoped advisory lock lets one replica
 * sweep at a time; the others skip the pass.
 */
export async function sweepUnstartedTasks(
  deps: { orm: Orm; temporal: Client; metrics?: Metrics; log?: Logger },
  opts: { olderThanMs?: number } = {},
): Promise<SweepOutcome> {
  const knex = deps.orm.em.getKnex() as Knex;
  const outcome: SweepOutcome = { swept: false, started: 0, existed: 0, refunded: 0 };
  const { refundCredits } = createBillingActivities({ orm: deps.orm, metrics: deps.metrics } as Pick<ActivityDeps, 'orm' | 'metrics'> as ActivityDeps);
  await knex.transaction(async (trx) => {
    const lock = await trx.raw(`select pg_try_advisory_xact_lock(hashtext('start-unstarted-tasks')) as locked`);
    if (!lock.rows[0].locked) return;
    outcome.swept = true;
    const found = await trx.raw(
      `select ${UNSTARTED_COLUMNS} from tasks where pending_start is not null and created_at < now() - (? * interval '1 millisecond')
       order by created_at limit ${BATCH}`,
      [opts.olderThanMs ?? UNSTARTED_GRACE_MS],
    );
    // Each row is settled outside the lock's transaction (autocommit), so no row lock is held across a
    // Temporal call, and a workflow that just started can write its task row at once.
    for (const row of found.rows as UnstartedTask[]) {
      try {
        if (row.status !== 'pending') {
          // Its workflow moved it on (or an operator ended it): it started, whatever the POST knew.
          await markStarted(knex, row.id);
          continue;
        }
        const reason = unstartable(row);
        if (!reason) {
          const input = inputOfUnstarted(row);
          const started = await deps.temporal.withDeadline(Date.now() + START_TIMEOUT_MS, () =>
            startReserved({ temporal: deps.temporal, knex }, row.pending_start.taskQueue, input));
          outcome[started] += 1;
          if (started === 'started') deps.log?.warn({ taskId: row.id }, 'started the workflow of a task its API reserved but did not start');
          continue;
        }
        if (await workflowExists(deps.temporal, row.id)) {
          await markStarted(knex, row.id);
          outcome.existed += 1;
          continue;
        }
        const { refunded } = await refundCredits({ taskId: row.id, status: 'failed', error: reason });
        await markStarted(knex, row.id);
        outcome.refunded += 1;
        deps.log?.warn({ taskId: row.id, code: reason.code, refunded }, 'refunded a reserved task whose workflow could not be started');
      } catch (error) {
        // Temporal away, most likely: the row keeps its pending start and the next pass tries again.
        deps.log?.warn({ err: error, taskId: row.id }, 'could not start a reserved task\'s workflow; the next sweep retries');
      }
    }
  });
  return outcome;
}

async function workflowExists(temporal: Client, workflowId: string): Promise<boolean> {
  try {
    await temporal.workflow.getHandle(workflowId).describe();
    return true;
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return false;
    throw error;
  }
}
