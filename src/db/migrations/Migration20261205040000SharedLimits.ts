import { Migration } from '@mikro-orm/migrations';

/**
 * Rate limits shared by the API replicas: one token bucket per key and limit, leased in shares
 * (src/limits/shared-buckets.ts), and a tokens-per-minute limit for chat on keys.
 */
export class Migration20261205040000SharedLimits extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      alter table api_keys add column tpm integer;

      create table rate_buckets (
        api_key_id text not null,
        kind text not null check (kind in ('rpm', 'tpm')),
        -- Tokens left at updated_at (fractional: the refill is continuous; negative: a token debt).
        tokens double precision not null,
        -- What the last lease granted, for its RETURNING.
        last_grant double precision not null default 0,
        updated_at timestamptz not null,
        primary key (api_key_id, kind)
      );
    `);
  }
}
