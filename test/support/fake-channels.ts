/** Models served by channels on fake providers, as the gateway tests set them up through the admin API. */
import type { FakeProvider } from '../fakes';
import { sql } from './checks';
import { uniqueId, type TestGateway } from './harness';

/** Settings every fake channel gets: quick polls, a short call timeout. */
const FAKE_CHANNEL_SETTINGS = { pollIntervalMs: 100, timeoutMs: 5000 };

/** One channel of `provider` on `fake` serving `model` as `upstream`. */
export async function channelOnFake(
  gw: Pick<TestGateway, 'admin'>,
  provider: string,
  fake: FakeProvider,
  model: string,
  upstream: string,
  opts: { priority?: number; settings?: Record<string, unknown> } = {},
): Promise<{ id: string }> {
  const priority = opts.priority ?? 10;
  return gw.admin('POST', '/admin/channels', {
    name: `${provider} ${priority} for ${model}`, provider, base_url: fake.url, api_key: fake.apiKey, models: { [model]: upstream }, priority,
    settings: { ...FAKE_CHANNEL_SETTINGS, ...opts.settings },
  });
}

/**
 * A new model with `fields` (category, pricing, units...) served by one channel per fake, each mapped to
 * `upstream`; the first fake's channel has the highest priority. Returns the model id.
 */
export async function modelOnFakes(
  gw: Pick<TestGateway, 'admin'>,
  provider: string,
  fakes: FakeProvider[],
  upstream: string,
  fields: Record<string, unknown>,
  settings: Record<string, unknown> = {},
): Promise<string> {
  const id = uniqueId(`m-${provider}`);
  await gw.admin('POST', '/admin/models', { id, ...fields });
  for (const [i, fake] of fakes.entries()) await channelOnFake(gw, provider, fake, id, upstream, { priority: 30 - 10 * i, settings });
  return id;
}

/** A task's (or request's) ledger rows by kind: `{hold: 15, capture: 9, release: 6}`. */
export async function ledgerByKind(gw: TestGateway, ref: string): Promise<Record<string, number>> {
  const rows = await sql<{ kind: string; amount: string | number }>(gw, 'select kind, amount from ledger_entries where ref = ? order by id', [ref]);
  return Object.fromEntries(rows.map((row) => [row.kind, Number(row.amount)]));
}
