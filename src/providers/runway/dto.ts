/** The Runway API (`https://api.dev.runwayml.com/v1`) wire shapes this adapter reads. */
import { z } from 'zod';
import { BaseChannelSettings } from '../http';

/** The API version the official SDKs send by default; Runway refuses requests without one. */
export const DEFAULT_RUNWAY_VERSION = '2024-11-06';

/** Channel settings of a `runway` channel. */
export const RunwaySettings = BaseChannelSettings.extend({
  /** The `X-Runway-Version` header: a dated API version (`YYYY-MM-DD`). */
  apiVersion: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date like 2024-11-06').default(DEFAULT_RUNWAY_VERSION),
});
export type RunwaySettings = z.infer<typeof RunwaySettings>;

/** Error bodies: `{"error":"..."}`, sometimes with `issues` naming the field (e.g. `promptImage`). */
export const RunwayErrorBody = z.looseObject({
  error: z.union([z.string(), z.looseObject({ message: z.string().nullish(), code: z.string().nullish() })]),
  issues: z.array(z.looseObject({ path: z.array(z.union([z.string(), z.number()])).nullish(), message: z.string().nullish() })).nullish(),
});

/** `POST /image_to_video`, `/text_to_video`, `/text_to_image` answer `{"id":"<uuid>"}`. */
export const CreatedTask = z.looseObject({ id: z.string().min(1) });

/** `GET /tasks/{id}`, discriminated on `status`; progress is 0..1 while RUNNING. */
export const RunwayTask = z.looseObject({
  id: z.string().min(1),
  status: z.string(),
  createdAt: z.string().nullish(),
  progress: z.number().nullish(),
  output: z.array(z.string()).nullish(),
  failure: z.string().nullish(),
  failureCode: z.string().nullish(),
});
export type RunwayTask = z.infer<typeof RunwayTask>;
