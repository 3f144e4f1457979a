/** The OpenAI wire shapes this adapter reads (only the fields it uses; everything else passes through). */
import { z } from 'zod';
import { BaseChannelSettings } from '../http';

/** Channel settings of an `openai` channel. */
export const OpenAISettings = BaseChannelSettings.extend({
  /** Sent as `OpenAI-Organization` when set. */
  organization: z.string().min(1).optional(),
  /** Sent as `OpenAI-Project` when set. */
  project: z.string().min(1).optional(),
});
export type OpenAISettings = z.infer<typeof OpenAISettings>;

/** `{"error":{"message","type","param","code"}}` */
export const OpenAIErrorBody = z.looseObject({
  error: z.looseObject({
    message: z.string().nullish(),
    type: z.string().nullish(),
    param: z.string().nullish(),
    code: z.union([z.string(), z.number()]).nullish(),
  }),
});

/** `POST /images/generations` answer: `{created, data:[{b64_json | url, revised_prompt?}], usage?}`. */
export const ImagesResponse = z.looseObject({
  created: z.number().optional(),
  data: z.array(
    z.looseObject({
      b64_json: z.string().nullish(),
      url: z.string().nullish(),
      revised_prompt: z.string().nullish(),
    }),
  ),
  output_format: z.string().nullish(),
  usage: z.looseObject({ total_tokens: z.number().nullish() }).nullish(),
});
export type ImagesResponse = z.infer<typeof ImagesResponse>;

/** A video job: `{id:"video_...", object:"video", status, progress, seconds, size, error, ...}`. */
export const VideoJob = z.looseObject({
  id: z.string().min(1),
  object: z.string().optional(),
  status: z.string(),
  progress: z.number().nullish(),
  seconds: z.union([z.string(), z.number()]).nullish(),
  size: z.string().nullish(),
  created_at: z.number().nullish(),
  completed_at: z.number().nullish(),
  expires_at: z.number().nullish(),
  error: z.looseObject({ code: z.string().nullish(), message: z.string().nullish() }).nullish(),
});
export type VideoJob = z.infer<typeof VideoJob>;
