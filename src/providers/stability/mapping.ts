/** Our MediaRequest into Stable Audio's multipart form. */
import { withoutPriced } from '../http';
import type { MediaRequest } from '../types';

/** Form fields that decide Stability's price or model: `model` and `duration` (1-190 s). */
export const STABILITY_PRICED_KEYS = ['model', 'duration'] as const;

/**
 * The options (without priced keys; `steps`, `cfg_scale`...), then `prompt`, `model`, `duration`, `seed`
 * and `output_format` (the channel's), every value as a form string (objects as JSON).
 */
export function audioForm(request: MediaRequest, outputFormat: string): Record<string, string> {
  const fields: Record<string, unknown> = {
    ...withoutPriced(request.options, STABILITY_PRICED_KEYS),
    prompt: request.prompt,
    model: request.model,
    ...(request.duration !== undefined ? { duration: request.duration } : {}),
    ...(request.seed !== undefined ? { seed: request.seed } : {}),
    output_format: outputFormat,
  };
  return Object.fromEntries(
    Object.entries(fields)
      .filter(([, value]) => value !== undefined && value !== null)
      .map(([key, value]) => [key, typeof value === 'object' ? JSON.stringify(value) : String(value)]),
  );
}
