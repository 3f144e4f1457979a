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

/**
 * Token usage as the upstream reports it. `input` and `output` are the totals (prompt_tokens,
 * completion_tokens); the details are parts of them (cached and audio prompt tokens, reasoning and audio
 * completion tokens).
 */
export interface TokenUsage {
  input: number;
  output: number;
  cachedInput?: number;
  audioInput?: number;
  reasoning?: number;
  audioOutput?: number;
}

/**
 * Credits for a token request, per 1k tokens, each priced part rounded up to whole credits. A detail
 * whose rate the pricing names is taken out of its total and priced at that rate; an unnamed detail stays
 * in the total at the input or output rate.
 */
export function priceTokens(pricing: Pricing, tokens: TokenUsage): number {
  const part = (rate: number | undefined, count: number) => Math.ceil(((rate ?? 0) * Math.max(0, count)) / 1000);
  let input = tokens.input;
  let output = tokens.output;
  let details = 0;
  const detail = (rate: number | undefined, count: number | undefined, from: 'input' | 'output') => {
    if (rate === undefined || !count) return;
    if (from === 'input') input -= count;
    else output -= count;
    details += part(rate, count);
  };
  detail(pricing.per_1k_cached_input_tokens, tokens.cachedInput, 'input');
  detail(pricing.per_1k_audio_input_tokens, tokens.audioInput, 'input');
  detail(pricing.per_1k_reasoning_tokens, tokens.reasoning, 'output');
  detail(pricing.per_1k_audio_output_tokens, tokens.audioOutput, 'output');
  return part(pricing.per_1k_input_tokens, input) + part(pricing.per_1k_output_tokens, output) + details + (pricing.per_request ?? 0);
}
