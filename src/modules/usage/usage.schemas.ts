import { z } from 'zod';

/** The time range of GET /v1/usage: [from, to), ISO 8601 with an offset. */
export const UsageQuery = z.object({
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
});
