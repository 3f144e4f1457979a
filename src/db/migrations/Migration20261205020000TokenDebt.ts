import { Migration } from '@mikro-orm/migrations';

/**
 * Tokens settle at the provider's real usage, even above the hold: what the wallet can't cover becomes
 * the account's `debt` (a `debt` ledger row, negative when paid back), recorded per request on its usage
 * row. And the model setting that sizes a chat hold without `max_tokens`.
 */
export class Migration20261205020000TokenDebt extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      alter table accounts add column debt bigint not null default 0 check (debt >= 0);
      alter table ledger_entries drop constraint ledger_entries_kind_check;
      alter table ledger_entries add constraint ledger_entries_kind_check check (kind in ('topup', 'hold', 'capture', 'release', 'debt'));
      alter table usage_records add column debt bigint not null default 0;
      alter table models add column max_output_tokens integer;
    `);
  }
}
