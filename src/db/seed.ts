import type { EntityManager } from '@mikro-orm/postgresql';
import { Account, ApiKey, Channel, Model } from './entities';
import { createAccount } from '../modules/accounts/accounts.service';
import { hashApiKey, type SecretBox } from '../security/secrets';
import { newWebhookSecret } from '../security/secrets';

export const DEMO_ACCOUNT_ID = 'acct_demo';
export const DEMO_KEY_ID = 'key_demo';
export const DEMO_CHANNEL_ID = 'ch_mock_demo';

/** Demo models served by the built-in mock channel. */
export const DEMO_MODELS = [
  { id: 'mock-image', category: 'image', pricing: { per_image: 10 }, defaultDuration: null, deadlineSeconds: 600 },
  { id: 'mock-video', category: 'video', pricing: { per_second: 5 }, defaultDuration: 5, deadlineSeconds: 900 },
  { id: 'mock-music', category: 'music', pricing: { per_second: 2 }, defaultDuration: 10, deadlineSeconds: 900 },
] as const;

/**
 * First-run demo data: an account with 100,000 credits, a key, three mock models on a mock channel.
 * The demo key is derived from the gateway secret (`box.sign`), so it can be printed at every start
 * while only its hash is stored. Returns the key.
 */
export async function seedDemo(em: EntityManager, box: SecretBox): Promise<{ key: string; created: boolean }> {
  const key = demoKey(box);
  if (await em.findOne(Account, { id: DEMO_ACCOUNT_ID })) return { key, created: false };
  await createAccount(em, { id: DEMO_ACCOUNT_ID, name: 'Demo', credits: 100_000 });
  em.create(ApiKey, {
    id: DEMO_KEY_ID, accountId: DEMO_ACCOUNT_ID, name: 'demo', prefix: key.slice(0, 12), keyHash: hashApiKey(key),
    webhookSecretEnc: box.seal(newWebhookSecret()), group: 'default', models: null, ipAllowlist: null, rpm: null,
    budgetTotal: null, budgetMonthly: null, defaultCallbackUrl: null, metadata: { demo: true }, expiresAt: null, revokedAt: null,
  });
  for (const model of DEMO_MODELS) {
    if (await em.findOne(Model, { id: model.id })) continue;
    em.create(Model, { id: model.id, category: model.category, pricing: { ...model.pricing }, metadata: { provider: 'mock' }, defaultDuration: model.defaultDuration, deadlineSeconds: model.deadlineSeconds });
  }
  if (!(await em.findOne(Channel, { id: DEMO_CHANNEL_ID }))) {
    em.create(Channel, {
      id: DEMO_CHANNEL_ID, name: 'Built-in mock', provider: 'mock', baseUrl: 'mock://local', apiKeyEnc: box.seal('mock'),
      models: Object.fromEntries(DEMO_MODELS.map((m) => [m.id, m.id])), groups: ['default'], priority: 0, weight: 1, enabled: true,
      settings: { durationMs: { image: 2000, video: 5000, music: 3000 } }, disabledReason: null,
    });
  }
  await em.flush();
  return { key, created: true };
}

/** The demo key of a gateway secret (the same at every start, so it can be printed again). */
export function demoKey(box: SecretBox): string {
  return `sk-gw-demo-${box.sign('demo-key').slice(0, 32)}`;
}
