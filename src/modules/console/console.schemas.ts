import { z } from 'zod';

const isoDate = z.iso.datetime({ offset: true }).or(z.iso.date());

/** Filters of the console's task lists (the consumer's own tasks and the operator's all tasks). */
export const ConsoleTasksQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(24),
  /** Keyset cursor: the last task id of the previous page. */
  after: z.string().regex(/^task_[a-z0-9]{1,64}$/).optional(),
  status: z.enum(['pending', 'queued', 'processing', 'succeeded', 'failed', 'cancelled']).optional(),
  model: z.string().max(200).optional(),
  kind: z.enum(['image', 'video', 'music']).optional(),
  /** Created at or after (an ISO date or date-time). */
  from: isoDate.optional(),
  /** Created before (an ISO date or date-time; a plain date includes that whole day). */
  to: isoDate.optional(),
  account_id: z.string().max(100).optional(),
});
export type ConsoleTasksQuery = z.infer<typeof ConsoleTasksQuery>;

/** A time window for the money and ledger reads. */
export const WindowQuery = z.object({
  from: isoDate.optional(),
  to: isoDate.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(200),
});

/** POST /admin/console/channels/{id}/test: which of the channel's models to call (default: its first). */
export const ChannelTestBody = z.strictObject({ model: z.string().min(1).max(200).optional() });

/** POST /console/api/session: the API key or admin token to exchange. */
export const CreateSessionBody = z.strictObject({ credential: z.string().trim().min(1).max(4096) });
