import { Migration } from '@mikro-orm/migrations';

/**
 * Key budgets held like the wallet: a key's total and monthly spend and reservations move in the
 * same transaction as the account's hold, with the same conditional updates.
 */
export class Migration20261126020000KeyBudgets extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      alter table api_keys add column budget_spent bigint not null default 0;
      alter table api_keys add column budget_reserved bigint not null default 0;

      create table key_monthly_spend (
        api_key_id text not null references api_keys(id),
        month text not null,
        spent bigint not null default 0,
        reserved bigint not null default 0,
        primary key (api_key_id, month)
      );

      -- The calendar month (UTC, YYYY-MM) a hold counts against, so closing it later adjusts that month.
      alter table holds add column budget_month text;
    `);
  }
}
