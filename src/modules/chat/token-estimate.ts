/**
 * Token arithmetic without a tokenizer. Two jobs, two heuristics:
 *
 * - Estimating a request before it goes upstream (the hold): UTF-8 bytes / 4, rounded up, per text,
 *   plus a fixed overhead per message. Bytes rather than characters so CJK text (about one token per
 *   character, three bytes each) is not grossly underestimated; for ASCII it is the usual chars / 4.
 * - Counting what a stream delivered when the upstream's own usage never arrived (the stream was cut or
 *   the client left): OpenAI-style streams carry one token per chunk, so each chunk that carries text
 *   counts max(1, floor(chars / 4)) tokens. Rounding down never charges for more than was delivered.
 */
/** Tokens each message costs beyond its content (role, separators), as OpenAI's cookbook counts them. */
export const PER_MESSAGE_OVERHEAD = 4;
/** Tokens that prime every reply. */
export const REPLY_PRIMING = 3;
/** Flat cost of one image or audio part: a high-detail 1024x1024 image costs about this much. */
export const MEDIA_PART_TOKENS = 1105;
/** Output tokens assumed when the client sets no max_tokens / max_completion_tokens. */
export const DEFAULT_OUTPUT_CAP = 4096;

/** Tokens of one text by the bytes/4 rule (0 for an empty text). */
export function textTokens(text: string): number {
  return Math.ceil(Buffer.byteLength(text, 'utf8') / 4);
}

/** Estimated prompt tokens of a chat request: its messages plus tool, function and response-format definitions. */
export function estimatePromptTokens(body: Record<string, unknown>): number {
  let total = REPLY_PRIMING;
  const messages = Array.isArray(body.messages) ? body.messages : [];
  for (const message of messages) {
    total += PER_MESSAGE_OVERHEAD;
    if (!isRecord(message)) continue;
    for (const [field, value] of Object.entries(message)) {
      if (field === 'content') total += contentTokens(value);
      else if (field !== 'role') total += valueTokens(value);
    }
  }
  // Definitions the model reads as part of the prompt.
  for (const field of ['tools', 'functions', 'response_format', 'prediction']) {
    if (body[field] !== undefined && body[field] !== null) total += valueTokens(body[field]);
  }
  return total;
}

/**
 * Output tokens a chat request may produce: its own limit (`max_completion_tokens`, else `max_tokens`),
 * or DEFAULT_OUTPUT_CAP, times `n` choices.
 */
export function outputCap(body: Record<string, unknown>): { tokens: number; clientLimited: boolean } {
  const limit = positiveInt(body.max_completion_tokens) ?? positiveInt(body.max_tokens);
  const n = positiveInt(body.n) ?? 1;
  return { tokens: (limit ?? DEFAULT_OUTPUT_CAP) * n, clientLimited: limit !== undefined };
}

/** Estimated tokens of an embeddings `input`: a string, strings, a token array or token arrays. */
export function estimateEmbeddingTokens(input: unknown): number {
  if (typeof input === 'string') return textTokens(input);
  if (!Array.isArray(input)) return 0;
  if (input.every((item) => typeof item === 'number')) return input.length;
  let total = 0;
  for (const item of input) {
    if (typeof item === 'string') total += textTokens(item);
    else if (Array.isArray(item)) total += item.length;
  }
  return total;
}

/** Tokens a streamed chunk delivered, by the per-chunk rule above; 0 when it carries no text. */
export function chunkTokens(chars: number): number {
  return chars > 0 ? Math.max(1, Math.floor(chars / 4)) : 0;
}

function contentTokens(content: unknown): number {
  if (typeof content === 'string') return textTokens(content);
  if (!Array.isArray(content)) return valueTokens(content);
  let total = 0;
  for (const part of content) {
    if (!isRecord(part)) continue;
    if (typeof part.text === 'string') total += textTokens(part.text);
    // A data: URI would count its base64 as text and make the hold absurd; images cost a flat amount.
    else if (part.type === 'image_url' || part.type === 'input_audio' || part.type === 'file') total += MEDIA_PART_TOKENS;
    else total += valueTokens(part);
  }
  return total;
}

function valueTokens(value: unknown): number {
  if (value === undefined || value === null) return 0;
  if (typeof value === 'string') return textTokens(value);
  return textTokens(JSON.stringify(value));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function positiveInt(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : undefined;
}
