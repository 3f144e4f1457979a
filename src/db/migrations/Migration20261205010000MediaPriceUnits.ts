import { Migration } from '@mikro-orm/migrations';

/** Gives each per-second media model without a default duration its provider's documented default. */
export const FILL_DEFAULT_DURATIONS = `
      update models m set default_duration = case
          when m.category = 'video' and exists (
            select 1 from channels c where c.provider = 'openai' and (c.models -> m.id) is not null) then 4
          when m.category = 'music' then 10
          else 5 end
        where m.default_duration is null
          and m.category in ('video', 'music')
          and coalesce((m.pricing->>'per_second')::numeric, 0) > 0;
`;

/**
 * Every media price has its units: the durations and output counts a model accepts, price tiers by
 * resolution / size / quality, and a `default_duration` on every per-second model, so a request without a
 * duration is priced at (and sends upstream) exactly that. Existing per-second models without one get
 * their provider's documented default: OpenAI Sora 4 s, the mock's music 10 s, everything else
 * (Seedance, the mock's and most replicate / fal video models) 5 s.
 */
export class Migration20261205010000MediaPriceUnits extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      alter table models add column durations jsonb;
      alter table models add column max_outputs integer;
      alter table models add column price_tiers jsonb;
    `);
    this.addSql(FILL_DEFAULT_DURATIONS);
  }
}
