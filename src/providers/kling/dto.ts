/** The Kling AI API wire shapes this adapter reads. */
import { z } from 'zod';
import { BaseChannelSettings } from '../http';

/** Channel settings of a `kling` channel (base URL: `https://api-singapore.klingai.com`). */
export const KlingSettings = BaseChannelSettings.extend({
  /** Lifetime of each signed JWT (a fresh one per call); Kling's own sample uses 1800 s, shorter is safer. */
  tokenTtlSeconds: z.number().int().min(30).max(1800).default(300),
});
export type KlingSettings = z.infer<typeof KlingSettings>;

/** Every answer: `{"code":0,"message":"SUCCEED","request_id","data"}`; errors carry a non-zero `code`. */
export const KlingEnvelope = z.looseObject({
  code: z.number(),
  message: z.string().nullish(),
  request_id: z.string().nullish(),
  data: z.unknown().optional(),
});

const TaskFile = z.looseObject({ url: z.string().nullish(), duration: z.string().nullish() });

/**
 * A task (the `data` of create and query, and the bare body of a callback): `task_status` submitted,
 * processing, `succeed` (sic) or failed; `duration` and `final_unit_deduction` are strings.
 */
export const KlingTask = z.looseObject({
  task_id: z.string().min(1),
  task_status: z.string(),
  task_status_msg: z.string().nullish(),
  task_result: z.looseObject({ videos: z.array(TaskFile).nullish(), images: z.array(TaskFile).nullish() }).nullish(),
  final_unit_deduction: z.string().nullish(),
});
export type KlingTask = z.infer<typeof KlingTask>;
