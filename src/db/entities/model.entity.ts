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
    /** Output tokens a chat hold assumes when the request sets no max_tokens (null: DEFAULT_MAX_OUTPUT_TOKENS). */
    maxOutputTokens: p.integer().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
  }),
});
