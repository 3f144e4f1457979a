import { Migration } from '@mikro-orm/migrations';

/**
 * What a channel's provider charges us (`channels.upstream_pricing`, the shape of a model's pricing, in
 * whole credits) and what each usage row cost us upstream (`usage_records.upstream_cost`), for the
 * console's money page. The cost is computed by a trigger as the row is inserted, with the same rules as
 * the consumer's price (src/billing/pricing.ts): every path that writes usage rows (task settlement and
 * refund, the chat lease flush) records it without knowing about it, and a later change of the channel's
 * pricing leaves past rows as they were. Null: the channel has no upstream pricing (cost unknown).
 */
export class Migration20261205050000ConsoleUpstreamCost extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      alter table channels add column upstream_pricing jsonb;
      alter table usage_records add column upstream_cost bigint;

      create function usage_record_upstream_cost() returns trigger language plpgsql as $fn$
      declare
        p jsonb;
        u jsonb := coalesce(new.units, '{}'::jsonb);
      begin
        if new.upstream_cost is not null or new.channel_id is null then return new; end if;
        select upstream_pricing into p from channels where id = new.channel_id;
        if p is null then return new; end if;
        -- A refunded task or a failed request bills nothing, and nothing was delivered upstream.
        if u = '{}'::jsonb then new.upstream_cost := 0; return new; end if;
        new.upstream_cost :=
          coalesce((p->>'per_request')::bigint, 0)
          + coalesce((p->>'per_image')::bigint, 0) * greatest(1, coalesce((u->>'images')::numeric, 1))::bigint
          + coalesce((p->>'per_second')::bigint, 0) * ceil(greatest(0, coalesce((u->>'seconds')::numeric, 0)))::bigint
          + ceil(coalesce((p->>'per_1k_input_tokens')::numeric, 0) * coalesce((u->>'input_tokens')::numeric, 0) / 1000)::bigint
          + ceil(coalesce((p->>'per_1k_output_tokens')::numeric, 0) * coalesce((u->>'output_tokens')::numeric, 0) / 1000)::bigint;
        return new;
      end
      $fn$;

      create trigger usage_records_upstream_cost before insert on usage_records
        for each row execute function usage_record_upstream_cost();

      create index usage_records_created_index on usage_records(created_at);
      create index usage_records_channel_index on usage_records(channel_id, created_at desc);
    `);
  }
}
