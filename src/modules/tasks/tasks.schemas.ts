import { z } from 'zod';

const url = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).max(4096);

/** Fields shared by every media task; unknown fields are passed to the provider as options. */
const MediaTaskFields = {
  model: z.string().min(1).max(200),
  prompt: z.string().trim().min(1, 'must not be empty').max(20_000),
  callback_url: url.optional(),
  image_url: url.optional(),
  image_urls: z.array(url).max(8).optional(),
  last_frame_url: url.optional(),
  video_url: url.optional(),
  audio_url: url.optional(),
  duration: z.number().int().positive().max(600).optional(),
  /** OpenAI's videos API spells duration `seconds`, as a string. */
  seconds: z.union([z.number().int().positive().max(600), z.string().regex(/^\d{1,3}$/, 'must be a whole number of seconds')]).optional(),
  size: z.string().max(32).optional(),
  resolution: z.string().max(32).optional(),
  aspect_ratio: z.string().max(16).optional(),
  n: z.number().int().min(1).max(10).optional(),
  seed: z.number().int().optional(),
  /** Free-form provider options, passed through untouched. */
  options: z.record(z.string(), z.unknown()).optional(),
};

export const CreateImageBody = z.looseObject(MediaTaskFields);
export const CreateVideoBody = z.looseObject(MediaTaskFields);
export const CreateMusicBody = z.looseObject(MediaTaskFields);
export type CreateMediaTaskBody = z.infer<typeof CreateVideoBody>;

export const KNOWN_FIELDS = new Set(Object.keys(MediaTaskFields));

export const TaskIdParam = z.string().regex(/^task_[a-z0-9]{1,64}$/, 'is not a task id');

export const ListTasksQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  after: z.string().max(200).optional(),
  status: z.enum(['pending', 'queued', 'processing', 'succeeded', 'failed', 'cancelled']).optional(),
  model: z.string().max(200).optional(),
  kind: z.enum(['image', 'video', 'music']).optional(),
});
export type ListTasksQuery = z.infer<typeof ListTasksQuery>;

export const GetTaskQuery = z.object({
  /** Long poll: seconds to wait for a status change (0-60). */
  wait: z.coerce.number().int().min(0).max(60).optional(),
});
