import { z } from 'zod';

const url = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).max(4096);

/** A duration: whole seconds, 1 to 600 (providers round fractions, and 0 would mean their default). */
const wholeSeconds = z.number().int('must be a whole number of seconds').positive().max(600);

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
  duration: wholeSeconds.optional(),
  /** OpenAI's videos API spells duration `seconds`, as a string: the same rule as `duration`. */
  seconds: z.union([wholeSeconds, z.string().regex(/^\d{1,3}$/, 'must be a whole number of seconds').refine(
    (text) => wholeSeconds.safeParse(Number(text)).success, 'must be a whole number of seconds from 1 to 600',
  )]).optional(),
  size: z.string().max(32).optional(),
  quality: z.string().max(32).optional(),
  resolution: z.string().max(32).optional(),
  aspect_ratio: z.string().max(16).optional(),
  n: z.number().int().min(1).max(10).optional(),
  seed: z.number().int().optional(),
  /** Free-form provider options, passed through, except a field that decides the price (refused). */
  options: z.record(z.string(), z.unknown()).optional(),
};

/** U+0000, or a surrogate without its other half. */
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * The task body goes into jsonb (the task row, the workflow's input), which can't hold U+0000 or an
 * unpaired surrogate: refused here, such a body passed validation and then failed the reservation
 * step inside the workflow (a 500). Walks every string and key, without recursion.
 */
function storableText(body: Record<string, unknown>, ctx: z.RefinementCtx): void {
  const stack: [unknown, PropertyKey[]][] = [[body, []]];
  let reported = 0;
  while (stack.length > 0 && reported < 20) {
    const [value, path] = stack.pop()!;
    if (typeof value === 'string') {
      if (UNSTORABLE.test(value)) {
        ctx.addIssue({ code: 'custom', path, message: 'must not contain NUL characters or unpaired surrogates' });
        reported++;
      }
    } else if (value !== null && typeof value === 'object') {
      for (const [key, item] of Object.entries(value)) {
        if (UNSTORABLE.test(key)) {
          ctx.addIssue({ code: 'custom', path: [...path, key], message: 'names must not contain NUL characters or unpaired surrogates' });
          reported++;
        }
        stack.push([item, [...path, Array.isArray(value) ? Number(key) : key]]);
      }
    }
  }
}

export const CreateImageBody = z.looseObject(MediaTaskFields).superRefine(storableText);
export const CreateVideoBody = z.looseObject(MediaTaskFields).superRefine(storableText);
export const CreateMusicBody = z.looseObject(MediaTaskFields).superRefine(storableText);
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
