import type { EntityManager } from '@mikro-orm/postgresql';
import { Lru } from '../../cache/lru';
import type { ConsumerAuth } from '../../http/auth';
import { etagOf } from '../../http/etag';
import type { TasksService } from './tasks.service';

/** GET /v1/tasks/{id}'s answer: the JSON bytes and their entity tag. */
export interface TaskAnswer {
  body: Buffer;
  etag: string;
  final: boolean;
}

/**
 * A task in one of these states never changes again: the settle and refund steps, the admin repair and the
 * progress writer all update only rows `where status not in` them, and assets are written before the
 * settle and never deleted.
 */
const FINAL = new Set(['succeeded', 'failed', 'cancelled']);

/** Finished tasks' answers kept by one API process (about 0.5 KB each). */
const CAPACITY = 10_000;
/**
 * How long a cached answer is served. Asset links (`?sig=`) never expire, so nothing in the answer goes
 * stale; this only bounds how long an out-of-band change by hand (SQL on a finished row) can go unseen.
 * A link format with an expiry would need this well below the link's lifetime.
 */
const TTL_MS = 5 * 60 * 1000;

/**
 * The task reads of polling, answered from memory once a task is final: its JSON and ETag are computed
 * (signed links included) on the first read after it finished and kept, keyed by account and task, so a
 * key of another account misses the cache and gets the same 404 from the database as before. Running
 * tasks are read every time; their ETag still lets an unchanged poll answer 304.
 */
export function createTaskAnswers(deps: { tasks: Pick<TasksService, 'get'>; capacity?: number; ttlMs?: number; now?: () => number }) {
  const now = deps.now ?? Date.now;
  const ttlMs = deps.ttlMs ?? TTL_MS;
  const finals = new Lru<string, { answer: TaskAnswer; until: number }>(deps.capacity ?? CAPACITY);

  return {
    /** `em` is called only on a miss: forking an EntityManager costs a cached poll about a tenth of its CPU. */
    async get(em: () => EntityManager, auth: ConsumerAuth, taskId: string, opts: { waitSeconds?: number; signal?: AbortSignal } = {}): Promise<TaskAnswer> {
      const key = `${auth.accountId}\n${taskId}`;
      const cached = finals.get(key);
      if (cached && cached.until > now()) return cached.answer;
      const task = await deps.tasks.get(em(), auth, taskId, opts);
      const body = Buffer.from(JSON.stringify(task));
      const answer: TaskAnswer = { body, etag: etagOf(body), final: FINAL.has(task.status) };
      if (answer.final) finals.set(key, { answer, until: now() + ttlMs });
      return answer;
    },

    /** Cached final answers (for tests). */
    get size(): number {
      return finals.size;
    },
  };
}

export type TaskAnswers = ReturnType<typeof createTaskAnswers>;
