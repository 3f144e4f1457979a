import { Migration } from '@mikro-orm/migrations';

/**
 * `tasks.pending_start`: set by an API that reserved a task itself (row and hold in one transaction)
 * before starting its workflow, with what the start needs beyond the row; cleared once the workflow is
 * known to exist. A row that keeps it past a few seconds belongs to an API that died between commit and
 * start: the sweeper (src/modules/tasks/unstarted-tasks.ts) starts or refunds it. The partial index keeps
 * the sweeper's scan to those few rows.
 */
export class Migration20261205061300TaskPendingStart extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      alter table tasks add column pending_start jsonb;
      create index tasks_pending_start_index on tasks (created_at) where pending_start is not null;
    `);
  }
}
