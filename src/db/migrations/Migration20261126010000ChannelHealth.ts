import { Migration } from '@mikro-orm/migrations';

/** Circuit-breaker state per channel, shared by every worker. */
export class Migration20261126010000ChannelHealth extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table channel_health (
        channel_id text primary key references channels(id),
        consecutive_failures integer not null default 0,
        open_until timestamptz,
        last_error_code text,
        last_failure_at timestamptz,
        last_success_at timestamptz
      );
    `);
  }
}
