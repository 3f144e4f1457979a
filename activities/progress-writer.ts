import type { ActivityDeps } from './deps';

/** How long a progress figure may wait before it is written: progress is advisory, status is not. */
const FLUSH_EVERY_MS = 1000;

/** Writes the progress of running tasks in batches, off the polling loop. */
export interface ProgressWriter {
  /** Records a task's latest progress; written within FLUSH_EVERY_MS while the task is processing. */
  set(taskId: string, progress: number | null): void;
  /** Forgets a task's unwritten progress (its wait ended: the final step writes progress itself). */
  drop(taskId: string): void;
}

/**
 * One UPDATE a second for every waiting task of this worker instead of one per poll and task: with 2,000
 * provider jobs in flight, per-poll writes were thousands of statements a second. A task that is no
 * longer `processing` (finished, cancelled, failed) is never written, so a late batch cannot undo a
 * final state; a lost batch is made good by the next change of
 * each job's progress.
 */
export function createProgressWriter(deps: Pick<ActivityDeps, 'orm' | 'log'>): ProgressWriter {
  const pending = new Map<string, number | null>();
  let timer: NodeJS.Timeout | null = null;

  async function flush(): Promise<void> {
    timer = null;
    if (pending.size === 0) return;
    const batch = [...pending.entries()];
    pending.clear();
    try {
      await deps.orm.em.getConnection().execute(
        `update tasks t set progress = v.progress, updated_at = now()
         from jsonb_to_recordset(?::jsonb) as v(id text, progress int)
         where t.id = v.id and t.status = 'processing' and t.progress is distinct from v.progress`,
        [JSON.stringify(batch.map(([id, progress]) => ({ id, progress })))],
      );
    } catch (error) {
      // Dropped, not retried: the next change of each job's progress writes it again.
      deps.log.warn({ err: error instanceof Error ? error.message : String(error), tasks: batch.length }, 'progress write failed');
    }
  }

  function schedule(): void {
    if (timer) return;
    timer = setTimeout(() => void flush(), FLUSH_EVERY_MS);
    timer.unref();
  }

  return {
    set(taskId, progress) {
      pending.set(taskId, progress);
      schedule();
    },
    drop(taskId) {
      pending.delete(taskId);
    },
  };
}
