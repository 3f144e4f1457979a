/**
 * The `provider_job_polls` table: the provider jobs the shared poller watches (one row per task, its
 * current attempt) and when each is read next. Every statement is one round trip; the poller's work for
 * a whole batch of jobs is one claim and one reschedule.
 */
import type { Knex } from '@mikro-orm/postgresql';
import type { MediaRequest, ProviderErrorInfo } from '../types';
import type { JobHandle } from '../../../workflows/types';

const FINAL_STATUSES = ['succeeded', 'failed', 'cancelled'];

/** A job a poller claimed: enough to read it and to tell its workflow. */
export interface ClaimedPoll {
  taskId: string;
  attempt: number;
  channelId: string;
  job: JobHandle;
  request: MediaRequest;
  baseIntervalMs: number;
  /** The wait after this read (it grows by half at each read, see poll-policy.ts). */
  intervalMs: number;
  /** Failed reads in a row so far. */
  pollErrors: number;
}

/** What a poller decided after reading a job: when to read it next, or forget it. */
export type PollOutcome =
  | { taskId: string; attempt: number; delayMs: number; intervalMs: number; pollErrors: number; endingError?: ProviderErrorInfo }
  | { taskId: string; attempt: number; forget: true };

export interface NewPoll {
  taskId: string;
  attempt: number;
  queue: string;
  channelId: string;
  job: JobHandle;
  request: MediaRequest;
  baseIntervalMs: number;
  intervalMs: number;
  firstReadInMs: number;
}

export function createPollStore(knex: () => Knex) {
  const rows = async <T>(sql: string, bindings: unknown[]): Promise<T[]> => (await knex().raw(sql, bindings as Knex.RawBinding[])).rows as T[];

  return {
    /**
     * Starts watching a task's job (or its new attempt's job, replacing the last). A retried submit of an
     * earlier attempt never replaces a later one.
     */
    async register(poll: NewPoll): Promise<void> {
      await knex().raw(
        `insert into provider_job_polls
           (task_id, attempt, queue, channel_id, job_id, job, request, base_interval_ms, interval_ms, poll_errors, next_poll_at, claimed_by)
         values (?, ?, ?, ?, ?, ?::jsonb, ?::jsonb, ?, ?, 0, now() + make_interval(secs => ?::float8 / 1000), null)
         on conflict (task_id) do update set
           attempt = excluded.attempt, queue = excluded.queue, channel_id = excluded.channel_id, job_id = excluded.job_id,
           job = excluded.job, request = excluded.request, base_interval_ms = excluded.base_interval_ms,
           interval_ms = excluded.interval_ms, poll_errors = 0, ending_error = null, next_poll_at = excluded.next_poll_at, claimed_by = null
         where provider_job_polls.attempt <= excluded.attempt`,
        [poll.taskId, poll.attempt, poll.queue, poll.channelId, poll.job.jobId, JSON.stringify(poll.job), JSON.stringify(poll.request),
          poll.baseIntervalMs, poll.intervalMs, poll.firstReadInMs],
      );
    },

    /**
     * Claims up to `limit` due jobs of `queue` for `pollerId`: their next read moves `leaseMs` ahead, so
     * no other poller takes them until this one reschedules them or its lease runs out (it died).
     * SKIP LOCKED lets pollers claim side by side without waiting on each other.
     */
    async claim(queue: string, pollerId: string, limit: number, leaseMs: number): Promise<ClaimedPoll[]> {
      const claimed = await rows<{ task_id: string; attempt: number; channel_id: string; job: JobHandle; request: MediaRequest; base_interval_ms: number; interval_ms: number; poll_errors: number }>(
        `update provider_job_polls p
            set next_poll_at = now() + make_interval(secs => ?::float8 / 1000), claimed_by = ?
          where p.task_id in (
            select task_id from provider_job_polls
             where queue = ? and next_poll_at <= now()
             order by next_poll_at
             limit ?
             for update skip locked)
          returning p.task_id, p.attempt, p.channel_id, p.job, p.request, p.base_interval_ms, p.interval_ms, p.poll_errors`,
        [leaseMs, pollerId, queue, limit],
      );
      return claimed.map((row) => ({
        taskId: row.task_id, attempt: row.attempt, channelId: row.channel_id, job: row.job, request: row.request,
        baseIntervalMs: row.base_interval_ms, intervalMs: row.interval_ms, pollErrors: row.poll_errors,
      }));
    },

    /** Writes a batch of outcomes of `pollerId`'s reads; a job claimed since by another (lease lost) or re-registered is left alone. */
    async settle(pollerId: string, outcomes: PollOutcome[]): Promise<void> {
      const next = outcomes.filter((o): o is Extract<PollOutcome, { delayMs: number }> => 'delayMs' in o);
      const forget = outcomes.filter((o) => 'forget' in o);
      if (next.length > 0) {
        await knex().raw(
          `update provider_job_polls p
              set next_poll_at = now() + make_interval(secs => v.delay_ms::float8 / 1000), interval_ms = v.interval_ms,
                  poll_errors = v.poll_errors, ending_error = coalesce(v.ending_error, p.ending_error), claimed_by = null
             from jsonb_to_recordset(?::jsonb) as v(task_id text, attempt int, delay_ms int, interval_ms int, poll_errors int, ending_error jsonb)
            where p.task_id = v.task_id and p.attempt = v.attempt and p.claimed_by = ?`,
          [JSON.stringify(next.map((o) => ({ task_id: o.taskId, attempt: o.attempt, delay_ms: Math.max(0, Math.round(o.delayMs)), interval_ms: o.intervalMs, poll_errors: o.pollErrors, ending_error: o.endingError ?? null }))), pollerId],
        );
      }
      if (forget.length > 0) {
        await knex().raw(
          `delete from provider_job_polls p using jsonb_to_recordset(?::jsonb) as v(task_id text, attempt int)
            where p.task_id = v.task_id and p.attempt = v.attempt and p.claimed_by = ?`,
          [JSON.stringify(forget.map((o) => ({ task_id: o.taskId, attempt: o.attempt }))), pollerId],
        );
      }
    },

    /** Moves the lease of jobs `pollerId` is still reading (a slow provider) further ahead. */
    async renew(pollerId: string, taskIds: string[], leaseMs: number): Promise<void> {
      if (taskIds.length === 0) return;
      await knex().raw(
        `update provider_job_polls set next_poll_at = now() + make_interval(secs => ?::float8 / 1000) where claimed_by = ? and task_id = any(?)`,
        [leaseMs, pollerId, taskIds],
      );
    },

    /** Hands `pollerId`'s claims back, due now (a poller stopping cleanly). */
    async release(pollerId: string): Promise<void> {
      await knex().raw(`update provider_job_polls set next_poll_at = now(), claimed_by = null where claimed_by = ?`, [pollerId]);
    },

    /** Forgets the jobs of `queue` whose task has ended (cancelled, or ended while a poll was pending). */
    async sweep(queue: string): Promise<number> {
      const deleted = await rows<{ task_id: string }>(
        `delete from provider_job_polls p using tasks t
          where p.queue = ? and t.id = p.task_id and t.status = any(?) returning p.task_id`,
        [queue, FINAL_STATUSES],
      );
      return deleted.length;
    },

    /**
     * What the poller knows of this job for the workflow's read: the failed reads in a row it counted,
     * and the failed read that ends the attempt if it saw one (nothing when the job is not watched).
     */
    async pollerView(taskId: string, jobId: string): Promise<{ pollErrors: number; endingError?: ProviderErrorInfo }> {
      const [row] = await rows<{ poll_errors: number; ending_error: ProviderErrorInfo | null }>(
        `select poll_errors, ending_error from provider_job_polls where task_id = ? and job_id = ?`, [taskId, jobId]);
      return { pollErrors: row?.poll_errors ?? 0, ...(row?.ending_error ? { endingError: row.ending_error } : {}) };
    },

    /** After the workflow's own read: the job ended (forget it), or its count of failed reads is this. */
    async afterWorkflowRead(taskId: string, jobId: string, read: { ended: boolean; pollErrors: number }): Promise<void> {
      if (read.ended) await knex().raw(`delete from provider_job_polls where task_id = ? and job_id = ?`, [taskId, jobId]);
      else {
        await knex().raw(
          `update provider_job_polls set poll_errors = ?, ending_error = null where task_id = ? and job_id = ? and (poll_errors <> ? or ending_error is not null)`,
          [read.pollErrors, taskId, jobId, read.pollErrors],
        );
      }
    },
  };
}

export type PollStore = ReturnType<typeof createPollStore>;
