/** Wire shapes of admin objects: ids are strings, times are ISO strings, secrets never appear. */

export function presentAccount(account: { id: string; name: string; balance: number; reserved: number; debt: number; createdAt: Date }) {
  return {
    id: account.id, object: 'account', name: account.name, balance: account.balance, reserved: account.reserved, debt: account.debt,
    created_at: account.createdAt.toISOString(),
  };
}

export function presentKey(key: {
  id: string; accountId: string; name: string; prefix: string; group: string; models?: string[] | null; ipAllowlist?: string[] | null;
  rpm?: number | null; tpm?: number | null; budgetTotal?: number | null; budgetMonthly?: number | null; budgetSpent?: number; budgetReserved?: number; defaultCallbackUrl?: string | null;
  metadata: Record<string, unknown>; expiresAt?: Date | null; revokedAt?: Date | null; createdAt: Date;
}) {
  return {
    id: key.id, object: 'api_key', account_id: key.accountId, name: key.name, prefix: key.prefix, group: key.group,
    models: key.models ?? null, ip_allowlist: key.ipAllowlist ?? null, rpm: key.rpm ?? null, tpm: key.tpm ?? null, budget: key.budgetTotal ?? null,
    budget_monthly: key.budgetMonthly ?? null, budget_spent: key.budgetSpent ?? 0, budget_reserved: key.budgetReserved ?? 0, callback_url: key.defaultCallbackUrl ?? null, metadata: key.metadata,
    expires_at: key.expiresAt?.toISOString() ?? null, revoked_at: key.revokedAt?.toISOString() ?? null, created_at: key.createdAt.toISOString(),
  };
}

export function presentModel(model: { id: string; category: string; pricing: object; metadata: Record<string, unknown>; deadlineSeconds?: number | null; maxOutputTokens?: number | null; createdAt: Date } & MediaUnits) {
  return {
    id: model.id, object: 'model', category: model.category, pricing: model.pricing, metadata: model.metadata,
    deadline_seconds: model.deadlineSeconds ?? null, ...presentMediaUnits(model), max_output_tokens: model.maxOutputTokens ?? null, created_at: model.createdAt.toISOString(),
  };
}

/** A media model's price units, as both the admin and the public model lists show them. */
export interface MediaUnits { defaultDuration?: number | null; durations?: number[] | null; maxOutputs?: number | null; priceTiers?: object | null }

export function presentMediaUnits(model: MediaUnits) {
  return {
    default_duration: model.defaultDuration ?? null, durations: model.durations ?? null,
    max_outputs: model.maxOutputs ?? null, price_tiers: model.priceTiers ?? null,
  };
}

/** How a secret channel setting (a webhook signing secret) is shown: only that it is set. */
export const HIDDEN_SETTING = '[hidden]';

/** Settings whose value is a secret (`webhookSecret`...): shown as HIDDEN_SETTING, never in clear. */
export function isSecretSetting(name: string): boolean {
  return /secret/i.test(name);
}

function presentSettings(settings: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(settings).map(([name, value]) => [name, isSecretSetting(name) && value !== undefined ? HIDDEN_SETTING : value]));
}

/** A channel without its credential: only whether one is set. */
export function presentChannel(channel: {
  id: string; name: string; provider: string; baseUrl: string; models: Record<string, string>; groups: string[]; priority: number;
  weight: number; enabled: boolean; settings: Record<string, unknown>; disabledReason?: string | null; upstreamPricing?: object | null; createdAt: Date; updatedAt: Date;
}) {
  return {
    id: channel.id, object: 'channel', name: channel.name, provider: channel.provider, base_url: channel.baseUrl, api_key_set: true,
    models: channel.models, groups: channel.groups, priority: channel.priority, weight: channel.weight, enabled: channel.enabled,
    settings: presentSettings(channel.settings), disabled_reason: channel.disabledReason ?? null, upstream_pricing: channel.upstreamPricing ?? null,
    created_at: channel.createdAt.toISOString(), updated_at: channel.updatedAt.toISOString(),
  };
}
