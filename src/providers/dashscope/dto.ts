/** The DashScope (Alibaba Model Studio: Wan video and image) wire shapes this adapter reads. */
import { z } from 'zod';
import { BaseChannelSettings } from '../http';

/**
 * Channel settings of a `dashscope` channel. The region is the channel's base URL (`.../api/v1` on
 * dashscope-intl (Singapore), dashscope (Beijing) or dashscope-us (Virginia)); key, model and region must match.
 */
export const DashScopeSettings = BaseChannelSettings.extend({
  /** Sent as `X-DashScope-WorkSpace` when the key belongs to a sub-workspace. */
  workspace: z.string().min(1).max(128).regex(/^[A-Za-z0-9_-]+$/).optional(),
});
export type DashScopeSettings = z.infer<typeof DashScopeSettings>;

/** Error envelope of HTTP ≥ 400: `{"request_id","code","message"}`. */
export const DashScopeErrorBody = z.looseObject({
  request_id: z.string().nullish(),
  code: z.string().nullish(),
  message: z.string().nullish(),
});

/** Create answers `{request_id, output:{task_id, task_status:"PENDING"}}`. */
export const CreatedTask = z.looseObject({
  output: z.looseObject({ task_id: z.string().min(1), task_status: z.string().nullish() }),
});

/** `GET /tasks/{task_id}`; timestamps are strings without a time zone. */
export const DashScopeTask = z.looseObject({
  request_id: z.string().nullish(),
  output: z.looseObject({
    task_id: z.string().min(1),
    task_status: z.string(),
    video_url: z.string().nullish(),
    results: z.array(z.looseObject({ url: z.string().nullish(), code: z.string().nullish(), message: z.string().nullish() })).nullish(),
    code: z.string().nullish(),
    message: z.string().nullish(),
  }),
  usage: z
    .looseObject({ video_duration: z.number().nullish(), video_count: z.number().nullish(), image_count: z.number().nullish() })
    .nullish(),
});
export type DashScopeTask = z.infer<typeof DashScopeTask>;
