/**
 * The chat side of the OpenAI fake: `POST /v1/chat/completions` (JSON, or SSE with `stream:true` ending
 * `data: [DONE]`, a usage chunk only with `stream_options.include_usage`), `POST /v1/embeddings` (float or
 * base64) and `GET /v1/models`. Failure injection goes through the OpenAI fake (`failNext('chat', ...)`,
 * `failNext('embeddings', ...)`); cutting a stream after N chunks is configured here.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { ErrorKind, FaultSpec, Operation, RouteContext } from './fake-server';
import { isObject, sleep } from './fake-server';
import { answerRough, type ChatRoughness } from './chat-rough';

/** What the chat fake needs from the OpenAI fake. */
export interface ChatHost {
  /** Applies a scripted fault for `op`; true when the call was answered. */
  fault(ctx: RouteContext, op: Operation): Promise<boolean>;
  /** Answers an OpenAI-shaped error. */
  error(ctx: RouteContext, kind: ErrorKind, fault?: FaultSpec): void;
  /** Sends JSON. */
  json(ctx: RouteContext, status: number, body: unknown): void;
}

/** Token usage the fake reports; the details are parts of the totals, as OpenAI reports them. */
export interface ChatUsage {
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens?: number;
  reasoning_tokens?: number;
}

/** How the fake counts tokens: a quarter of the characters, at least 1. Exported for expectations. */
export function fakeTokenCount(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

/** Prompt tokens of a messages array as the fake counts them (each message's content, text parts joined). */
export function fakePromptTokens(messages: unknown): number {
  if (!Array.isArray(messages)) return 0;
  let total = 0;
  for (const m of messages) total += fakeTokenCount(contentText(isObject(m) ? m.content : undefined));
  return total;
}

/** The reply split as the fake streams it: one piece per word (with its trailing space); one token each. */
export function fakeReplyPieces(reply: string): string[] {
  return reply.match(/\S+\s*|\s+/g) ?? [];
}

const MODELS = ['gpt-4o', 'gpt-4o-mini', 'gpt-4.1-mini', 'text-embedding-3-small', 'text-embedding-3-large', 'gpt-image-1', 'dall-e-3', 'sora-2', 'sora-2-pro'];

/** A function call the fake answers with instead of text (see `setToolCalls`). */
export interface FakeToolCall {
  name: string;
  /** The arguments as a JSON text, as OpenAI sends them. */
  arguments: string;
}

/** The chat and embeddings routes of the OpenAI fake, with their knobs. */
export class OpenAIChatFake {
  private reply: string | ((body: Record<string, unknown>) => string) = defaultReply;
  private chunkDelayMs = 0;
  private usage: ChatUsage | 'none' | null = null;
  private embeddingTokens: number | null = null;
  private readonly cuts: number[] = [];
  private cutAlways: number | null = null;
  private toolCalls: FakeToolCall[] | null = null;

  constructor(private readonly host: ChatHost) {}

  /** Scripted rough answers (chat-rough.ts), consumed one per chat request. */
  private readonly rough: ChatRoughness[] = [];

  /** The assistant's reply: a fixed text or a function of the request body. Default echoes the last user message. */
  setReply(reply: string | ((body: Record<string, unknown>) => string)): this {
    this.reply = reply;
    return this;
  }

  /** Pause between streamed chunks (default 0). */
  setChunkDelayMs(ms: number): this {
    this.chunkDelayMs = ms;
    return this;
  }

  /**
   * Fixed usage numbers instead of the fake's own count; `'none'`: no usage at all (no `usage` field, no
   * usage chunk even when asked); `null` goes back to counting.
   */
  setUsage(usage: ChatUsage | 'none' | null): this {
    this.usage = usage;
    return this;
  }

  /** Embeddings report this many prompt tokens instead of the fake's own count; `null` goes back to counting. */
  setEmbeddingTokens(tokens: number | null): this {
    this.embeddingTokens = tokens;
    return this;
  }

  /**
   * The next chat answers are cut after N `data:` events each (the socket is destroyed: no `[DONE]`); a
   * non-streaming answer is cut in the middle of its JSON.
   */
  cutNextStreams(...afterChunks: number[]): this {
    this.cuts.push(...afterChunks);
    return this;
  }

  /** Every chat answer is cut after N chunks once the scripted cuts are used; `null` turns it off. */
  cutStreamsAfter(afterChunks: number | null): this {
    this.cutAlways = afterChunks;
    return this;
  }

  /**
   * The next chat answers call these functions instead of replying with text: `tool_calls` in the message
   * (or, streaming, a delta per call and then its arguments in pieces), `finish_reason: "tool_calls"`,
   * completion tokens counted from names and arguments. `null` goes back to text replies.
   */
  setToolCalls(calls: FakeToolCall[] | null): this {
    this.toolCalls = calls;
    return this;
  }

  /** The next chat answers are rough in these ways, one each: an error inside a 200, an error mid-stream, no usage. */
  roughNext(...answers: ChatRoughness[]): this {
    this.rough.push(...answers);
    return this;
  }

  /** Back to the defaults. */
  reset(): this {
    this.toolCalls = null;
    this.reply = defaultReply;
    this.chunkDelayMs = 0;
    this.usage = null;
    this.embeddingTokens = null;
    this.cuts.length = 0;
    this.cutAlways = null;
    this.rough.length = 0;
    return this;
  }

  /** Serves the chat routes; false when the path is not one of them. */
  async handle(ctx: RouteContext, subPath: string): Promise<boolean> {
    const method = ctx.rec.method;
    if (method === 'POST' && subPath === '/chat/completions') {
      await this.chat(ctx);
      return true;
    }
    if (method === 'POST' && subPath === '/embeddings') {
      await this.embeddings(ctx);
      return true;
    }
    if (method === 'GET' && subPath === '/models') {
      const created = 1_700_000_000;
      this.host.json(ctx, 200, {
        object: 'list',
        data: MODELS.map((id) => ({ id, object: 'model', created, owned_by: 'system' })),
      });
      return true;
    }
    return false;
  }

  private async chat(ctx: RouteContext): Promise<void> {
    if (await this.host.fault(ctx, 'chat')) return;
    const body = ctx.rec.body;
    if (!isObject(body)) return this.invalid(ctx, 'We could not parse the JSON body of your request.', null, null);
    if (typeof body.model !== 'string' || !body.model) return this.invalid(ctx, 'you must provide a model parameter', null, null);
    if (body.messages === undefined) {
      return this.invalid(ctx, "Missing required parameter: 'messages'.", 'messages', 'missing_required_parameter');
    }
    if (!Array.isArray(body.messages) || body.messages.length === 0) {
      return this.invalid(
        ctx,
        "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
        'messages',
        'empty_array',
      );
    }
    const stream = body.stream === true;
    if (!stream && body.stream_options !== undefined && body.stream_options !== null) {
      return this.invalid(ctx, "The 'stream_options' parameter is only allowed when 'stream' is enabled.", 'stream_options', null);
    }

    if (this.toolCalls) return this.answerToolCalls(ctx, body, stream, this.toolCalls);
    if (this.rough.length > 0 || (typeof body.n === 'number' && body.n > 1)) return this.answerRoughly(ctx, body);
    const text = typeof this.reply === 'function' ? this.reply(body) : this.reply;
    let pieces = fakeReplyPieces(text);
    const limit = numberField(body.max_completion_tokens) ?? numberField(body.max_tokens);
    let finish = 'stop';
    if (limit !== undefined && pieces.length > limit) {
      pieces = pieces.slice(0, limit);
      finish = 'length';
    }
    const usage = this.usage === 'none' ? null : (this.usage ?? { prompt_tokens: fakePromptTokens(body.messages), completion_tokens: pieces.length });
    const fullUsage = usage && {
      prompt_tokens: usage.prompt_tokens,
      completion_tokens: usage.completion_tokens,
      total_tokens: usage.prompt_tokens + usage.completion_tokens,
      prompt_tokens_details: { cached_tokens: usage.cached_tokens ?? 0, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: usage.reasoning_tokens ?? 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    };
    const id = `chatcmpl-${randomId(29)}`;
    const created = Math.floor(Date.now() / 1000);
    const model = body.model;
    const cut = this.cuts.length > 0 ? this.cuts.shift() : (this.cutAlways ?? undefined);

    if (!stream) {
      const answer = JSON.stringify({
        id,
        object: 'chat.completion',
        created,
        model,
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: pieces.join(''), refusal: null, annotations: [] },
            logprobs: null,
            finish_reason: finish,
          },
        ],
        ...(fullUsage ? { usage: fullUsage } : {}),
        service_tier: 'default',
        system_fingerprint: 'fp_fake',
      });
      if (cut !== undefined) {
        ctx.res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) });
        await new Promise<void>((resolve) => ctx.res.write(answer.slice(0, Math.floor(answer.length / 2)), () => resolve()));
        await sleep(20);
        ctx.res.destroy();
        return;
      }
      this.host.json(ctx, 200, JSON.parse(answer));
      return;
    }

    const includeUsage = fullUsage !== null && isObject(body.stream_options) && body.stream_options.include_usage === true;
    const chunk = (delta: Record<string, unknown>, finishReason: string | null) => ({
      id,
      object: 'chat.completion.chunk',
      created,
      model,
      service_tier: 'default',
      system_fingerprint: 'fp_fake',
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
      ...(includeUsage ? { usage: null } : {}),
    });
    const events: unknown[] = [chunk({ role: 'assistant', content: '', refusal: null }, null)];
    for (const piece of pieces) events.push(chunk({ content: piece }, null));
    events.push(chunk({}, finish));
    if (includeUsage) {
      events.push({ id, object: 'chat.completion.chunk', created, model, service_tier: 'default', system_fingerprint: 'fp_fake', choices: [], usage: fullUsage });
    }

    ctx.res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-request-id': `req_${randomBytes(16).toString('hex')}`,
    });
    ctx.res.flushHeaders();
    // Each chunk is flushed before the next step, so a cut really delivers exactly N chunks first.
    const write = (text: string) => new Promise<void>((resolve) => ctx.res.write(text, () => resolve()));
    const cutHere = async () => {
      await sleep(20);
      ctx.res.destroy();
    };
    let written = 0;
    for (const event of events) {
      if (cut !== undefined && written >= cut) return cutHere();
      await write(`data: ${JSON.stringify(event)}\n\n`);
      written++;
      if (this.chunkDelayMs > 0) await sleep(this.chunkDelayMs);
      if (ctx.res.destroyed) return;
    }
    if (cut !== undefined && written >= cut) return cutHere();
    ctx.res.end('data: [DONE]\n\n');
  }

  /** `n` choices and the next scripted roughness (chat-rough.ts); the reply and max_tokens as for a plain answer. */
  private answerRoughly(ctx: RouteContext, body: Record<string, unknown>): Promise<void> {
    const pieces = fakeReplyPieces(typeof this.reply === 'function' ? this.reply(body) : this.reply);
    const limit = numberField(body.max_completion_tokens) ?? numberField(body.max_tokens);
    const cut = limit !== undefined && pieces.length > limit;
    return answerRough(ctx, {
      body, pieces: cut ? pieces.slice(0, limit) : pieces, finish: cut ? 'length' : 'stop',
      promptTokens: fakePromptTokens(body.messages), roughness: this.rough.shift(),
    });
  }

  private answerToolCalls(ctx: RouteContext, body: Record<string, unknown>, stream: boolean, calls: FakeToolCall[]): void {
    const id = `chatcmpl-${randomId(29)}`;
    const created = Math.floor(Date.now() / 1000);
    const model = body.model;
    const withIds = calls.map((call, index) => ({ index, id: `call_${randomId(24)}`, type: 'function', function: { name: call.name, arguments: call.arguments } }));
    const promptTokens = fakePromptTokens(body.messages);
    const completionTokens = calls.reduce((sum, call) => sum + fakeTokenCount(call.name + call.arguments), 0);
    const usage = { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
    if (!stream) {
      this.host.json(ctx, 200, {
        id, object: 'chat.completion', created, model,
        choices: [{ index: 0, message: { role: 'assistant', content: null, refusal: null, tool_calls: withIds.map(({ index: _i, ...call }) => call), annotations: [] }, logprobs: null, finish_reason: 'tool_calls' }],
        usage, service_tier: 'default', system_fingerprint: 'fp_fake',
      });
      return;
    }
    const includeUsage = isObject(body.stream_options) && body.stream_options.include_usage === true;
    const chunk = (delta: Record<string, unknown>, finishReason: string | null) => ({
      id, object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_fake',
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
      ...(includeUsage ? { usage: null } : {}),
    });
    const events: unknown[] = [chunk({ role: 'assistant', content: null }, null)];
    for (const call of withIds) {
      events.push(chunk({ tool_calls: [{ index: call.index, id: call.id, type: 'function', function: { name: call.function.name, arguments: '' } }] }, null));
      for (const piece of call.function.arguments.match(/.{1,8}/gs) ?? []) {
        events.push(chunk({ tool_calls: [{ index: call.index, function: { arguments: piece } }] }, null));
      }
    }
    events.push(chunk({}, 'tool_calls'));
    if (includeUsage) events.push({ id, object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_fake', choices: [], usage });
    ctx.res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
    for (const event of events) ctx.res.write(`data: ${JSON.stringify(event)}\n\n`);
    ctx.res.end('data: [DONE]\n\n');
  }

  private async embeddings(ctx: RouteContext): Promise<void> {
    if (await this.host.fault(ctx, 'embeddings')) return;
    const body = ctx.rec.body;
    if (!isObject(body)) return this.invalid(ctx, 'We could not parse the JSON body of your request.', null, null);
    if (typeof body.model !== 'string' || !body.model) return this.invalid(ctx, 'you must provide a model parameter', null, null);
    const inputs = embeddingInputs(body.input);
    if (!inputs) {
      return this.invalid(ctx, "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.", 'input', null);
    }
    const format = body.encoding_format ?? 'float';
    if (format !== 'float' && format !== 'base64') {
      return this.invalid(ctx, `Invalid value for 'encoding_format': '${String(format)}'.`, 'encoding_format', 'invalid_value');
    }
    const native = body.model.includes('3-large') ? 3072 : 1536;
    let dims = native;
    if (body.dimensions !== undefined) {
      const d = numberField(body.dimensions);
      if (!body.model.startsWith('text-embedding-3') || d === undefined || !Number.isInteger(d) || d < 1 || d > native) {
        return this.invalid(ctx, `This model does not support specifying dimensions.`, 'dimensions', null);
      }
      dims = d;
    }
    let tokens = 0;
    const data = inputs.map((text, index) => {
      tokens += fakeTokenCount(text);
      const vector = fakeEmbedding(text, dims);
      return {
        object: 'embedding',
        index,
        embedding: format === 'base64' ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector,
      };
    });
    if (this.embeddingTokens !== null) tokens = this.embeddingTokens;
    this.host.json(ctx, 200, { object: 'list', data, model: body.model, usage: { prompt_tokens: tokens, total_tokens: tokens } });
  }

  private invalid(ctx: RouteContext, message: string, param: string | null, code: string | null): void {
    this.host.json(ctx, 400, { error: { message, type: 'invalid_request_error', param, code } });
  }
}

/** A deterministic unit vector for `text`. Exported so tests can compare. */
export function fakeEmbedding(text: string, dims: number): number[] {
  const out: number[] = [];
  let counter = 0;
  while (out.length < dims) {
    const block = createHash('sha256').update(`${text}\u0000${counter++}`).digest();
    for (let i = 0; i + 2 <= block.length && out.length < dims; i += 2) out.push(block.readUInt16LE(i) / 32767.5 - 1);
  }
  const norm = Math.sqrt(out.reduce((s, v) => s + v * v, 0)) || 1;
  return out.map((v) => v / norm);
}

function defaultReply(body: Record<string, unknown>): string {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  const lastUser = [...messages].reverse().find((m) => isObject(m) && m.role === 'user');
  const said = contentText(isObject(lastUser) ? lastUser.content : undefined).slice(0, 200);
  return `This is a fake reply to: ${said || 'nothing'}`;
}

function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content.map((p) => (isObject(p) && typeof p.text === 'string' ? p.text : '')).join(' ');
  }
  return '';
}

/** Strings to embed, or undefined when `input` is missing or empty. Token arrays are embedded by their numbers. */
function embeddingInputs(input: unknown): string[] | undefined {
  if (typeof input === 'string') return input.length > 0 ? [input] : undefined;
  if (!Array.isArray(input) || input.length === 0) return undefined;
  if (input.every((x) => typeof x === 'number')) return [input.join(' ')];
  const out: string[] = [];
  for (const item of input) {
    if (typeof item === 'string' && item.length > 0) out.push(item);
    else if (Array.isArray(item) && item.length > 0 && item.every((x) => typeof x === 'number')) out.push(item.join(' '));
    else return undefined;
  }
  return out;
}

function numberField(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function randomId(length: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = randomBytes(length);
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[bytes[i] % alphabet.length];
  return out;
}
