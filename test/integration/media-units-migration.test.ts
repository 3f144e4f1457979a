/**
 * The migration that gives existing per-second media models their units: a model without a
 * `default_duration` gets its provider's documented default, and nothing else changes.
 */
import { FILL_DEFAULT_DURATIONS } from '../../src/db/migrations/Migration20261205010000MediaPriceUnits';
import { sql } from '../support/checks';
import { startTestGateway, uniqueId, type TestGateway } from '../support/harness';

describe('migration: per-second models get a default duration', () => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startTestGateway({ runWorker: false });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('fills 4 s for an OpenAI-served video model, 5 s for other video, 10 s for music, and leaves the rest', async () => {
    const ids = { sora: uniqueId('mig-sora'), ark: uniqueId('mig-ark'), music: uniqueId('mig-music'), set: uniqueId('mig-set'), image: uniqueId('mig-img'), request: uniqueId('mig-req') };
    const rows: [string, string, object, number | null][] = [
      [ids.sora, 'video', { per_second: 5 }, null],
      [ids.ark, 'video', { per_second: 3 }, null],
      [ids.music, 'music', { per_second: 1 }, null],
      [ids.set, 'video', { per_second: 3 }, 8],
      [ids.image, 'image', { per_image: 2 }, null],
      [ids.request, 'video', { per_request: 9 }, null],
    ];
    for (const [id, category, pricing, duration] of rows) {
      // Straight into the table: the admin API no longer accepts such rows.
      await sql(gw, `insert into models (id, category, pricing, metadata, default_duration, created_at) values (?, ?, ?::jsonb, '{}'::jsonb, ?, now())`, [id, category, JSON.stringify(pricing), duration]);
    }
    await gw.admin('POST', '/admin/channels', { name: 'sora', provider: 'openai', base_url: 'http://127.0.0.1:9/v1', api_key: 'sk-test', models: { [ids.sora]: 'sora-2' } });
    await gw.admin('POST', '/admin/channels', { name: 'ark', provider: 'ark', base_url: 'http://127.0.0.1:9/api/v3', api_key: 'k', models: { [ids.ark]: 'seedance-1-0-lite-t2v-250428' } });

    await gw.gateway.orm.em.fork().getConnection().execute(FILL_DEFAULT_DURATIONS);

    const after = await sql<{ id: string; default_duration: number | null }>(gw, 'select id, default_duration from models where id in (?, ?, ?, ?, ?, ?)', Object.values(ids));
    const byId = Object.fromEntries(after.map((row) => [row.id, row.default_duration]));
    expect(byId).toEqual({ [ids.sora]: 4, [ids.ark]: 5, [ids.music]: 10, [ids.set]: 8, [ids.image]: null, [ids.request]: null });
  });
});
