import type { MikroORM } from '@mikro-orm/postgresql';

/** How often the watcher looks at the rows someone is waiting on. */
const POLL_MS = 250;

interface Waiter {
  taskId: string;
  seen: string;
  resolve: () => void;
}

/**
 * Long polls without a query per waiter: one loop per API process reads the status of every task
 * someone waits on in a single query, and wakes the waiters whose task changed. The loop runs only
 * while there are waiters.
 */
export function createTaskWatcher(orm: MikroORM) {
  const waiters = new Set<Waiter>();
  let timer: NodeJS.Timeout | null = null;

  async function tick(): Promise<void> {
    timer = null;
    if (waiters.size === 0) return;
    const ids = [...new Set([...waiters].map((w) => w.taskId))];
    try {
      const result = await orm.em.getKnex().raw(`select id, status from tasks where id = any(?)`, [ids]);
      const state = new Map((result.rows as { id: string; status: string }[]).map((row) => [row.id, row.status]));
      for (const waiter of waiters) {
        if (state.get(waiter.taskId) !== waiter.seen) {
          waiters.delete(waiter);
          waiter.resolve();
        }
      }
    } catch {
      // The database is away: waiters keep waiting until their own timeout.
    }
    schedule();
  }

  function schedule(): void {
    if (!timer && waiters.size > 0) {
      timer = setTimeout(() => void tick(), POLL_MS);
      timer.unref();
    }
  }

  return {
    /** Resolves when the task's status differs from `seen`, or after `timeoutMs`. */
    waitForChange(taskId: string, seen: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
      return new Promise((resolve) => {
        const waiter: Waiter = { taskId, seen, resolve: () => done() };
        const timeout = setTimeout(() => done(), timeoutMs);
        const done = () => {
          clearTimeout(timeout);
          waiters.delete(waiter);
          resolve();
        };
        signal?.addEventListener('abort', done, { once: true });
        waiters.add(waiter);
        schedule();
      });
    },
  };
}

export type TaskWatcher = ReturnType<typeof createTaskWatcher>;
