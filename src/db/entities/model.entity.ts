import { defineEntity } from '@mikro-orm/core';

/** Credits charged for a model, in whole credits. */
export interface Pricing {
  per_request?: number;
  per_image?: number;
  per_second?: number;
  per_1k_input_tokens?: number;
  per_1k_output_tokens?: number;
  /**
   * Token detail rates: when set, those tokens (which the upstream counts inside its prompt or completion
   * tokens) are priced at this rate instead of the input or output rate.
   */
  per_1k_cached_input_tokens?: number;
  per_1k_audio_input_tokens?: number;
  per_1k_reasoning_tokens?: number;
  per_1k_audio_output_tokens?: number;
}

/**
 * Prices that depend on one request dimension (Seedance 720p vs 1080p per second, image quality low /
 * medium / high): each value's prices replace the model's own; `default` applies when the request names
 * none, and the chosen value is what goes upstream.
 */
export interface PriceTiers {
  by: 'resolution' | 'size' | 'quality';
  default: string;
  prices: Record<string, Pricing>;
}

/** A public model id that consumers call. */
export const Model = defineEntity({
  name: 'Model',
  tableName: 'models',
  properties: (p) => ({
    id: p.string().primary(),
    category: p.string(),
    pricing: p.json<Pricing>(),
    metadata: p.json<Record<string, unknown>>(),
    /** Seconds a task of this model may take before it is cancelled and refunded. */
    deadlineSeconds: p.integer().nullable(),
    /** Seconds charged when a request gives no `duration` (per_second pricing). */
    defaultDuration: p.integer().nullable(),
    /** The durations (seconds) its upstream accepts; null: any whole number up to the API's cap. */
    durations: p.json<number[]>().nullable(),
    /** Most outputs (images) one request may ask for; null: the API's cap. */
    maxOutputs: p.integer().nullable(),
    /** Prices by resolution, size or quality; null: one price. */
    priceTiers: p.json<PriceTiers>().nullable(),
    /** Output tokens a chat hold assumes when the request sets no max_tokens (null: DEFAULT_MAX_OUTPUT_TOKENS). */
    maxOutputTokens: p.integer().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
  }),
});
