/**
 * Request bodies of the OpenAI-compatible routes. Loose on purpose: we check the fields the gateway reads
 * (routing, billing, streaming) and pass every other field to the upstream untouched, so new OpenAI
 * parameters work without a gateway release.
 */
import { z } from 'zod';

const tokenLimit = z.number().int().positive().nullable().optional();

export const ChatCompletionBody = z.looseObject({
  model: z.string().min(1).max(200),
  messages: z.array(z.looseObject({ role: z.string().min(1) })).min(1),
  stream: z.boolean().nullable().optional(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullable().optional(),
  max_tokens: tokenLimit,
  max_completion_tokens: tokenLimit,
  n: z.number().int().min(1).max(128).nullable().optional(),
});
export type ChatCompletionBody = z.infer<typeof ChatCompletionBody>;

const tokenArray = z.array(z.number().int().min(0)).min(1);

export const EmbeddingsBody = z.looseObject({
  model: z.string().min(1).max(200),
  input: z.union([
    z.string(),
    z.array(z.string()).min(1),
    tokenArray,
    z.array(tokenArray).min(1),
  ]),
});
export type EmbeddingsBody = z.infer<typeof EmbeddingsBody>;
