/** The Replicate wire shapes this adapter reads. */
import { z } from 'zod';
import { BaseChannelSettings, InputKeys } from '../http';

/** Channel settings of a `replicate` channel. */
export const ReplicateSettings = BaseChannelSettings.extend({
  /** Rename or drop input fields for this channel's models (defaults in mapping.ts). */
  inputKeys: InputKeys.optional(),
  /**
   * Send `Prefer: wait=N` on create so fast models answer finished; must stay below `timeoutMs`.
   * Off by default: the workflow polls anyway.
   */
  preferWaitSeconds: z.number().int().min(1).max(60).optional(),
  /**
   * The account's webhook signing secret (`whsec_...`, from `GET /webhooks/default/secret`): callbacks are
   * then checked against their Standard Webhooks signature and timestamp. Without it our per-job token is
   * the only check.
   */
  webhookSecret: z.string().regex(/^whsec_[A-Za-z0-9+/=]+$/, 'a Replicate webhook secret looks like whsec_<base64>').optional(),
}).refine((s) => s.preferWaitSeconds === undefined || s.preferWaitSeconds * 1000 < s.timeoutMs, {
  message: 'timeoutMs must be longer than preferWaitSeconds',
  path: ['preferWaitSeconds'],
});
export type ReplicateSettings = z.infer<typeof ReplicateSettings>;

/** Problem details `{title, detail, status}`; 429 carries only `detail` sometimes. */
export const ProblemDetails = z.looseObject({
  title: z.string().nullish(),
  detail: z.unknown().optional(),
  status: z.number().nullish(),
});

/** A prediction; timestamps are ISO 8601. `output` is model-defined. */
export const Prediction = z.looseObject({
  id: z.string().min(1),
  model: z.string().nullish(),
  version: z.string().nullish(),
  status: z.string(),
  output: z.unknown().optional(),
  error: z.unknown().optional(),
  logs: z.string().nullish(),
  data_removed: z.boolean().nullish(),
  metrics: z.looseObject({ predict_time: z.number().nullish() }).nullish(),
  urls: z.record(z.string(), z.unknown()).nullish(),
  created_at: z.string().nullish(),
  started_at: z.string().nullish(),
  completed_at: z.string().nullish(),
});
export type Prediction = z.infer<typeof Prediction>;
