import { z } from 'zod';
import { isIpOrCidr } from '../../net/ip';

const credits = z.number().int('must be a whole number of credits').refine(Number.isSafeInteger, 'is too large');
const nonNegativeCredits = credits.min(0);

export const CreateAccountBody = z.strictObject({
  name: z.string().trim().min(1).max(200),
  credits: nonNegativeCredits.optional(),
});

export const TopUpBody = z.strictObject({
  amount: credits.refine((n) => n !== 0, 'must not be zero'),
  reason: z.string().max(500).optional(),
});

/** The last second JS Date, PostgreSQL and ISO 8601 all hold (9999-12-31T23:59:59Z), in unix seconds. */
const MAX_UNIX_SECONDS = 253_402_300_799;

/**
 * An ISO 8601 instant in 1970-9999. zod's format alone lets through year 0000, which JS Date holds but
 * PostgreSQL refuses (a 500 on flush).
 */
const isoInstant = z.iso.datetime({ offset: true }).refine((value) => {
  const ms = Date.parse(value);
  return ms >= 0 && ms <= MAX_UNIX_SECONDS * 1000;
}, 'must be between 1970-01-01 and 9999-12-31');

const modelPattern = z.string().min(1).max(200).regex(/^[\w.:/*-]+$/, 'may hold letters, digits, . _ - : / and *');
const ipEntry = z.string().refine(isIpOrCidr, 'must be an IPv4/IPv6 address or CIDR');

/** The settings of a key that PATCH may change. */
const KeySettings = {
  name: z.string().trim().min(1).max(200),
  models: z.array(modelPattern).max(500).nullable(),
  ip_allowlist: z.array(ipEntry).max(500).nullable(),
  group: z.string().min(1).max(100).regex(/^[\w.-]+$/),
  rpm: z.number().int().positive().max(1_000_000).nullable(),
  tpm: z.number().int().positive().max(1_000_000_000).nullable(),
  budget: nonNegativeCredits.nullable(),
  budget_monthly: nonNegativeCredits.nullable(),
  callback_url: z.url({ protocol: /^https?$/ }).max(4096).nullable(),
  metadata: z.record(z.string(), z.unknown()),
  /** ISO 8601 or unix seconds; past 9999 a unix time is an Invalid Date that crashed the flush. */
  expires_at: z.union([isoInstant, z.number().int().positive().max(MAX_UNIX_SECONDS)]).nullable(),
};

export const CreateKeyBody = z.strictObject({
  account_id: z.string().min(1).max(100),
  ...KeySettings,
  name: KeySettings.name.default('default'),
}).partial({ models: true, ip_allowlist: true, group: true, rpm: true, tpm: true, budget: true, budget_monthly: true, callback_url: true, metadata: true, expires_at: true });

export const UpdateKeyBody = z.strictObject(KeySettings).partial().extend({
  rotate_webhook_secret: z.boolean().optional(),
});

const PricingBody = z.strictObject({
  per_request: nonNegativeCredits.optional(),
  per_image: nonNegativeCredits.optional(),
  per_second: nonNegativeCredits.optional(),
  per_1k_input_tokens: nonNegativeCredits.optional(),
  per_1k_output_tokens: nonNegativeCredits.optional(),
  // Token detail rates (usage detail fields priced at their own rate instead of the input/output rate).
  per_1k_cached_input_tokens: nonNegativeCredits.optional(),
  per_1k_audio_input_tokens: nonNegativeCredits.optional(),
  per_1k_reasoning_tokens: nonNegativeCredits.optional(),
  per_1k_audio_output_tokens: nonNegativeCredits.optional(),
});

/** Media price units (issue 11): what a media model accepts and how its price varies. */
const MediaUnitFields = {
  /** Seconds priced and sent upstream when a request gives none; required with `per_second`. */
  default_duration: z.number().int().positive().max(600).optional(),
  /** The durations its upstream accepts, in seconds. */
  durations: z.array(z.number().int().positive().max(600)).min(1).max(50)
    .refine((list) => new Set(list).size === list.length, 'must not repeat a duration').optional(),
  /** Most images one request may ask for (`n`). */
  max_outputs: z.number().int().min(1).max(10).optional(),
  /** Prices by one request dimension; `default` applies (and is sent upstream) when the request names none. */
  price_tiers: z.strictObject({
    by: z.enum(['resolution', 'size', 'quality']),
    default: z.string().min(1).max(32),
    prices: z.record(z.string().min(1).max(32), PricingBody)
      .refine((prices) => Object.keys(prices).length >= 1 && Object.keys(prices).length <= 20, 'must list 1 to 20 values'),
  }).refine((tiers) => tiers.prices[tiers.default] !== undefined, { message: 'must be one of the tiers in prices', path: ['default'] }).optional(),
};

/** Refuses a media price without its units: a per-second price needs the seconds it charges by default. */
function mediaUnitsComplete(body: { category: string; pricing: z.infer<typeof PricingBody> } & { [K in keyof typeof MediaUnitFields]?: z.infer<(typeof MediaUnitFields)[K]> }, ctx: z.RefinementCtx): void {
  if (body.category !== 'video' && body.category !== 'music') return;
  const perSecond = [body.pricing, ...Object.values(body.price_tiers?.prices ?? {})].some((p) => (p.per_second ?? 0) > 0);
  if (perSecond && body.default_duration === undefined) {
    ctx.addIssue({ code: 'custom', path: ['default_duration'], message: 'is required for a per_second price' });
  }
  if (body.default_duration !== undefined && body.durations && !body.durations.includes(body.default_duration)) {
    ctx.addIssue({ code: 'custom', path: ['default_duration'], message: 'must be one of durations' });
  }
}

export const CreateModelBody = z.strictObject({
  id: z.string().min(1).max(200).regex(/^[\w.:/-]+$/, 'may hold letters, digits, . _ - : and /'),
  category: z.enum(['chat', 'embedding', 'image', 'video', 'music']),
  pricing: PricingBody,
  metadata: z.record(z.string(), z.unknown()).optional(),
  deadline_seconds: z.number().int().positive().max(7 * 24 * 3600).optional(),
  ...MediaUnitFields,
  /** Chat: output tokens a hold assumes when a request sets no max_tokens (default 4096). */
  max_output_tokens: z.number().int().positive().max(10_000_000).optional(),
}).superRefine(mediaUnitsComplete);

export const PROVIDER_IDS = ['openai', 'ark', 'replicate', 'fal', 'mock', 'gemini', 'kling', 'minimax', 'dashscope', 'runway', 'elevenlabs', 'luma', 'stability'] as const;

const channelModels = z.union([
  z.array(z.string().min(1).max(200)).min(1),
  z.record(z.string().min(1).max(200), z.string().min(1).max(300)).refine((m) => Object.keys(m).length > 0, 'must name at least one model'),
]);

const ChannelFields = {
  name: z.string().trim().min(1).max(200),
  provider: z.enum(PROVIDER_IDS),
  base_url: z.url({ protocol: /^https?$/ }).max(2048),
  api_key: z.string().min(1).max(4096),
  models: channelModels,
  groups: z.array(z.string().min(1).max(100)).min(1).max(100),
  priority: z.number().int().min(-1_000_000).max(1_000_000),
  weight: z.number().int().min(0).max(1_000_000),
  enabled: z.boolean(),
  settings: z.record(z.string(), z.unknown()),
  /** What the provider charges us per unit (whole credits); null clears it. */
  upstream_pricing: PricingBody.nullable(),
};

export const CreateChannelBody = z.strictObject(ChannelFields).partial({ groups: true, priority: true, weight: true, enabled: true, settings: true, api_key: true, base_url: true, upstream_pricing: true });
export const UpdateChannelBody = z.strictObject(ChannelFields).partial();

export const KeyListQuery = z.object({ account_id: z.string().max(100).optional() });

export const AdminUsageQuery = z.object({
  account_id: z.string().max(100).optional(),
  key_id: z.string().max(100).optional(),
  model: z.string().max(200).optional(),
  from: isoInstant.optional(),
  to: isoInstant.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

/** Channel models as stored: public id -> upstream name. */
export function channelModelMap(models: z.infer<typeof channelModels>): Record<string, string> {
  return Array.isArray(models) ? Object.fromEntries(models.map((m) => [m, m])) : models;
}
