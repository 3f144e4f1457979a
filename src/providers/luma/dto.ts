/** The Luma Dream Machine API (`https://api.lumalabs.ai/dream-machine/v1`) shapes this adapter reads. */
import { z } from 'zod';
import { BaseChannelSettings } from '../http';

/** Channel settings of a `luma` channel. */
export const LumaSettings = BaseChannelSettings.extend({});
export type LumaSettings = z.infer<typeof LumaSettings>;

/** FastAPI-style errors: `{"detail":"..."}` (or a validation list). */
export const LumaErrorBody = z.looseObject({
  detail: z.union([z.string(), z.array(z.looseObject({ loc: z.array(z.union([z.string(), z.number()])).nullish(), msg: z.string().nullish() }))]),
});

/** A generation: `state` queued → dreaming → completed | failed; POSTed whole to `callback_url` too. */
export const LumaGeneration = z.looseObject({
  id: z.string().min(1),
  state: z.string(),
  generation_type: z.string().nullish(),
  failure_reason: z.string().nullish(),
  assets: z.looseObject({ video: z.string().nullish(), image: z.string().nullish() }).nullish(),
  request: z.looseObject({ duration: z.string().nullish() }).nullish(),
});
export type LumaGeneration = z.infer<typeof LumaGeneration>;
