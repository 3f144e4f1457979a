/** Our MediaRequest into an ElevenLabs music body. */
import { withoutPriced } from '../http';
import type { MediaRequest } from '../types';

/**
 * Body fields that decide ElevenLabs' price or model: it bills the length made, which `music_length_ms`
 * sets, or a `composition_plan` (whose sections set it instead); `model_id` picks the model.
 */
export const ELEVENLABS_PRICED_KEYS = ['model_id', 'music_length_ms', 'composition_plan'] as const;

/** The options (without priced keys), then `{prompt, model_id, music_length_ms: duration × 1000}`. */
export function musicBody(request: MediaRequest): Record<string, unknown> {
  return {
    ...withoutPriced(request.options, ELEVENLABS_PRICED_KEYS),
    prompt: request.prompt,
    model_id: request.model,
    ...(request.duration !== undefined ? { music_length_ms: Math.round(request.duration * 1000) } : {}),
  };
}
