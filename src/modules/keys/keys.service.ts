import type { EntityManager } from '@mikro-orm/postgresql';
import { ApiKey } from '../../db/entities';
import { newId } from '../../ids';
import { hashApiKey, newApiKeySecret, newWebhookSecret, type SecretBox } from '../../security/secrets';

/** The settings a key is created with (all optional but the account). */
export interface KeySettingsInput {
  accountId: string;
  name?: string;
  models?: string[] | null;
  ipAllowlist?: string[] | null;
  group?: string;
  rpm?: number | null;
  tpm?: number | null;
  budgetTotal?: number | null;
  budgetMonthly?: number | null;
  defaultCallbackUrl?: string | null;
  metadata?: Record<string, unknown>;
  expiresAt?: Date | null;
}

/**
 * Creates a key. The secret and the webhook secret are returned once, here; only the key's SHA-256 and
 * the encrypted webhook secret are stored.
 */
export async function createApiKey(em: EntityManager, box: SecretBox, input: KeySettingsInput) {
  const key = newApiKeySecret();
  const webhookSecret = newWebhookSecret();
  const row = em.create(ApiKey, {
    id: newId('key'),
    accountId: input.accountId,
    name: input.name ?? 'default',
    prefix: key.slice(0, 12),
    keyHash: hashApiKey(key),
    webhookSecretEnc: box.seal(webhookSecret),
    group: input.group ?? 'default',
    models: input.models ?? null,
    ipAllowlist: input.ipAllowlist ?? null,
    rpm: input.rpm ?? null,
    tpm: input.tpm ?? null,
    budgetTotal: input.budgetTotal ?? null,
    budgetMonthly: input.budgetMonthly ?? null,
    defaultCallbackUrl: input.defaultCallbackUrl ?? null,
    metadata: input.metadata ?? {},
    expiresAt: input.expiresAt ?? null,
    revokedAt: null,
  });
  await em.persistAndFlush(row);
  return { row, key, webhookSecret };
}

/** Gives a key a new secret; its id, settings, budgets and webhook secret stay. The old secret stops working. */
export async function rotateApiKey(em: EntityManager, id: string) {
  const row = await em.findOne(ApiKey, { id });
  if (!row) return null;
  const key = newApiKeySecret();
  row.keyHash = hashApiKey(key);
  row.prefix = key.slice(0, 12);
  await em.flush();
  return { row, key };
}
