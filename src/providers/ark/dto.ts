/** The Ark (BytePlus ModelArk / Volcengine Ark) content-generation wire shapes this adapter reads. */
import { z } from 'zod';
import { BaseChannelSettings } from '../http';

/** Channel settings of an `ark` channel. */
export const ArkSettings = BaseChannelSettings.extend({});
export type ArkSettings = z.infer<typeof ArkSettings>;

/** `{"error":{"code","message","param","type"}}` */
export const ArkErrorBody = z.looseObject({
  error: z.looseObject({
    code: z.string().nullish(),
    message: z.string().nullish(),
    param: z.string().nullish(),
    type: z.string().nullish(),
  }),
});

/** `POST /contents/generations/tasks` answers only `{id:"cgt-..."}`. */
export const CreatedTask = z.looseObject({ id: z.string().min(1) });

/** `GET /contents/generations/tasks/{id}`; timestamps are unix seconds. */
export const ArkTask = z.looseObject({
  id: z.string().min(1),
  model: z.string().nullish(),
  status: z.string(),
  error: z.looseObject({ code: z.string().nullish(), message: z.string().nullish() }).nullish(),
  content: z.looseObject({ video_url: z.string().nullish(), last_frame_url: z.string().nullish() }).nullish(),
  usage: z.looseObject({ completion_tokens: z.number().nullish(), total_tokens: z.number().nullish() }).nullish(),
  duration: z.number().nullish(),
  created_at: z.number().nullish(),
  updated_at: z.number().nullish(),
});
export type ArkTask = z.infer<typeof ArkTask>;
