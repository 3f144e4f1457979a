/** Stability's Stable Audio API (`https://api.stability.ai`) shapes this adapter reads. */
import { z } from 'zod';
import { BaseChannelSettings } from '../http';
import { SYNC_TIMEOUT_MS } from '../sync-audio';

/** Channel settings of a `stability` channel. */
export const StabilitySettings = BaseChannelSettings.extend({
  timeoutMs: SYNC_TIMEOUT_MS,
  /** The `output_format` form field: `mp3` or `wav`. */
  outputFormat: z.enum(['mp3', 'wav']).default('mp3'),
});
export type StabilitySettings = z.infer<typeof StabilitySettings>;

/** Errors: `{"id":"...","name":"bad_request","errors":["..."]}`. */
export const StabilityErrorBody = z.looseObject({
  id: z.string().nullish(),
  name: z.string().nullish(),
  errors: z.array(z.string()).nullish(),
});
