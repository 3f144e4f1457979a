/**
 * Server-sent events as the chat proxy handles them: split the upstream's bytes into events as they
 * arrive, look inside each `data:` event (usage, delivered text, in-stream errors), and decide what the
 * client gets. Pure: no I/O, unit-tested on its own.
 */
import type { TokenUsage } from '../../billing/pricing';

export type { TokenUsage };

/**
 * Splits a stream of text into complete SSE event blocks (the lines of one event, without the blank line
 * that ends it). Line endings are normalized to `\n`; a `\r` at the end of a piece waits for the next
 * piece, since it may be the first half of `\r\n`.
 */
export class SseSplitter {
  private buffer = '';
  private heldCR = false;

  /** Adds text and returns every event completed by it, in order. */
  push(text: string): string[] {
    let piece = (this.heldCR ? '\r' : '') + text;
    this.heldCR = piece.endsWith('\r');
    if (this.heldCR) piece = piece.slice(0, -1);
    this.buffer += piece.replace(/\r\n?/g, '\n');
    const blocks: string[] = [];
    let end: number;
    while ((end = this.buffer.indexOf('\n\n')) !== -1) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      // Blank lines between events are not events.
      if (block.replace(/\n/g, '') !== '') blocks.push(block.replace(/^\n+/, ''));
    }
    return blocks;
  }

  /** Whatever is left when the stream ends: an incomplete event, or '' when the stream ended cleanly. */
  rest(): string {
    return this.buffer.replace(/^\n+/, '') + (this.heldCR ? '\r' : '');
  }
}

/** The fields of one event block that matter here. `data` is null for a comment-only block (keep-alive). */
export interface SseEvent {
  event: string | null;
  data: string | null;
}

/** Parses one event block per the SSE spec: `data:` lines joined by `\n`, one optional space after the colon. */
export function parseSseBlock(block: string): SseEvent {
  // What chat upstreams send: one `data: ` line.
  if (block.startsWith('data: ') && !block.includes('\n')) return { event: null, data: block.slice(6) };
  let event: string | null = null;
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') data.push(value);
    else if (field === 'event') event = value;
  }
  return { event, data: data.length > 0 ? data.join('\n') : null };
}

/** What one `data:` event of a chat completion stream holds. */
export interface ChunkInfo {
  /** `data: [DONE]`. */
  done: boolean;
  /** The parsed chunk (null for [DONE] or text that isn't JSON). */
  json: Record<string, unknown> | null;
  /** An in-stream error (`{"error": {...}}`), when the upstream sent one. */
  error: Record<string, unknown> | null;
  /** Usage, when the chunk reports it (the include_usage chunk). */
  usage: TokenUsage | null;
  /** Generated text this chunk carries (content, refusal, reasoning, tool-call names and arguments), joined. */
  text: string;
}

/** Looks inside one data event of a chat completion stream. */
export function inspectChunk(data: string): ChunkInfo {
  if (data.trim() === '[DONE]') return { done: true, json: null, error: null, usage: null, text: '' };
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    return { done: false, json: null, error: null, usage: null, text: '' };
  }
  if (!isRecord(json)) return { done: false, json: null, error: null, usage: null, text: '' };
  const error = isRecord(json.error) ? json.error : null;
  return { done: false, json, error, usage: readUsage(json.usage), text: deltaText(json) };
}

/**
 * The text the client gets for one upstream data event, or null to drop it. The gateway always asks a
 * streaming upstream for usage; when the client did not ask, the usage-only chunk (empty `choices`) is
 * dropped and the `usage` field removed from the others, so the client sees what it would have seen.
 */
export function clientChunk(block: string, info: ChunkInfo, clientWantsUsage: boolean): string | null {
  if (clientWantsUsage || !info.json || !('usage' in info.json)) return block;
  const choices = info.json.choices;
  if (!Array.isArray(choices) || choices.length === 0) return null;
  // Usually `"usage":null` closes a compact one-line chunk: cut it out of the text instead of re-serialising.
  // Sound because a `"` right after `,` cannot be inside a JSON string, so this is the top level's last member.
  if (info.json.usage === null && block.endsWith(USAGE_NULL_TAIL) && !block.includes('\n')) {
    return `${block.slice(0, -USAGE_NULL_TAIL.length)}}`;
  }
  const { usage: _dropped, ...rest } = info.json;
  return `data: ${JSON.stringify(rest)}`;
}

const USAGE_NULL_TAIL = ',"usage":null}';

/**
 * `{prompt_tokens, completion_tokens}` (or `input_tokens` / `output_tokens`) with their details (cached
 * and audio prompt tokens, reasoning and audio completion tokens); null when absent or not numbers.
 */
export function readUsage(value: unknown): TokenUsage | null {
  if (!isRecord(value)) return null;
  const input = count(value.prompt_tokens) ?? count(value.input_tokens);
  const output = count(value.completion_tokens) ?? count(value.output_tokens) ?? 0;
  if (input === undefined) return null;
  const usage: TokenUsage = { input, output };
  const inDetails = recordOf(value.prompt_tokens_details) ?? recordOf(value.input_tokens_details);
  const outDetails = recordOf(value.completion_tokens_details) ?? recordOf(value.output_tokens_details);
  // A detail can't be more than the total it is part of, whatever the upstream says.
  const part = (details: Record<string, unknown> | null, field: string, of: number) => {
    const n = details ? count(details[field]) : undefined;
    return n ? Math.min(n, of) : undefined;
  };
  const details: Partial<TokenUsage> = {
    cachedInput: part(inDetails, 'cached_tokens', input),
    audioInput: part(inDetails, 'audio_tokens', input),
    reasoning: part(outDetails, 'reasoning_tokens', output),
    audioOutput: part(outDetails, 'audio_tokens', output),
  };
  for (const [key, n] of Object.entries(details)) if (n) usage[key as keyof TokenUsage] = n;
  return usage;
}

/** The OpenAI-shaped error event that ends a stream the gateway could not finish. */
export function errorEvent(error: { message: string; type: string; code: string }): string {
  return `data: ${JSON.stringify({ error: { message: error.message, type: error.type, param: null, code: error.code } })}`;
}

/** Generated text in a chunk's deltas, over every choice. */
function deltaText(chunk: Record<string, unknown>): string {
  if (!Array.isArray(chunk.choices)) return '';
  let text = '';
  for (const choice of chunk.choices) {
    if (!isRecord(choice) || !isRecord(choice.delta)) continue;
    const delta = choice.delta;
    for (const field of ['content', 'refusal', 'reasoning_content', 'reasoning']) {
      if (typeof delta[field] === 'string') text += delta[field] as string;
    }
    const calls = Array.isArray(delta.tool_calls) ? delta.tool_calls : [];
    for (const call of [...calls, delta.function_call]) {
      const fn = isRecord(call) && isRecord(call.function) ? call.function : isRecord(call) ? call : null;
      if (!fn) continue;
      if (typeof fn.name === 'string') text += fn.name;
      if (typeof fn.arguments === 'string') text += fn.arguments;
    }
  }
  return text;
}

function recordOf(value: unknown): Record<string, unknown> | null {
  return isRecord(value) ? value : null;
}

function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? Math.round(value) : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
