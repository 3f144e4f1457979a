/**
 * One call to an OpenAI-compatible upstream (`POST {base_url}/chat/completions` or `/embeddings`) over
 * node's http(s) client with keep-alive connections per origin: a timeout until the response headers,
 * the same limit for a whole non-streaming body and between two streamed pieces, and an abort when the
 * client goes away. Never retries and never follows a redirect: the service moves to the next channel.
 * Every failure is one ProviderError whose message is scrubbed of the channel's key and host, because
 * the 400 case shows the upstream's message to the client.
 *
 * Not global fetch: on the chat hot path its WHATWG streams, Headers and per-request dispatcher work cost
 * more CPU than the rest of the proxy (bench/scenarios/chat.ts, BENCHMARKS.md).
 */
import http from 'node:http';
import https from 'node:https';
import { isRedirect } from '../../net/outbound-client';
import { retryAfterMs, scrub } from '../../providers/http';
import { ProviderError, type ChannelAccess, type ProviderErrorInfo } from '../../providers/types';

/** Wait for an upstream's headers, for a whole non-streaming body, and between two streamed pieces. */
export const DEFAULT_CHAT_TIMEOUT_MS = 120_000;
const MAX_MESSAGE_CHARS = 500;
/**
 * How long an idle upstream connection is kept. Below the usual 5 s server keep-alive, so a connection
 * is rarely reused just as the upstream closes it; node also honours a shorter `Keep-Alive: timeout=`.
 */
const IDLE_SOCKET_MS = 4_000;
/** How long a closed answer's remaining bytes are read to keep its connection; past that it is dropped. */
const DRAIN_MS = 1_000;

/** Thrown when the client disconnected while the upstream call was running. */
export class ClientGoneError extends Error {
  constructor() {
    super('The client closed the connection');
    this.name = 'ClientGoneError';
  }
}

/** The parts of an `openai` channel's settings that the chat proxy reads; unknown keys are ignored. */
export interface ChatChannelSettings {
  timeoutMs: number;
  organization?: string;
  project?: string;
}

/** Reads `timeoutMs`, `organization` and `project` from a channel's settings, leniently. */
export function chatChannelSettings(settings: Record<string, unknown>): ChatChannelSettings {
  const timeout = settings.timeoutMs;
  return {
    timeoutMs: typeof timeout === 'number' && Number.isFinite(timeout) && timeout > 0 ? timeout : DEFAULT_CHAT_TIMEOUT_MS,
    organization: typeof settings.organization === 'string' && settings.organization ? settings.organization : undefined,
    project: typeof settings.project === 'string' && settings.project ? settings.project : undefined,
  };
}

/** An open upstream answer with a 2xx status. */
export interface UpstreamResponse {
  status: number;
  contentType: string;
  /** The next piece of the body as text, or null at its end. Throws ProviderError (timeout, cut) or ClientGoneError. */
  read(): Promise<string | null>;
  /** The whole (rest of the) body as text, within the timeout. */
  text(): Promise<string>;
  /** Stops reading and drops the connection (idempotent). */
  close(): void;
  /** From now on the client leaving no longer aborts the call: the caller reads on and closes it itself. */
  detachFromClient(): void;
}

/** What one upstream call needs. */
export interface UpstreamCall {
  channel: ChannelAccess;
  /** `chat/completions` or `embeddings`, joined to the channel's API root. */
  path: string;
  body: Record<string, unknown>;
  /** Aborted when the client disconnects. */
  clientSignal: AbortSignal;
}

/** Where one kind of call on one channel goes, worked out once per base URL and path. */
interface Target {
  client: typeof http | typeof https;
  agent: http.Agent;
  hostname: string;
  port: string;
  /** Path and query, as `{base_url}/{path}` spells them. */
  path: string;
}

/** Makes upstream calls over keep-alive connections; `close` drops the idle ones (shutdown, tests). */
export interface UpstreamClient {
  /** Makes one POST; resolves with a 2xx answer, throws a classified ProviderError for everything else. */
  post(call: UpstreamCall): Promise<UpstreamResponse>;
  close(): void;
}

export function createUpstreamClient(): UpstreamClient {
  // One agent per protocol: an agent keeps a separate pool per host and port.
  const agents = {
    http: new http.Agent({ keepAlive: true, timeout: IDLE_SOCKET_MS }),
    https: new https.Agent({ keepAlive: true, timeout: IDLE_SOCKET_MS }),
  };
  let targets = new Map<string, Target>();

  function targetOf(baseUrl: string, path: string): Target {
    const key = `${baseUrl}\n${path}`;
    let target = targets.get(key);
    if (target) return target;
    let url: URL;
    try {
      url = new URL(`${baseUrl.replace(/\/+$/, '')}/${path}`);
    } catch {
      throw new ProviderError({ code: 'connection_error', retryable: true, message: 'upstream: the channel base URL is not a valid URL' });
    }
    const secure = url.protocol === 'https:';
    if (!secure && url.protocol !== 'http:') {
      throw new ProviderError({ code: 'connection_error', retryable: true, message: 'upstream: the channel base URL must use http or https' });
    }
    target = {
      client: secure ? https : http,
      agent: secure ? agents.https : agents.http,
      hostname: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port,
      path: `${url.pathname}${url.search}`,
    };
    if (targets.size > 1_000) targets = new Map();
    targets.set(key, target);
    return target;
  }

  return {
    post: (call) => post(call, targetOf),
    close() {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}

async function post(opts: UpstreamCall, targetOf: (baseUrl: string, path: string) => Target): Promise<UpstreamResponse> {
  const { channel } = opts;
  const settings = chatChannelSettings(channel.settings);
  const operation = opts.path === 'chat/completions' ? 'chat.completions' : opts.path.replace(/\//g, '.');
  if (opts.clientSignal.aborted) throw new ClientGoneError();
  const target = targetOf(channel.baseUrl, opts.path);
  const payload = JSON.stringify(opts.body);
  const headers: Record<string, string | number> = {
    authorization: `Bearer ${channel.apiKey}`,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(payload),
    accept: opts.body.stream === true ? 'text/event-stream' : 'application/json',
  };
  if (settings.organization) headers['openai-organization'] = settings.organization;
  if (settings.project) headers['openai-project'] = settings.project;

  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  let request: http.ClientRequest | undefined;
  const abort = () => request?.destroy();
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut = true;
      abort();
    }, settings.timeoutMs);
  };
  opts.clientSignal.addEventListener('abort', abort, { once: true });
  const finish = () => {
    clearTimeout(timer);
    opts.clientSignal.removeEventListener('abort', abort);
  };
  let detached = false;
  const failure = (err: unknown): Error => {
    if (opts.clientSignal.aborted && !detached) return new ClientGoneError();
    if (timedOut) {
      return new ProviderError({ code: 'timeout', retryable: true, message: `upstream ${operation}: no answer within ${settings.timeoutMs} ms` });
    }
    if (err instanceof ProviderError) return err;
    return new ProviderError({ code: 'connection_error', retryable: true, message: scrubberFor(channel)(`upstream ${operation}: connection failed${describeCause(err)}`) });
  };

  arm();
  let response: http.IncomingMessage;
  try {
    response = await new Promise<http.IncomingMessage>((resolve, reject) => {
      request = target.client.request({
        agent: target.agent,
        hostname: target.hostname,
        port: target.port,
        method: 'POST',
        path: target.path,
        headers,
      }, resolve);
      request.on('error', reject);
      request.on('close', () => reject(new Error('the upstream connection closed before an answer')));
      request.end(payload);
    });
  } catch (err) {
    finish();
    throw failure(err);
  }
  // Errors after the headers arrive surface through the body reads below.
  request!.on('error', () => undefined);
  response.setEncoding('utf8');

  // The body as a pull queue: pieces wait here until read() takes them; the socket pauses meanwhile.
  const pieces: string[] = [];
  let ended = false;
  let broken: unknown = null;
  let wake: (() => void) | null = null;
  const poke = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  let discard = false;
  response.on('data', (piece: string) => {
    if (discard) return;
    pieces.push(piece);
    response.pause();
    poke();
  });
  response.on('end', () => {
    ended = true;
    poke();
  });
  response.on('error', (err) => {
    broken = err;
    poke();
  });
  response.on('close', () => {
    if (!ended && broken === null) broken = new Error('the upstream closed the connection before the end of the body');
    poke();
  });

  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    finish();
    if (ended || broken !== null) return;
    // Usually only the end of the body is left (the chunk terminator after `data: [DONE]`): read it so
    // the connection goes back to the pool, but drop the connection if more than that keeps coming.
    discard = true;
    pieces.length = 0;
    const drop = setTimeout(abort, DRAIN_MS);
    response.once('end', () => clearTimeout(drop));
    response.once('close', () => clearTimeout(drop));
    response.resume();
  };
  const read = async (): Promise<string | null> => {
    if (closed) return null;
    if (pieces.length === 0 && !ended && broken === null) {
      arm();
      response.resume();
      await new Promise<void>((resolve) => (wake = resolve));
    }
    // Not while the caller works on this piece (a slow client): the wait for the next one starts at read().
    clearTimeout(timer);
    const piece = pieces.shift();
    if (piece !== undefined) return piece;
    if (ended) {
      finish();
      closed = true;
      return null;
    }
    const error = failure(broken);
    close();
    throw error;
  };
  const text = async (): Promise<string> => {
    // One deadline for the whole body: read() re-arms per piece, so keep our own.
    const deadline = Date.now() + settings.timeoutMs;
    let out = '';
    for (;;) {
      if (Date.now() > deadline) {
        timedOut = true;
        close();
        throw failure(undefined);
      }
      const piece = await read();
      if (piece === null) return out;
      out += piece;
    }
  };

  const status = response.statusCode ?? 0;
  if (status < 200 || status > 299) {
    let body = '';
    try {
      body = await text();
    } catch {
      // The status says enough.
    }
    close();
    throw classifyHttpError(status, headersOf(response), body, scrubberFor(channel), operation);
  }
  const detachFromClient = () => {
    detached = true;
    opts.clientSignal.removeEventListener('abort', abort);
  };
  return { status, contentType: response.headers['content-type'] ?? '', read, text, close, detachFromClient };
}

/** A node response's headers as fetch Headers, for the (rare) error path's Retry-After. */
function headersOf(response: http.IncomingMessage): Headers {
  const out = new Headers();
  for (const [name, value] of Object.entries(response.headers)) {
    if (typeof value === 'string') out.set(name, value);
    else if (Array.isArray(value)) for (const v of value) out.append(name, v);
  }
  return out;
}

/** A classified upstream failure; `param` is the upstream's, shown with a 400. */
export class UpstreamError extends ProviderError {
  constructor(info: ProviderErrorInfo & { param?: string }) {
    super(info);
    this.name = 'UpstreamError';
    this.param = info.param;
  }
  readonly param?: string;
}

/**
 * A non-2xx answer, classified for the chat proxy. `retryable` means "another channel may succeed":
 * 408, 409, 429 and 5xx as usual, and also 401, 403 and 404, which say the channel (its key, its model
 * mapping) is wrong rather than the request. Other 4xx are the client's request: never retried.
 */
export function classifyHttpError(status: number, headers: Headers, body: string, clean: (text: string) => string, operation = 'request'): UpstreamError {
  const details = readErrorBody(body);
  const said = details.message ?? (body.trim() && !body.trimStart().startsWith('<') ? body.trim().slice(0, 200) : '');
  const message = clip(clean(said || `upstream ${operation}: HTTP ${status}`));
  const base = { message, httpStatus: status, providerCode: details.code };
  if (status === 429) return new UpstreamError({ ...base, code: 'rate_limited', retryable: true, retryAfterMs: retryAfterMs(headers) });
  if (status === 408 || status === 409 || status >= 500) {
    return new UpstreamError({ ...base, code: 'upstream_unavailable', retryable: true, retryAfterMs: retryAfterMs(headers) });
  }
  if (status === 401 || status === 403) return new UpstreamError({ ...base, code: 'upstream_auth_failed', retryable: true });
  if (status === 404) return new UpstreamError({ ...base, code: 'upstream_not_found', retryable: true });
  if (status >= 400) return new UpstreamError({ ...base, code: 'invalid_request', retryable: false, param: details.param });
  if (isRedirect(status)) {
    // Refused as the outbound client refuses redirects it was not asked to follow: this one would carry
    // the channel's key to wherever the Location points.
    return new UpstreamError({ ...base, message: `upstream ${operation}: answered a redirect (HTTP ${status}), which is not followed`, code: 'bad_response', retryable: true });
  }
  return new UpstreamError({ ...base, code: 'bad_response', retryable: true });
}

/** `{"error":{"message","type","param","code"}}`, leniently. */
function readErrorBody(body: string): { message?: string; code?: string; param?: string } {
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed !== 'object' || parsed === null) return {};
    const error = (parsed as { error?: unknown }).error;
    if (typeof error === 'string') return { message: error };
    if (typeof error !== 'object' || error === null) return {};
    const e = error as Record<string, unknown>;
    return {
      message: typeof e.message === 'string' ? e.message : undefined,
      code: typeof e.code === 'string' || typeof e.code === 'number' ? String(e.code) : typeof e.type === 'string' ? e.type : undefined,
      param: typeof e.param === 'string' ? e.param : undefined,
    };
  } catch {
    return {};
  }
}

/**
 * Removes the channel's key and its base URL (origin, host, hostname) from a text: upstream messages
 * sometimes echo a masked key or the URL that failed. Literal replacement for the address, so that
 * unrelated links (documentation URLs) survive; the key goes through the shared scrubber.
 */
export function scrubberFor(channel: Pick<ChannelAccess, 'apiKey' | 'baseUrl'>): (text: string) => string {
  const addresses: string[] = [channel.baseUrl.replace(/\/+$/, '')];
  try {
    const url = new URL(channel.baseUrl);
    addresses.push(url.origin, url.host, url.hostname);
  } catch {
    // Not a URL: the literal base URL is all there is to hide.
  }
  const literal = [...new Set(addresses.filter((a) => a.length >= 3))].sort((a, b) => b.length - a.length);
  return (text: string) => {
    let out = text;
    for (const address of literal) out = out.split(address).join('[upstream]');
    return scrub(out, [channel.apiKey]);
  };
}

function clip(text: string): string {
  return text.length > MAX_MESSAGE_CHARS ? `${text.slice(0, MAX_MESSAGE_CHARS)}…` : text;
}

function describeCause(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') parts.push(code);
  }
  return parts.length > 0 ? ` (${[...new Set(parts)].join(': ')})` : '';
}
