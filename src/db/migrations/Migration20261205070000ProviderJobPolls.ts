import { Migration } from '@mikro-orm/migrations';

/**
 * Provider jobs that the shared poller (src/providers/job-poller) watches, one row per task: its current
 * attempt's job and when to read it next. Workers claim due rows by moving `next_poll_at` a short lease
 * ahead (`FOR UPDATE SKIP LOCKED`), so several workers share the jobs and never read one at once, and
 * a killed worker's claims come due again when their lease runs out. `queue` is the Temporal task queue
 * of the task: only the workers of that queue (same providers, same settings) poll its jobs.
 */
export class Migration20261205070000ProviderJobPolls extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table provider_job_polls (
        task_id text primary key,
        attempt integer not null,
        queue text not null,
        channel_id text not null,
        job_id text not null,
        job jsonb not null,
        request jsonb not null,
        base_interval_ms integer not null,
        interval_ms integer not null,
        poll_errors integer not null default 0,
        -- The failed read that ends the attempt, handed to the workflow's read to classify (not read again).
        ending_error jsonb,
        next_poll_at timestamptz not null,
        claimed_by text,
        created_at timestamptz not null default now()
      );
      create index provider_job_polls_due_index on provider_job_polls(queue, next_poll_at);
    `);
  }
}
