import type { Pricing } from '../db/entities';

/** The billable units of one media request. */
export interface MediaUnits {
  seconds?: number;
  images?: number;
}

/**
 * Credits for a media request, in whole credits: per_request once, per_image for each image,
 * per_second for each (started) second. Integers in, integer out.
 */
export function priceMedia(pricing: Pricing, units: MediaUnits): number {
  let total = pricing.per_request ?? 0;
  if (pricing.per_image) total += pricing.per_image * Math.max(1, units.images ?? 1);
  if (pricing.per_second) total += pricing.per_second * Math.ceil(Math.max(0, units.seconds ?? 0));
  return total;
}

/** Units a request asks for, from its parameters and the model's default duration. */
export function requestedUnits(kind: string, params: { n?: number; duration?: number }, defaultDuration: number | null): MediaUnits {
  if (kind === 'image') return { images: params.n ?? 1 };
  return { seconds: params.duration ?? defaultDuration ?? 0 };
}

/** Credits for a chat request: per 1k tokens, each side rounded up to whole credits. */
export function priceTokens(pricing: Pricing, tokens: { input: number; output: number }): number {
  const input = Math.ceil(((pricing.per_1k_input_tokens ?? 0) * tokens.input) / 1000);
  const output = Math.ceil(((pricing.per_1k_output_tokens ?? 0) * tokens.output) / 1000);
  return input + output + (pricing.per_request ?? 0);
}
