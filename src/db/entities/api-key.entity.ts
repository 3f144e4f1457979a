import { defineEntity } from '@mikro-orm/core';

/** A consumer key. Only the SHA-256 of the key is stored; the webhook secret is encrypted. */
export const ApiKey = defineEntity({
  name: 'ApiKey',
  tableName: 'api_keys',
  properties: (p) => ({
    id: p.string().primary(),
    accountId: p.string().index(),
    name: p.string(),
    /** The first characters of the key, shown in lists so people can tell keys apart. */
    prefix: p.string(),
    keyHash: p.string().unique(),
    webhookSecretEnc: p.text(),
    group: p.string(),
    models: p.json<string[]>().nullable(),
    ipAllowlist: p.json<string[]>().nullable(),
    rpm: p.integer().nullable(),
    /** Chat tokens (prompt + completion) per minute. */
    tpm: p.integer().nullable(),
    budgetTotal: p.bigint('number').nullable(),
    budgetMonthly: p.bigint('number').nullable(),
    /** Credits captured under this key, and credits held by its open holds (kept by the ledger). */
    budgetSpent: p.bigint('number').default(0),
    budgetReserved: p.bigint('number').default(0),
    defaultCallbackUrl: p.text().nullable(),
    metadata: p.json<Record<string, unknown>>(),
    expiresAt: p.datetime().nullable(),
    revokedAt: p.datetime().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
  }),
});
