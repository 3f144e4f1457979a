/**
 * The plain-HTTP plumbing every adapter shares: one request with a timeout, error classification from the
 * status code and headers, Retry-After parsing, secret scrubbing and channel-settings validation.
 * Adapters never retry: each function here makes exactly one attempt and reports what happened.
 */
import { z } from 'zod';
import { providerRequest } from './transport';
import { ProviderError, type ChannelAccess, type MediaRequest } from './types';

/** Default limit for one submit, status or cancel call. */
export const DEFAULT_TIMEOUT_MS = 30_000;
/** Default limit for a whole output download made for an adapter (`openOutput` requests). */
export const DEFAULT_OUTPUT_TIMEOUT_MS = 600_000;
/** Provider messages are cut to this length so one odd upstream can't bloat history. */
const MAX_MESSAGE_CHARS = 500;

/** Settings every adapter accepts; each adapter extends this object. */
export const BaseChannelSettings = z.strictObject({
  /** Milliseconds for one submit/status/cancel call, including reading the body. */
  timeoutMs: z.number().int().min(1).max(600_000).default(DEFAULT_TIMEOUT_MS),
  /** Milliseconds for a whole download requested through `openOutput`. */
  outputTimeoutMs: z.number().int().min(1).max(3_600_000).default(DEFAULT_OUTPUT_TIMEOUT_MS),
});

/**
 * Which fields of our MediaRequest go under which input name (replicate, fal): `null` drops the field.
 * Models on those platforms name their inputs freely, so a channel can rename them.
 */
export const InputKeys = z
  .strictObject({
    prompt: z.string().min(1).nullable(),
    imageUrl: z.string().min(1).nullable(),
    imageUrls: z.string().min(1).nullable(),
    lastFrameUrl: z.string().min(1).nullable(),
    videoUrl: z.string().min(1).nullable(),
    audioUrl: z.string().min(1).nullable(),
    duration: z.string().min(1).nullable(),
    size: z.string().min(1).nullable(),
    resolution: z.string().min(1).nullable(),
    aspectRatio: z.string().min(1).nullable(),
    n: z.string().min(1).nullable(),
    seed: z.string().min(1).nullable(),
    quality: z.string().min(1).nullable(),
  })
  .partial();
export type InputKeys = z.infer<typeof InputKeys>;

/** Validates `channel.settings`; a bad value is a non-retryable `invalid_channel_settings`. */
export function parseChannelSettings<S extends z.ZodType>(
  provider: string,
  schema: S,
  channel: ChannelAccess,
): z.output<S> {
  const parsed = schema.safeParse(channel.settings ?? {});
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues
    .map((i) => `${i.path.length ? i.path.join('.') : '(settings)'}: ${i.message}`)
    .join('; ');
  throw new ProviderError({
    code: 'invalid_channel_settings',
    retryable: false,
    message: scrub(`${provider} channel ${channel.channelId} has invalid settings: ${issues}`, [channel.apiKey]),
  });
}

/** `base` + `path` with exactly one slash between them; `base` may end with a slash or not. */
export function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}

/** One HTTP call as an adapter describes it. */
export interface HttpCall {
  /** Provider id, for messages. */
  provider: string;
  /** What the call is for (`submit`, `status`, `cancel`, `result`, `output`), for messages. */
  operation: string;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  /** Sent as JSON when present. */
  json?: unknown;
  timeoutMs: number;
  /** Strings that must never reach a message (the api key); scrub() also removes key-like tokens. */
  secrets: readonly string[];
}

/** Builds one call of an adapter: `(channel, operation, method, path, json?)`. */
export type CallBuilder = (channel: ChannelAccess, operation: string, method: HttpCall['method'], path: string, json?: unknown) => HttpCall;

/**
 * The call builder of a provider whose API takes `Authorization: Bearer <key>` on the channel's base URL:
 * validates the channel's settings with `schema` (a bad one is `invalid_channel_settings`) and adds the
 * headers `extraHeaders` derives from them (`hasBody`: the call sends JSON).
 */
export function bearerCalls<S extends z.ZodType<{ timeoutMs: number }>>(
  provider: string,
  schema: S,
  extraHeaders?: (settings: z.output<S>, hasBody: boolean) => Record<string, string>,
): CallBuilder {
  return (channel, operation, method, path, json) => {
    const settings = parseChannelSettings(provider, schema, channel);
    return {
      provider,
      operation,
      method,
      url: joinUrl(channel.baseUrl, path),
      headers: { authorization: `Bearer ${channel.apiKey}`, ...extraHeaders?.(settings, json !== undefined) },
      json,
      timeoutMs: settings.timeoutMs,
      secrets: [channel.apiKey],
    };
  };
}

/** A response whose body has been read as text. */
export interface HttpReply {
  status: number;
  headers: Headers;
  text: string;
}

/** Makes one request and reads the whole body; throws ProviderError only for timeouts and network failures. */
export async function send(call: HttpCall): Promise<HttpReply> {
  const headers: Record<string, string> = { accept: 'application/json', ...call.headers };
  let body: string | undefined;
  if (call.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(call.json);
  }
  try {
    const answer = await providerRequest({ url: call.url, method: call.method, headers, body, timeoutMs: call.timeoutMs });
    return { status: answer.status, headers: answer.headers, text: answer.bytes.toString('utf8') };
  } catch (err) {
    throw transportError(call, err);
  }
}

/** Parses a JSON body; anything else is a retryable `bad_response` (a proxy page, a cut body). */
export function parseJson(call: HttpCall, reply: HttpReply): unknown {
  try {
    return JSON.parse(reply.text);
  } catch {
    throw new ProviderError({
      code: 'bad_response',
      retryable: true,
      httpStatus: reply.status,
      message: scrub(
        `${call.provider} ${call.operation}: HTTP ${reply.status} with a body that is not JSON: ${preview(reply.text)}`,
        call.secrets,
      ),
    });
  }
}

/** A JSON body that must be an object; other shapes are `bad_response`. */
export function parseJsonObject(call: HttpCall, reply: HttpReply): Record<string, unknown> {
  const value = parseJson(call, reply);
  if (!isRecord(value)) throw badResponse(call, `expected a JSON object, got ${preview(reply.text)}`, reply.status);
  return value;
}

/** A retryable `bad_response`: the provider answered something we can't read. */
export function badResponse(call: Pick<HttpCall, 'provider' | 'operation' | 'secrets'>, what: string, httpStatus?: number) {
  return new ProviderError({
    code: 'bad_response',
    retryable: true,
    httpStatus,
    message: scrub(`${call.provider} ${call.operation}: unexpected response: ${what}`, call.secrets),
  });
}

/** What an adapter read from a provider's error body. */
export interface ErrorDetails {
  /** The provider's own code (`moderation_blocked`, `InvalidParameter`, a fal error type...). */
  providerCode?: string;
  /** The provider's own message, before scrubbing. */
  providerMessage?: string;
  /** The adapter recognised a content-policy refusal (only honoured on 4xx). */
  contentPolicy?: boolean;
}

/**
 * Classifies a non-2xx answer: 429 rate_limited (retryable, Retry-After honoured), 408/409/5xx
 * upstream_unavailable (retryable), 401/403 upstream_auth_failed, content policy, 404 `notFoundCode`
 * (default invalid_request), other 4xx invalid_request; anything else (3xx left over) bad_response.
 */
export function httpError(
  call: Pick<HttpCall, 'provider' | 'operation' | 'secrets'>,
  reply: HttpReply,
  details: ErrorDetails,
  opts: { notFoundCode?: string } = {},
): ProviderError {
  const { status } = reply;
  const said = details.providerMessage ?? (reply.text ? preview(reply.text) : '');
  const message = clip(
    scrub(
      `${call.provider} ${call.operation}: HTTP ${status}${details.providerCode ? ` ${details.providerCode}` : ''}` +
        (said ? `: ${said}` : ''),
      call.secrets,
    ),
  );
  const base = { message, httpStatus: status, providerCode: details.providerCode };
  const retryAfter = retryAfterMs(reply.headers);
  if (status === 429) return new ProviderError({ ...base, code: 'rate_limited', retryable: true, retryAfterMs: retryAfter });
  if (status === 408 || status === 409 || status >= 500) {
    return new ProviderError({ ...base, code: 'upstream_unavailable', retryable: true, retryAfterMs: retryAfter });
  }
  if (status === 401 || status === 403) return new ProviderError({ ...base, code: 'upstream_auth_failed', retryable: false });
  if (status >= 400 && details.contentPolicy) {
    return new ProviderError({ ...base, code: 'content_policy_violation', retryable: false });
  }
  if (status === 404) return new ProviderError({ ...base, code: opts.notFoundCode ?? 'invalid_request', retryable: false });
  if (status >= 400) return new ProviderError({ ...base, code: 'invalid_request', retryable: false });
  return new ProviderError({ ...base, code: 'bad_response', retryable: true });
}

/** Milliseconds from `retry-after-ms`, else `retry-after` (seconds or an HTTP date); undefined when absent. */
export function retryAfterMs(headers: Headers, now: number = Date.now()): number | undefined {
  const ms = headers.get('retry-after-ms');
  if (ms !== null && /^\s*\d+(\.\d+)?\s*$/.test(ms)) return Math.ceil(Number(ms));
  const value = headers.get('retry-after');
  if (value === null || value.trim() === '') return undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(value)) return Math.ceil(Number(value) * 1000);
  const at = Date.parse(value);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/**
 * Timeouts become `timeout`, everything else thrown on the way (refused, reset, DNS, a redirect the guard
 * refused, an oversize answer) `connection_error`.
 */
export function transportError(call: Pick<HttpCall, 'provider' | 'operation' | 'secrets' | 'timeoutMs'>, err: unknown): ProviderError {
  if (isTimeout(err)) {
    return new ProviderError({
      code: 'timeout',
      retryable: true,
      message: scrub(`${call.provider} ${call.operation}: no complete answer within ${call.timeoutMs} ms`, call.secrets),
    });
  }
  const cause = describeCause(err);
  return new ProviderError({
    code: 'connection_error',
    retryable: true,
    message: scrub(`${call.provider} ${call.operation}: connection failed${cause ? ` (${cause})` : ''}`, call.secrets),
  });
}

function isTimeout(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const name = (e as { name?: unknown }).name;
    if (name === 'TimeoutError' || name === 'OutboundTimeoutError') return true;
  }
  return false;
}

function describeCause(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    // Our own refusals say what was refused (a redirect to a private address, an oversize answer).
    if (e instanceof Error && (e.name === 'OutboundRefusedError' || e.name === 'ProviderAnswerTooLargeError')) parts.push(e.message);
    else if (typeof code === 'string') parts.push(code);
    else if (e instanceof Error && e.message && e.message !== 'fetch failed') parts.push(e.message);
  }
  return [...new Set(parts)].join(': ');
}

const REDACTED = '[redacted]';
/** Minimum length of a key fragment that counts as "looks like the key". */
const KEY_GRAM = 8;
/** A run of characters that could hold a token (keys, URLs with keys inside). */
const TOKEN_RUN = /[A-Za-z0-9._~+/=:*%-]{6,}/g;
/** Prefixes of well-known credentials: openai `sk-` (also masked `sk-...****abcd`), replicate `r8_`. */
const KNOWN_PREFIX = /(^|[^A-Za-z0-9])(sk-|sk_|rk-|r8_)[A-Za-z0-9*_-]{4,}/;
/** fal keys: `<uuid>:<hex secret>`. */
const FAL_KEY = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}:[0-9a-f]{16,}/i;

/**
 * Removes credentials from a message: the given secrets (and their `:`-separated parts), any run that
 * shares 8 characters with one of them, `Authorization` / `Bearer` / `Key` values, well-known key prefixes
 * (`sk-`, `r8_`...), fal-style `id:secret` pairs and long mixed-case random-looking tokens.
 */
export function scrub(text: string, secrets: readonly string[]): string {
  const pieces = new Set<string>();
  for (const s of secrets) {
    if (!s) continue;
    pieces.add(s);
    for (const part of s.split(':')) if (part) pieces.add(part);
  }
  let out = text;
  // Whole secrets first, longest first, so a short part never splits a long match.
  for (const p of [...pieces].sort((a, b) => b.length - a.length)) {
    if (p.length >= 4) out = out.split(p).join(REDACTED);
  }
  out = out.replace(/(authorization["']?\s*[:=]\s*["']?)(?:bearer\s+|key\s+|basic\s+|token\s+)?[^\s"',;}]+/gi, `$1${REDACTED}`);
  out = out.replace(/\b(bearer)\s+[A-Za-z0-9._~+/=:*-]{6,}/gi, `$1 ${REDACTED}`);
  out = out.replace(/\bKey\s+[A-Za-z0-9._~+/=*-]{6,}:[A-Za-z0-9._~+/=*-]{6,}/g, `Key ${REDACTED}`);
  const grams = new Set<string>();
  for (const p of pieces) {
    for (let i = 0; i + KEY_GRAM <= p.length; i++) grams.add(p.slice(i, i + KEY_GRAM));
  }
  return out.replace(TOKEN_RUN, (run) => (looksSecret(run, grams) ? REDACTED : run));
}

function looksSecret(run: string, grams: Set<string>): boolean {
  if (run === REDACTED) return false;
  for (let i = 0; i + KEY_GRAM <= run.length; i++) if (grams.has(run.slice(i, i + KEY_GRAM))) return true;
  if (KNOWN_PREFIX.test(run) || FAL_KEY.test(run)) return true;
  // Long random-looking tokens (upper, lower and digits mixed) are treated as credentials; ids are not.
  return /[A-Za-z0-9_-]{32,}/.test(run) && run.split(/[^A-Za-z0-9_-]/).some(isRandomLooking);
}

function isRandomLooking(word: string): boolean {
  return word.length >= 32 && /[a-z]/.test(word) && /[A-Z]/.test(word) && /[0-9]/.test(word);
}

/** The start of a body, on one line, for messages. */
export function preview(text: string, max = 200): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

/** Cuts a provider message to a sane length (scrub first: cutting could split a key). */
export function clip(text: string): string {
  return text.length > MAX_MESSAGE_CHARS ? `${text.slice(0, MAX_MESSAGE_CHARS)}…` : text;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A string field or undefined. */
export function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** A finite number field or undefined. */
export function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

const CONTENT_TYPES: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  gif: 'image/gif',
  mp4: 'video/mp4',
  webm: 'video/webm',
  mov: 'video/quicktime',
  wav: 'audio/wav',
  mp3: 'audio/mpeg',
  flac: 'audio/flac',
  ogg: 'audio/ogg',
  m4a: 'audio/mp4',
  aac: 'audio/aac',
};

/** Content type from a URL's file extension (query and fragment ignored); undefined when unknown. */
export function guessContentType(url: string): string | undefined {
  let path = url;
  try {
    path = new URL(url).pathname;
  } catch {
    path = url.split(/[?#]/)[0];
  }
  const m = /\.([A-Za-z0-9]+)$/.exec(path);
  return m ? CONTENT_TYPES[m[1].toLowerCase()] : undefined;
}

/** Content type of a `data:` URI and its base64 payload; undefined for anything else. */
export function parseDataUri(uri: string): { contentType: string; base64: string } | undefined {
  const m = /^data:([^;,]+)?((?:;[^;,]+)*?);base64,(.*)$/s.exec(uri);
  if (!m) return undefined;
  return { contentType: m[1] ?? 'application/octet-stream', base64: m[3] };
}

/** The default content type of a media kind, used when nothing better is known. */
export function defaultContentType(kind: 'image' | 'video' | 'music'): string {
  return kind === 'image' ? 'image/png' : kind === 'video' ? 'video/mp4' : 'audio/mpeg';
}

/** Reads a provider's error body into ErrorDetails; gets `undefined` when the body is not JSON. */
export type ErrorReader = (body: unknown, reply: HttpReply) => ErrorDetails;

/** Sends `call`; a non-2xx answer is classified (with `readError`) and thrown, a 2xx one returned. */
export async function sendOk(
  call: HttpCall,
  readError: ErrorReader,
  opts: { notFoundCode?: string } = {},
): Promise<HttpReply> {
  const reply = await send(call);
  if (reply.status < 200 || reply.status > 299) throw errorFromReply(call, reply, readError, opts);
  return reply;
}

/** Classifies a non-2xx reply with the provider's error reader. */
export function errorFromReply(
  call: HttpCall,
  reply: HttpReply,
  readError: ErrorReader,
  opts: { notFoundCode?: string } = {},
): ProviderError {
  let body: unknown;
  try {
    body = reply.text ? JSON.parse(reply.text) : undefined;
  } catch {
    body = undefined;
  }
  let details: ErrorDetails = {};
  try {
    details = readError(body, reply);
  } catch {
    details = {};
  }
  return httpError(call, reply, details, opts);
}

/** Parses a 2xx body with a zod schema; malformed JSON or a wrong shape is a retryable `bad_response`. */
export function parseBody<S extends z.ZodType>(call: HttpCall, reply: HttpReply, schema: S): z.output<S> {
  const value = parseJson(call, reply);
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ');
  throw badResponse(call, `${issues} in ${preview(reply.text)}`, reply.status);
}

/** Input names for the fields of a MediaRequest (see InputKeys); every field has one. */
export type ResolvedInputKeys = Required<{ [K in keyof InputKeys]: string | null }>;

/**
 * The model input for platforms whose models name their own inputs (replicate, fal): the free-form
 * options without the priced keys, then each set field of the request under its input name (`null` drops
 * it), so a consumer option never changes what was priced.
 */
export function buildModelInput(
  request: MediaRequest,
  defaults: ResolvedInputKeys,
  overrides: InputKeys | undefined,
  pricedKeys: readonly string[],
): Record<string, unknown> {
  const keys: ResolvedInputKeys = { ...defaults, ...overrides };
  const refs = request.references;
  const values: { [K in keyof ResolvedInputKeys]: unknown } = {
    prompt: request.prompt || undefined,
    imageUrl: refs.imageUrl,
    imageUrls: refs.imageUrls && refs.imageUrls.length > 0 ? refs.imageUrls : undefined,
    lastFrameUrl: refs.lastFrameUrl,
    videoUrl: refs.videoUrl,
    audioUrl: refs.audioUrl,
    duration: request.duration,
    size: request.size,
    resolution: request.resolution,
    aspectRatio: request.aspectRatio,
    n: request.n,
    seed: request.seed,
    quality: request.quality,
  };
  const input: Record<string, unknown> = {};
  for (const field of Object.keys(values) as (keyof ResolvedInputKeys)[]) {
    const key = keys[field];
    const value = values[field];
    if (key !== null && value !== undefined) input[key] = value;
  }
  // Priced fields under their (possibly renamed) input names are the gateway's: written after the options.
  const renamedPriced = PRICED_FIELDS.map((field) => keys[field]).filter((key): key is string => key !== null);
  return { ...withoutPriced(request.options, [...pricedKeys, ...renamedPriced]), ...input };
}

/** The request fields that decide a media price, whatever a protocol calls them. */
const PRICED_FIELDS = ['duration', 'n', 'size', 'resolution', 'quality'] as const;

/**
 * The consumer's free-form options without any key that decides the price or the model. The API refuses
 * such options at admission; this is the second line, for tasks admitted before that rule.
 */
export function withoutPriced(options: Record<string, unknown>, pricedKeys: readonly string[]): Record<string, unknown> {
  const priced = new Set(pricedKeys);
  return Object.fromEntries(Object.entries(options).filter(([key]) => !priced.has(key)));
}

/** A provider callback's JSON object body; a forged or malformed one is refused as invalid_request. */
export function callbackJson(provider: string, rawBody: Buffer): Record<string, unknown> {
  let body: unknown;
  try {
    body = JSON.parse(rawBody.toString('utf8'));
  } catch {
    throw callbackRefused(`${provider} callback body is not JSON`);
  }
  if (!isRecord(body)) throw callbackRefused(`${provider} callback body is not a JSON object`);
  return body;
}

/** The error an adapter's `readCallback` throws for a callback it will not believe. */
export function callbackRefused(message: string): ProviderError {
  return new ProviderError({ code: 'invalid_request', retryable: false, message });
}
