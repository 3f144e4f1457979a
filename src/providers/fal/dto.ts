/** The fal queue wire shapes this adapter reads. */
import { z } from 'zod';
import { BaseChannelSettings, InputKeys } from '../http';

/** Channel settings of a `fal` channel. */
export const FalSettings = BaseChannelSettings.extend({
  /** Rename or drop input fields for this channel's models (defaults in mapping.ts). */
  inputKeys: InputKeys.optional(),
});
export type FalSettings = z.infer<typeof FalSettings>;

/** Submit answer: `{request_id, status_url, response_url, cancel_url}`. */
export const QueueSubmitted = z.looseObject({
  request_id: z.string().min(1),
  status_url: z.string().nullish(),
  response_url: z.string().nullish(),
  cancel_url: z.string().nullish(),
});

/** Status answer (202 while pending, 200 when completed). */
export const QueueStatus = z.looseObject({
  status: z.string(),
  queue_position: z.number().nullish(),
  logs: z.array(z.looseObject({ message: z.string().nullish() })).nullish(),
});

/** Model errors `{detail:[{loc,msg,type}]}`, request errors `{detail:"...", error_type}`. */
export const FalErrorBody = z.looseObject({
  detail: z.unknown().optional(),
  error_type: z.string().nullish(),
  status: z.string().nullish(),
});
export type FalErrorBody = z.infer<typeof FalErrorBody>;

/** Cancel answer: `{status:"CANCELLATION_REQUESTED" | "ALREADY_COMPLETED" | "NOT_FOUND"}`. */
export const CancelAnswer = z.looseObject({ status: z.string().nullish() });
