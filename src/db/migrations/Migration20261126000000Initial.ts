import { Migration } from '@mikro-orm/migrations';

/** The first schema: wallets, keys, models, channels, tasks, the ledger, assets, usage, callbacks. */
export class Migration20261126000000Initial extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table accounts (
        id text primary key,
        name text not null,
        balance bigint not null default 0 check (balance >= 0),
        reserved bigint not null default 0 check (reserved >= 0),
        created_at timestamptz not null default now()
      );

      create table api_keys (
        id text primary key,
        account_id text not null references accounts(id),
        name text not null,
        prefix text not null,
        key_hash text not null unique,
        webhook_secret_enc text not null,
        "group" text not null default 'default',
        models jsonb,
        ip_allowlist jsonb,
        rpm integer,
        budget_total bigint,
        budget_monthly bigint,
        default_callback_url text,
        metadata jsonb not null default '{}',
        expires_at timestamptz,
        revoked_at timestamptz,
        created_at timestamptz not null default now()
      );
      create index api_keys_account_id_index on api_keys(account_id);

      create table models (
        id text primary key,
        category text not null,
        pricing jsonb not null,
        metadata jsonb not null default '{}',
        deadline_seconds integer,
        default_duration integer,
        created_at timestamptz not null default now()
      );

      create table channels (
        id text primary key,
        name text not null,
        provider text not null,
        base_url text not null,
        api_key_enc text not null,
        models jsonb not null,
        groups jsonb not null,
        priority integer not null default 0,
        weight integer not null default 1,
        enabled boolean not null default true,
        settings jsonb not null default '{}',
        disabled_reason text,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now()
      );

      create table tasks (
        id text primary key,
        account_id text not null references accounts(id),
        api_key_id text not null,
        kind text not null,
        model text not null,
        status text not null,
        progress integer,
        request jsonb not null,
        request_hash text not null,
        idempotency_key text,
        callback_url text,
        channel_id text,
        provider_job_id text,
        attempts jsonb not null default '[]',
        error jsonb,
        credits_reserved bigint not null default 0,
        credits_charged bigint not null default 0,
        credits_refunded bigint not null default 0,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        completed_at timestamptz
      );
      create index tasks_account_id_index on tasks(account_id);
      create index tasks_account_created_index on tasks(account_id, created_at desc, id desc);

      -- One hold per task or request. Its id is the task id (or request id), so reserving twice is a no-op.
      create table holds (
        id text primary key,
        account_id text not null references accounts(id),
        api_key_id text,
        amount bigint not null check (amount >= 0),
        status text not null check (status in ('open', 'captured', 'released')),
        captured bigint not null default 0,
        created_at timestamptz not null default now(),
        closed_at timestamptz
      );
      create index holds_open_index on holds(account_id) where status = 'open';

      -- Append-only. (ref, kind) is unique so a retried step can't write twice.
      create table ledger_entries (
        id bigserial primary key,
        account_id text not null references accounts(id),
        kind text not null check (kind in ('topup', 'hold', 'capture', 'release')),
        amount bigint not null,
        ref text not null,
        reason text,
        created_at timestamptz not null default now(),
        unique (ref, kind)
      );
      create index ledger_entries_account_index on ledger_entries(account_id, created_at);

      create table assets (
        id text primary key,
        task_id text not null,
        account_id text not null,
        position integer not null,
        content_type text not null,
        bytes bigint not null,
        sha256 text not null,
        storage_key text not null,
        created_at timestamptz not null default now(),
        unique (task_id, position)
      );
      create index assets_task_id_index on assets(task_id);

      create table usage_records (
        id text primary key,
        ref text not null unique,
        account_id text not null,
        api_key_id text not null,
        model text not null,
        category text not null,
        channel_id text,
        units jsonb not null default '{}',
        credits bigint not null default 0,
        status text not null,
        latency_ms integer,
        created_at timestamptz not null default now()
      );
      create index usage_records_account_index on usage_records(account_id, created_at);

      create table webhook_deliveries (
        id text primary key,
        task_id text not null,
        url text not null,
        event_type text not null,
        attempts integer not null default 0,
        last_status integer,
        last_error text,
        delivered_at timestamptz,
        created_at timestamptz not null default now()
      );
      create index webhook_deliveries_task_id_index on webhook_deliveries(task_id);
    `);
  }
}
