/**
 * The synchronous OpenAI-compatible proxy: chat completions (JSON or SSE) and embeddings.
 *
 * One request: find the model and the channels that serve it (provider `openai`, the key's group), hold
 * the estimated price, then try channels in routing order (highest priority first, weighted inside a
 * tier, each channel at most once). A retryable failure before anything reached the client moves to the
 * next channel; for a stream that means "before the first event", so the gateway reads the upstream's
 * first event before it commits the response. Once the client has bytes, a failure ends the stream with
 * an OpenAI-shaped error event. Every request that took a hold ends with the hold closed and one usage
 * row (see chat.billing.ts for the billing rule).
 */
import type { CreditLeases, Reservation } from '../../billing/credit-lease';
import { priceTokens } from '../../billing/pricing';
import type { Pricing } from '../../db/entities';
import { assertModelAllowed, type ConsumerAuth } from '../../http/auth';
import { AppError, errors } from '../../http/errors';
import { newId } from '../../ids';
import type { Logger } from '../../log';
import { ProviderError, type ChannelAccess } from '../../providers/types';
import type { Candidate } from '../../routing/candidates';
import { pickWeighted } from '../../routing/pick-channel';
import type { RouteCache } from '../../routing/route-cache';
import { chargeFor, holdForRequest, settleRequest, type UsageStatus } from './chat.billing';
import { clientChunk, errorEvent, inspectChunk, parseSseBlock, readUsage, SseSplitter, type TokenUsage } from './sse';
import { encodingFor, estimateEmbeddingTokens, estimatePromptTokens, generatedTokens, outputCap, tokenCounter, type TokenCounter } from './token-estimate';
import { ClientGoneError, createUpstreamClient, scrubberFor, UpstreamError, type UpstreamClient, type UpstreamResponse } from './upstream';

/** The provider id whose channels speak the OpenAI chat and embeddings protocol. */
const PROVIDER = 'openai';

export interface ChatServiceDeps {
  /** Where request holds come from and settlements go (batched). */
  leases: CreditLeases;
  /** Model, candidates and channel access, cached for a short time. */
  routes: RouteCache;
  /** How many channels one request may try. */
  maxChannelAttempts: number;
  /** [0, 1) source for weighted routing; Math.random by default. */
  random?: () => number;
  /** The upstream HTTP client (keep-alive connections); one of its own by default. */
  upstream?: UpstreamClient;
  /** How long a stream the client left is still read for its usage chunk (ms); STREAM_USAGE_WAIT_MS by default. */
  usageWaitMs?: number;
}

/**
 * How long the gateway keeps reading a stream whose client left, for the upstream's usage chunk (the
 * provider bills what it generates either way), unless configured (CHAT_STREAM_USAGE_WAIT_MS). Past it
 * the connection is dropped (the provider stops generating) and the request is billed from the
 * tokenizer count of the text generated so far.
 */
export const STREAM_USAGE_WAIT_MS = 10_000;

/** Who is calling and with what, for one request. */
export interface CallContext {
  auth: ConsumerAuth;
  log: Logger;
  /** Aborted when the client disconnects. */
  clientSignal: AbortSignal;
  /** When the request arrived (ms), for the usage row's latency. */
  startedAt: number;
  /** Told the tokens a settled request used (the key's tokens-per-minute limit counts them). */
  onTokens?: (tokens: number) => void;
}

/** Where a streamed answer goes. The first `send` commits a 200 with SSE headers. */
export interface EventSink {
  /** Writes one event block (the terminating blank line is added) and waits for the socket; false when the client is gone. */
  send(block: string): Promise<boolean>;
  /** Sends `last` (when given and the client is still there) and ends the response; no-op when nothing was sent. */
  end(last?: string): void;
}

/** What the route answers. `gone`: the client left before any answer, nothing to send. */
export type ProxyResult = { kind: 'json'; body: string } | { kind: 'streamed' } | { kind: 'gone' };

type Admitted = { model: { id: string; pricing: Pricing; maxOutputTokens: number | null }; channels: Candidate[] };

/** One request's hold, for settling it. */
type Billed = { ref: string; model: Admitted['model']; category: string; held: number; reservation: Reservation };

type Attempted<T> =
  | { ok: true; value: T; channelId: string }
  | { ok: false; error: AppError | ClientGoneError; channelId: string | null };

/** How a stream ended, for billing. */
interface StreamOutcome {
  status: UsageStatus;
  /** What to bill; null when nothing reached the client (a full release). */
  tokens: TokenUsage | null;
  /** The last event, sent after the request is settled: `data: [DONE]`, an error event, or none (client gone). */
  last: string | null;
}

export function createChatService(deps: ChatServiceDeps) {
  const random = deps.random ?? Math.random;
  const upstream = deps.upstream ?? createUpstreamClient();

  /** 404 unknown model, 403 not allowed, 400 wrong category, 503 no channel. */
  async function admit(call: CallContext, modelId: string, category: 'chat' | 'embedding'): Promise<Admitted> {
    const model = await deps.routes.model(modelId);
    if (!model) throw errors.notFound('model_not_found', `The model ${modelId} does not exist`);
    assertModelAllowed(call.auth, model.id);
    if (model.category !== category) {
      const route = category === 'chat' ? '/v1/chat/completions' : '/v1/embeddings';
      throw errors.invalid(`The model ${model.id} is a ${model.category} model; ${route} needs a ${category} model`, [
        { path: 'model', message: `is a ${model.category} model` },
      ]);
    }
    const candidates = (await deps.routes.candidates(model.id, call.auth.group)).filter((c) => c.provider === PROVIDER);
    if (candidates.length === 0) {
      throw new AppError(503, 'no_channel_available', `No channel is available for the model ${model.id}`, 'gateway_error');
    }
    return { model: { id: model.id, pricing: model.pricing, maxOutputTokens: model.maxOutputTokens }, channels: attemptOrder(candidates, random, deps.maxChannelAttempts) };
  }

  /**
   * Tries channels in order until one gives a value. Retryable failures move on; a non-retryable one
   * (the upstream refused the request itself) ends at once; the client leaving ends everything.
   */
  async function firstAnswer<T>(call: CallContext, ref: string, channels: Candidate[], attempt: (access: ChannelAccess, upstreamModel: string) => Promise<T>): Promise<Attempted<T>> {
    const failures: ProviderError[] = [];
    let channelId: string | null = null;
    for (const candidate of channels) {
      channelId = candidate.id;
      try {
        const access = await deps.routes.channelAccess(candidate.id);
        return { ok: true, value: await attempt(access, candidate.upstreamModel), channelId };
      } catch (err) {
        if (err instanceof ClientGoneError) return { ok: false, error: err, channelId };
        if (!(err instanceof ProviderError)) throw err;
        call.log.warn({ ref, channelId, code: err.code, httpStatus: err.httpStatus, detail: err.message }, 'upstream attempt failed');
        failures.push(err);
        if (!err.retryable) break;
      }
    }
    return { ok: false, error: clientError(failures), channelId };
  }

  /** Closes the hold at the full price of `tokens` and writes the usage row; logs when the price went past the hold. */
  function settle(call: CallContext, input: Billed & { channelId: string | null; status: UsageStatus; tokens: TokenUsage | null }): void {
    if (input.tokens) call.onTokens?.(input.tokens.input + input.tokens.output);
    const capture = input.tokens ? chargeFor(input.model.pricing, input.tokens) : 0;
    if (capture > input.held) call.log.info({ ref: input.ref, price: capture, held: input.held }, 'usage cost more than the hold; the rest comes from the balance');
    settleRequest(deps.leases, {
      reservation: input.reservation,
      capture,
      row: {
        model: input.model.id, category: input.category, channelId: input.channelId, tokens: input.tokens, status: input.status, latencyMs: Date.now() - call.startedAt,
      },
    });
  }

  return {
    /** POST /v1/chat/completions. `raw` is the client's body as sent (validated by the route). */
    async chatCompletion(call: CallContext, raw: Record<string, unknown>, sink: EventSink): Promise<ProxyResult> {
      const { model, channels } = await admit(call, String(raw.model), 'chat');
      const encoding = encodingFor(model.id);
      const promptTokens = estimatePromptTokens(raw, tokenCounter(encoding));
      const cap = outputCap(raw, model.maxOutputTokens);
      const held = priceTokens(model.pricing, { input: promptTokens, output: cap.tokens });
      const ref = newId('chat');
      const reservation = await holdForRequest(deps.leases, { ref, accountId: call.auth.accountId, apiKeyId: call.auth.apiKeyId, amount: held });
      const base: Billed = { ref, model, category: 'chat', held, reservation };

      if (raw.stream !== true) {
        const result = await firstAnswer(call, ref, channels, async (access, upstreamModel) => {
          const answer = await upstream.post({ channel: access, path: 'chat/completions', body: { ...raw, model: upstreamModel }, clientSignal: call.clientSignal });
          return readJsonAnswer(answer, access);
        }).catch((err: unknown) => {
          settle(call, { ...base, channelId: null, status: 'failed', tokens: null });
          throw err;
        });
        if (!result.ok) return fail(call, base, result);
        const usage = readUsage(result.value.json.usage) ?? { input: promptTokens, output: completionTokens(result.value.json, tokenCounter(encoding)) };
        settle(call, { ...base, channelId: result.channelId, status: 'succeeded', tokens: usage });
        return { kind: 'json', body: result.value.text };
      }

      // Streaming: always ask for usage; strip it again if the client did not.
      const clientOptions = isRecord(raw.stream_options) ? raw.stream_options : {};
      const clientWantsUsage = clientOptions.include_usage === true;
      const opened = await firstAnswer(call, ref, channels, async (access, upstreamModel) => {
        const answer = await upstream.post({
          channel: access,
          path: 'chat/completions',
          body: { ...raw, model: upstreamModel, stream_options: { ...clientOptions, include_usage: true } },
          clientSignal: call.clientSignal,
        });
        const stream = await openStream(answer, access);
        // From here the gateway ends the upstream call itself: a client that leaves is still billed.
        answer.detachFromClient();
        return stream;
      }).catch((err: unknown) => {
        settle(call, { ...base, channelId: null, status: 'failed', tokens: null });
        throw err;
      });
      if (!opened.ok) return fail(call, base, opened);

      let outcome: StreamOutcome = { status: 'failed', tokens: null, last: errorEvent(INTERRUPTED) };
      try {
        outcome = await pump(call, opened.value, sink, { clientWantsUsage, promptTokens, ref, count: tokenCounter(encoding), usageWaitMs: deps.usageWaitMs ?? STREAM_USAGE_WAIT_MS });
      } finally {
        opened.value.upstream.close();
        // Settle before the last event: once a client has seen the end of its stream, its hold is closed
        // in memory (its usage row follows with the lease's next flush, see credit-lease.ts).
        try {
          settle(call, { ...base, channelId: opened.channelId, status: outcome.status, tokens: outcome.tokens });
        } finally {
          sink.end(outcome.last ?? undefined);
        }
      }
      return { kind: 'streamed' };
    },

    /** POST /v1/embeddings. */
    async embeddings(call: CallContext, raw: Record<string, unknown>): Promise<ProxyResult> {
      const { model, channels } = await admit(call, String(raw.model), 'embedding');
      const inputTokens = estimateEmbeddingTokens(raw.input, tokenCounter(encodingFor(model.id)));
      const held = priceTokens(model.pricing, { input: inputTokens, output: 0 });
      const ref = newId('emb');
      const reservation = await holdForRequest(deps.leases, { ref, accountId: call.auth.accountId, apiKeyId: call.auth.apiKeyId, amount: held });
      const base: Billed = { ref, model, category: 'embedding', held, reservation };
      const result = await firstAnswer(call, ref, channels, async (access, upstreamModel) => {
        const answer = await upstream.post({ channel: access, path: 'embeddings', body: { ...raw, model: upstreamModel }, clientSignal: call.clientSignal });
        return readJsonAnswer(answer, access);
      }).catch((err: unknown) => {
        settle(call, { ...base, channelId: null, status: 'failed', tokens: null });
        throw err;
      });
      if (!result.ok) return fail(call, base, result);
      const reported = readUsage(result.value.json.usage);
      const usage = reported ? { ...reported, output: 0 } : { input: inputTokens, output: 0 };
      settle(call, { ...base, channelId: result.channelId, status: 'succeeded', tokens: usage });
      return { kind: 'json', body: result.value.text };
    },
  };

  /** No channel answered (or the client left first): release everything, record it, answer the error. */
  function fail(call: CallContext, base: Billed, result: Extract<Attempted<unknown>, { ok: false }>): ProxyResult {
    const gone = result.error instanceof ClientGoneError;
    settle(call, { ...base, channelId: result.channelId, status: gone ? 'cancelled' : 'failed', tokens: null });
    if (gone) return { kind: 'gone' };
    throw result.error;
  }
}

export type ChatService = ReturnType<typeof createChatService>;

/** An upstream stream whose first data event has arrived, not yet sent to the client. */
interface OpenedStream {
  upstream: UpstreamResponse;
  splitter: SseSplitter;
  /** Event blocks read so far (comments, then the first data event, maybe more). */
  pending: string[];
  scrub: (text: string) => string;
}

/** Reads a JSON answer; a body that isn't a JSON object, or a 200 carrying an error, is a retryable failure. */
async function readJsonAnswer(upstream: UpstreamResponse, access: ChannelAccess): Promise<{ text: string; json: Record<string, unknown> }> {
  try {
    const text = await upstream.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new UpstreamError({ code: 'bad_response', retryable: true, httpStatus: upstream.status, message: 'upstream answered with a body that is not JSON' });
    }
    if (!isRecord(json)) throw new UpstreamError({ code: 'bad_response', retryable: true, httpStatus: upstream.status, message: 'upstream answered with JSON that is not an object' });
    if (isRecord(json.error)) {
      const said = typeof json.error.message === 'string' ? json.error.message : 'error';
      throw new UpstreamError({ code: 'upstream_unavailable', retryable: true, httpStatus: upstream.status, message: scrubberFor(access)(said) });
    }
    return { text, json };
  } finally {
    upstream.close();
  }
}

/**
 * Reads until the first data event, so that a stream that dies before it can still go to the next
 * channel. Leading comments (keep-alives) are kept and sent with it.
 */
async function openStream(upstream: UpstreamResponse, access: ChannelAccess): Promise<OpenedStream> {
  const scrub = scrubberFor(access);
  try {
    if (!/text\/event-stream/i.test(upstream.contentType)) {
      throw new UpstreamError({ code: 'bad_response', retryable: true, httpStatus: upstream.status, message: `upstream answered a stream request with ${upstream.contentType || 'no content type'}` });
    }
    const splitter = new SseSplitter();
    const pending: string[] = [];
    for (;;) {
      const piece = await upstream.read();
      if (piece === null) throw new UpstreamError({ code: 'bad_response', retryable: true, message: 'upstream ended the stream before its first event' });
      for (const block of splitter.push(piece)) {
        pending.push(block);
        const { data } = parseSseBlock(block);
        if (data === null) continue;
        const info = inspectChunk(data);
        if (info.error) {
          const said = typeof info.error.message === 'string' ? info.error.message : 'stream error';
          throw new UpstreamError({ code: 'upstream_unavailable', retryable: true, message: scrub(said) });
        }
      }
      if (pending.some((block) => parseSseBlock(block).data !== null)) return { upstream, splitter, pending, scrub };
    }
  } catch (err) {
    upstream.close();
    throw err;
  }
}

/** The end of a complete stream. */
const DONE = 'data: [DONE]';

/** The interruption the client sees when the upstream fails after the first byte. */
const INTERRUPTED = {
  message: 'The upstream provider failed before the answer was complete',
  type: 'upstream_error',
  code: 'upstream_stream_interrupted',
};

/**
 * Sends the stream to the client event by event as the upstream produces them, and works out what the
 * request used and which event ends the stream. A client that leaves does not end the reading: the
 * upstream is read on (for at most `usageWaitMs`) for its usage chunk, because the provider bills what it
 * generates. Never throws for upstream or client failures: they are outcomes.
 */
async function pump(
  call: CallContext,
  opened: OpenedStream,
  sink: EventSink,
  opts: { clientWantsUsage: boolean; promptTokens: number; ref: string; count: TokenCounter; usageWaitMs: number },
): Promise<StreamOutcome> {
  let usage: TokenUsage | null = null;
  // Everything the upstream generated, sent to the client or not: what the provider bills without usage.
  let generated = '';
  let generatedChunks = 0;
  let finished = false;
  let gone = false;
  let giveUpAt = Infinity;
  const counted = (): TokenUsage | null =>
    usage ?? (generatedChunks > 0 ? { input: opts.promptTokens, output: generatedTokens(generated, generatedChunks, opts.count) } : null);
  const end = (status: UsageStatus, last: string | null): StreamOutcome => ({ status: gone ? 'cancelled' : status, tokens: counted(), last: gone ? null : last });

  // Blocks that arrived together are written together (one socket write).
  let batch: string[] = [];
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const out = batch.join('\n\n');
    batch = [];
    if (gone) return;
    if (!(await sink.send(out))) leave();
  };
  const leave = () => {
    if (gone) return;
    gone = true;
    giveUpAt = Date.now() + opts.usageWaitMs;
    call.log.info({ ref: opts.ref }, 'client left mid-stream; reading on for the usage');
  };

  /** Handles one block; 'done' at [DONE] (not sent: the caller sends it after settling), 'error' for an in-stream error. */
  const deliver = (block: string): 'more' | 'done' | 'error' => {
    const { data } = parseSseBlock(block);
    if (data === null) {
      batch.push(block);
      return 'more';
    }
    const info = inspectChunk(data);
    if (info.done) return 'done';
    if (info.error) {
      call.log.warn({ ref: opts.ref, detail: opened.scrub(String(info.error.message ?? '')) }, 'upstream sent an error mid-stream');
      return 'error';
    }
    if (info.usage) usage = info.usage;
    if (info.text.length > 0) {
      generated += info.text;
      generatedChunks += 1;
    }
    if (Array.isArray(info.json?.choices) && info.json.choices.some((c) => isRecord(c) && c.finish_reason != null)) finished = true;
    const out = clientChunk(block, info, opts.clientWantsUsage);
    if (out !== null) batch.push(out);
    return 'more';
  };

  const interrupt = (why: string, err?: unknown): StreamOutcome => {
    call.log.warn({ ref: opts.ref, why, code: err instanceof ProviderError ? err.code : undefined }, 'stream interrupted');
    return end('failed', errorEvent(INTERRUPTED));
  };

  /** The next piece; null at the end, or once a left client's wait for the usage is over. */
  const next = async (): Promise<string | null> => {
    if (!gone) return opened.upstream.read();
    const wait = giveUpAt - Date.now();
    if (wait <= 0) return null;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), wait)));
    try {
      return await Promise.race([opened.upstream.read(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  };

  try {
    let queue = opened.pending;
    for (;;) {
      let step: 'more' | 'done' | 'error' = 'more';
      for (const block of queue) {
        step = deliver(block);
        if (step !== 'more') break;
      }
      await flush();
      // Usage after the finish is the final count (some upstreams put a running count on every chunk).
      if (gone && usage && finished) return end('cancelled', null);
      if (step === 'done') return end('succeeded', DONE);
      if (step === 'error') return interrupt('upstream error event');
      if (!gone && call.clientSignal.aborted) leave();
      const piece = await next();
      if (piece === null) {
        if (gone) return end('cancelled', null);
        // A clean end without [DONE]: complete if the answer finished, cut otherwise.
        if (finished || usage) return end('succeeded', DONE);
        return interrupt('upstream closed without finishing');
      }
      queue = opened.splitter.push(piece);
    }
  } catch (err) {
    if (err instanceof ClientGoneError || gone || call.clientSignal.aborted) return { status: 'cancelled', tokens: counted(), last: null };
    if (err instanceof ProviderError) return interrupt('upstream read failed', err);
    call.log.error({ err, ref: opts.ref }, 'stream failed');
    return { status: 'failed', tokens: counted(), last: errorEvent(INTERRUPTED) };
  }
}

/** Output tokens of a non-streaming answer that reported no usage: its messages' text, tokenized. */
function completionTokens(json: Record<string, unknown>, count: TokenCounter): number {
  if (!Array.isArray(json.choices)) return 0;
  let total = 0;
  for (const choice of json.choices) {
    if (!isRecord(choice) || !isRecord(choice.message)) continue;
    const { content, tool_calls: toolCalls, refusal } = choice.message;
    if (typeof content === 'string') total += count(content);
    if (typeof refusal === 'string') total += count(refusal);
    if (toolCalls !== undefined && toolCalls !== null) total += count(JSON.stringify(toolCalls));
  }
  return total;
}

/** Routing order: repeatedly the weighted pick among the channels not tried yet, at most `max`. */
export function attemptOrder<T extends Candidate>(candidates: readonly T[], random: () => number, max: number): T[] {
  const rest = [...candidates];
  const order: T[] = [];
  while (rest.length > 0 && order.length < max) {
    const pick = pickWeighted(rest, random);
    if (!pick) break;
    order.push(pick);
    rest.splice(rest.indexOf(pick), 1);
  }
  return order;
}

/**
 * The client's error once every attempt failed: the upstream's own 400 (scrubbed) when it refused the
 * request; 429 `upstream_rate_limited` when every channel was rate limited; 502 `upstream_unavailable`
 * otherwise (5xx, timeouts, connection failures, broken answers, channel credentials refused).
 */
export function clientError(failures: readonly ProviderError[]): AppError {
  const last = failures.at(-1);
  if (last && !last.retryable) {
    return new AppError(400, 'upstream_invalid_request', last.message || 'The upstream provider refused the request', 'invalid_request_error');
  }
  if (failures.length > 0 && failures.every((f) => f.code === 'rate_limited')) {
    const waits = failures.map((f) => f.retryAfterMs).filter((ms): ms is number => ms !== undefined);
    const headers: Record<string, string> = waits.length > 0 ? { 'retry-after': String(Math.max(1, Math.ceil(Math.min(...waits) / 1000))) } : {};
    return new AppError(429, 'upstream_rate_limited', 'The upstream provider is rate limiting requests; retry shortly', 'upstream_error', undefined, headers);
  }
  return new AppError(502, 'upstream_unavailable', `No upstream channel could answer (${failures.length} attempt${failures.length === 1 ? '' : 's'}); retry shortly`, 'upstream_error');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
