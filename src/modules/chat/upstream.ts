/**
 * One call to an OpenAI-compatible upstream (`POST {base_url}/chat/completions` or `/embeddings`) with
 * global fetch: a timeout until the response headers, the same limit for a whole non-streaming body and
 * between two streamed pieces, and an abort when the client goes away. Never retries: the service moves
 * to the next channel. Every failure is one ProviderError whose message is scrubbed of the channel's key
 * and host, because the 400 case shows the upstream's message to the client.
 */
import { retryAfterMs, scrub } from '../../providers/http';
import { ProviderError, type ChannelAccess, type ProviderErrorInfo } from '../../providers/types';

/** Wait for an upstream's headers, for a whole non-streaming body, and between two streamed pieces. */
export const DEFAULT_CHAT_TIMEOUT_MS = 120_000;
const MAX_MESSAGE_CHARS = 500;

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
}

/** Makes one POST; resolves with a 2xx answer, throws a classified ProviderError for everything else. */
export async function postUpstream(opts: {
  channel: ChannelAccess;
  /** `chat/completions` or `embeddings`, joined to the channel's API root. */
  path: string;
  body: Record<string, unknown>;
  /** Aborted when the client disconnects. */
  clientSignal: AbortSignal;
}): Promise<UpstreamResponse> {
  const { channel } = opts;
  const settings = chatChannelSettings(channel.settings);
  const url = `${channel.baseUrl.replace(/\/+$/, '')}/${opts.path}`;
  const operation = opts.path.replace(/\//g, '.');
  const clean = scrubberFor(channel);
  const controller = new AbortController();
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, settings.timeoutMs);
  };
  const onClientGone = () => controller.abort();
  if (opts.clientSignal.aborted) throw new ClientGoneError();
  opts.clientSignal.addEventListener('abort', onClientGone, { once: true });
  const finish = () => {
    clearTimeout(timer);
    opts.clientSignal.removeEventListener('abort', onClientGone);
  };
  const failure = (err: unknown): Error => {
    if (opts.clientSignal.aborted) return new ClientGoneError();
    if (timedOut) {
      return new ProviderError({ code: 'timeout', retryable: true, message: `upstream ${operation}: no answer within ${settings.timeoutMs} ms` });
    }
    if (err instanceof ProviderError) return err;
    return new ProviderError({ code: 'connection_error', retryable: true, message: clean(`upstream ${operation}: connection failed${describeCause(err)}`) });
  };

  const headers: Record<string, string> = {
    authorization: `Bearer ${channel.apiKey}`,
    'content-type': 'application/json',
    accept: opts.body.stream === true ? 'text/event-stream' : 'application/json',
  };
  if (settings.organization) headers['openai-organization'] = settings.organization;
  if (settings.project) headers['openai-project'] = settings.project;

  arm();
  let response: Response;
  try {
    response = await fetch(url, { method: 'POST', headers, body: JSON.stringify(opts.body), signal: controller.signal });
  } catch (err) {
    finish();
    throw failure(err);
  }

  const reader = response.body?.getReader();
  const decoder = new TextDecoder();
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    finish();
    controller.abort();
    reader?.cancel().catch(() => undefined);
  };
  const read = async (): Promise<string | null> => {
    if (!reader || closed) return null;
    arm();
    try {
      const { done, value } = await reader.read();
      clearTimeout(timer);
      if (done) {
        const tail = decoder.decode();
        finish();
        closed = true;
        return tail === '' ? null : tail;
      }
      return decoder.decode(value, { stream: true });
    } catch (err) {
      const error = failure(err);
      close();
      throw error;
    }
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

  if (response.status < 200 || response.status > 299) {
    let body = '';
    try {
      body = await text();
    } catch {
      // The status says enough.
    }
    close();
    throw classifyHttpError(response.status, response.headers, body, clean, operation);
  }
  return { status: response.status, contentType: response.headers.get('content-type') ?? '', read, text, close };
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
