import type { EntityManager } from '@mikro-orm/postgresql';

/** A channel that can serve one model for one group, with the upstream model name it uses. */
export interface Candidate {
  id: string;
  provider: string;
  priority: number;
  weight: number;
  upstreamModel: string;
  settings: Record<string, unknown>;
}

/** Enabled channels that serve `model` for `group`. */
export async function listCandidates(em: EntityManager, model: string, group: string): Promise<Candidate[]> {
  const rows = await em.getConnection().execute<{ id: string; provider: string; priority: number; weight: number; models: Record<string, string>; settings: Record<string, unknown> }[]>(
    `select id, provider, priority, weight, models, settings from channels
     where enabled and jsonb_exists(models, ?) and jsonb_exists(groups, ?)`,
    [model, group],
  );
  return rows.map((row) => ({
    id: row.id,
    provider: row.provider,
    priority: row.priority,
    weight: row.weight,
    upstreamModel: row.models[model] ?? model,
    settings: row.settings ?? {},
  }));
}
