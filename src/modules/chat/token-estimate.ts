/**
 * Token counts for the token routes, with a real tokenizer (`gpt-tokenizer`), so that holds are rarely
 * short of what the upstream then reports. Two jobs:
 *
 * - Estimating a request before it goes upstream (the hold): each text counted in the model's encoding,
 *   plus a fixed overhead per message (OpenAI's cookbook rule). The encoding follows the model id:
 *   `cl100k_base` for the gpt-4 / gpt-3.5 generation and the text-embedding models, `o200k_base` for
 *   everything else (gpt-4o and later, o-series, and models of other vendors, whose tokenizers are
 *   closer to the newer encoding).
 * - Counting what a stream generated when the upstream's own usage never arrived: the tokenizer count
 *   of the generated text, and at least one token per chunk that carried text (an OpenAI-style stream
 *   sends about one token per chunk).
 *
 * Tokenizing costs CPU on the request path (a few ms per 100 kB of ordinary text, much more for random
 * text), so one request tokenizes at most TOKENIZER_CHAR_BUDGET characters; text beyond that counts
 * one token per two UTF-8 bytes, more than real text has (about 4 bytes per token in English, 3 in CJK
 * with cl100k), so a long prompt's hold errs high, and the settlement at real usage corrects it.
 */
import { countTokens as countCl100k } from 'gpt-tokenizer/cjs/encoding/cl100k_base';
import { countTokens as countO200k } from 'gpt-tokenizer/cjs/encoding/o200k_base';

/** Tokens each message costs beyond its content (role, separators), as OpenAI's cookbook counts them. */
export const PER_MESSAGE_OVERHEAD = 4;
/** Tokens that prime every reply. */
export const REPLY_PRIMING = 3;
/** Flat cost of one image or audio part: a high-detail 1024x1024 image costs about this much. */
export const MEDIA_PART_TOKENS = 1105;
/** Output tokens a hold assumes when neither the request (max_tokens) nor the model (max_output_tokens) sets a limit. */
export const DEFAULT_MAX_OUTPUT_TOKENS = 4096;
/** Characters one request tokenizes at most; the rest is counted by bytes (see above). */
export const TOKENIZER_CHAR_BUDGET = 50_000;

/** The encodings the gateway counts with. */
export type Encoding = 'o200k_base' | 'cl100k_base';

/** Counts the tokens of texts for one request (and spends its tokenizer budget). */
export type TokenCounter = (text: string) => number;

/** Special tokens (`<|endoftext|>`) in user text are plain text here, not an error. */
const AS_TEXT = { disallowedSpecial: new Set<string>() };

/** The encoding a model's text is counted in, from its id. */
export function encodingFor(modelId: string): Encoding {
  const id = modelId.toLowerCase().replace(/^.*\//, '');
  return /^(gpt-4(?![o.])|gpt-4-|gpt-3\.5|text-embedding-)/.test(id) ? 'cl100k_base' : 'o200k_base';
}

/** A counter for one request in `encoding`, tokenizing at most `budget` characters in all. */
export function tokenCounter(encoding: Encoding, budget = TOKENIZER_CHAR_BUDGET): TokenCounter {
  const count = encoding === 'cl100k_base' ? countCl100k : countO200k;
  let left = budget;
  return (text) => {
    if (text.length === 0) return 0;
    const head = left >= text.length ? text : text.slice(0, left);
    left -= head.length;
    const tail = text.length > head.length ? Math.ceil(Buffer.byteLength(text.slice(head.length), 'utf8') / 2) : 0;
    return (head.length > 0 ? count(head, AS_TEXT) : 0) + tail;
  };
}

/** Estimated prompt tokens of a chat request: its messages plus tool, function and response-format definitions. */
export function estimatePromptTokens(body: Record<string, unknown>, count: TokenCounter): number {
  let total = REPLY_PRIMING;
  const messages = Array.isArray(body.messages) ? body.messages : [];
  for (const message of messages) {
    total += PER_MESSAGE_OVERHEAD;
    if (!isRecord(message)) continue;
    for (const [field, value] of Object.entries(message)) {
      if (field === 'content') total += contentTokens(value, count);
      else if (field !== 'role') total += valueTokens(value, count);
    }
  }
  // Definitions the model reads as part of the prompt.
  for (const field of ['tools', 'functions', 'response_format', 'prediction']) {
    if (body[field] !== undefined && body[field] !== null) total += valueTokens(body[field], count);
  }
  return total;
}

/**
 * Output tokens a chat request may produce: its own limit (`max_completion_tokens`, else `max_tokens`),
 * else the model's `max_output_tokens`, else DEFAULT_MAX_OUTPUT_TOKENS, times `n` choices.
 */
export function outputCap(body: Record<string, unknown>, modelMaxOutput: number | null): { tokens: number; clientLimited: boolean } {
  const limit = positiveInt(body.max_completion_tokens) ?? positiveInt(body.max_tokens);
  const n = positiveInt(body.n) ?? 1;
  return { tokens: (limit ?? modelMaxOutput ?? DEFAULT_MAX_OUTPUT_TOKENS) * n, clientLimited: limit !== undefined };
}

/** Estimated tokens of an embeddings `input`: a string, strings, a token array or token arrays. */
export function estimateEmbeddingTokens(input: unknown, count: TokenCounter): number {
  if (typeof input === 'string') return count(input);
  if (!Array.isArray(input)) return 0;
  if (input.every((item) => typeof item === 'number')) return input.length;
  let total = 0;
  for (const item of input) {
    if (typeof item === 'string') total += count(item);
    else if (Array.isArray(item)) total += item.length;
  }
  return total;
}

/**
 * Output tokens of generated text whose usage the upstream never reported: the tokenizer's count, and
 * at least `chunks` (the chunks that carried text, one token each at the least).
 */
export function generatedTokens(text: string, chunks: number, count: TokenCounter): number {
  return Math.max(count(text), chunks);
}

function contentTokens(content: unknown, count: TokenCounter): number {
  if (typeof content === 'string') return count(content);
  if (!Array.isArray(content)) return valueTokens(content, count);
  let total = 0;
  for (const part of content) {
    if (!isRecord(part)) continue;
    if (typeof part.text === 'string') total += count(part.text);
    // A data: URI would count its base64 as text and make the hold absurd; images cost a flat amount.
    else if (part.type === 'image_url' || part.type === 'input_audio' || part.type === 'file') total += MEDIA_PART_TOKENS;
    else total += valueTokens(part, count);
  }
  return total;
}

function valueTokens(value: unknown, count: TokenCounter): number {
  if (value === undefined || value === null) return 0;
  if (typeof value === 'string') return count(value);
  return count(JSON.stringify(value));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function positiveInt(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : undefined;
}
