/**
 * Chat answers as rough as real upstreams give them: `n` choices (every one billed), an error inside an
 * HTTP 200, an error event in the middle of a stream, and no usage at all. The chat fake hands a request
 * here when it asks for `n > 1` or when one of these was scripted with `roughNext`.
 */
import { randomBytes } from 'node:crypto';
import type { RouteContext } from './fake-server';
import { isObject, sleep } from './fake-server';

/** One scripted rough answer. */
export type ChatRoughness =
  /** HTTP 200 with `{"error": {...}}` instead of a completion (some proxies and gateways do this). */
  | { kind: 'error-in-200'; message?: string }
  /**
   * A stream that sends `afterChunks` data events (the role chunks count), pauses so they reach the
   * client, then sends `data: {"error": {...}}` and closes, no [DONE]. 0: the error is the first event.
   */
  | { kind: 'error-mid-stream'; afterChunks: number; message?: string }
  /** A normal answer with no `usage` anywhere (not even with `stream_options.include_usage`). */
  | { kind: 'no-usage' };

/** What the rough answer needs from the chat fake. */
export interface RoughAnswerInput {
  body: Record<string, unknown>;
  /** The reply split in pieces (one token each), already cut to max_tokens. */
  pieces: string[];
  finish: string;
  promptTokens: number;
  roughness: ChatRoughness | undefined;
}

/** Answers one chat request with `n` choices and the scripted roughness. */
export async function answerRough(ctx: RouteContext, input: RoughAnswerInput): Promise<void> {
  const { body, pieces, finish, roughness } = input;
  const n = typeof body.n === 'number' && Number.isInteger(body.n) && body.n > 1 ? body.n : 1;
  const id = `chatcmpl-${randomBytes(15).toString('hex')}`;
  const created = Math.floor(Date.now() / 1000);
  const head = { id, created, model: body.model, system_fingerprint: 'fp_fake' };
  // Every choice is generated, so every choice is billed: completion tokens add up over the n choices.
  const usage = roughness?.kind === 'no-usage'
    ? undefined
    : { prompt_tokens: input.promptTokens, completion_tokens: pieces.length * n, total_tokens: input.promptTokens + pieces.length * n };
  const error = (message: string | undefined) => ({ error: { message: message ?? 'The server had an error while processing your request.', type: 'server_error', param: null, code: null } });

  if (roughness?.kind === 'error-in-200') return json(ctx, error(roughness.message));
  if (body.stream !== true) {
    const choices = Array.from({ length: n }, (_, index) => ({
      index, message: { role: 'assistant', content: pieces.join(''), refusal: null, annotations: [] }, logprobs: null, finish_reason: finish,
    }));
    return json(ctx, { ...head, object: 'chat.completion', choices, ...(usage ? { usage } : {}) });
  }

  const includeUsage = usage !== undefined && isObject(body.stream_options) && body.stream_options.include_usage === true;
  const chunk = (index: number, delta: Record<string, unknown>, finishReason: string | null) => ({
    ...head, object: 'chat.completion.chunk', choices: [{ index, delta, logprobs: null, finish_reason: finishReason }], ...(includeUsage ? { usage: null } : {}),
  });
  const events: unknown[] = [];
  for (let index = 0; index < n; index++) events.push(chunk(index, { role: 'assistant', content: '' }, null));
  // The choices' pieces interleave, as OpenAI streams them.
  for (const piece of pieces) for (let index = 0; index < n; index++) events.push(chunk(index, { content: piece }, null));
  for (let index = 0; index < n; index++) events.push(chunk(index, {}, finish));
  if (includeUsage) events.push({ ...head, object: 'chat.completion.chunk', choices: [], usage });

  ctx.res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
  const cutAt = roughness?.kind === 'error-mid-stream' ? roughness.afterChunks : Infinity;
  for (const [i, event] of events.entries()) {
    if (i === cutAt) {
      if (i > 0) await sleep(100);
      ctx.res.end(`data: ${JSON.stringify(error(roughness?.kind === 'error-mid-stream' ? roughness.message : undefined))}\n\n`);
      return;
    }
    ctx.res.write(`data: ${JSON.stringify(event)}\n\n`);
  }
  ctx.res.end('data: [DONE]\n\n');
}

function json(ctx: RouteContext, body: unknown): void {
  const text = JSON.stringify(body);
  ctx.res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  ctx.res.end(text);
}
