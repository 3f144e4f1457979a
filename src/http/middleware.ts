import type Koa from 'koa';
import { randomUUID } from 'node:crypto';
import type { Logger } from '../log';
import { AppError, toErrorResponse } from './errors';

/** Per-request state that handlers and middleware share. */
export interface RequestState {
  requestId: string;
  log: Logger;
  /** Set by consumer auth. */
  auth?: import('./auth').ConsumerAuth;
  /** Parsed JSON body. */
  body?: unknown;
  /** The body's bytes as received (provider callbacks check signatures over them). */
  rawBody?: Buffer;
}

/**
 * Gives every request an id (or keeps a sane inbound `x-request-id`) and a child logger carrying it. The
 * child is made on first use (most requests never log below the request line), with the bindings added
 * by later middleware (see bindLog).
 */
export function requestContext(log: Logger): Koa.Middleware {
  return async (ctx, next) => {
    const inbound = ctx.get('x-request-id');
    const requestId = /^[\w.-]{8,64}$/.test(inbound) ? inbound : `req_${randomUUID().replace(/-/g, '')}`;
    const state = ctx.state as RequestState;
    state.requestId = requestId;
    lazyLog(state, log, { requestId });
    ctx.set('x-request-id', requestId);
    const started = process.hrtime.bigint();
    try {
      await next();
    } finally {
      if (log.isLevelEnabled('info')) {
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        state.log.info({ method: ctx.method, path: loggablePath(ctx.path), status: ctx.status, ms: Math.round(ms * 10) / 10, keyId: state.auth?.apiKeyId }, 'request');
      }
    }
  };
}

/** Adds fields to every later line of the request's log (without making the child logger yet). */
export function bindLog(state: RequestState, bindings: Record<string, unknown>): void {
  const pending = (state as { [LOG_BINDINGS]?: Record<string, unknown> })[LOG_BINDINGS];
  if (pending) Object.assign(pending, bindings);
  else state.log = state.log.child(bindings);
}

const LOG_BINDINGS = Symbol('log bindings');

/** `state.log` as a getter that makes `parent.child(bindings)` once, when something first logs. */
function lazyLog(state: RequestState, parent: Logger, bindings: Record<string, unknown>): void {
  const holder = state as { [LOG_BINDINGS]?: Record<string, unknown> };
  holder[LOG_BINDINGS] = bindings;
  let child: Logger | undefined;
  Object.defineProperty(state, 'log', {
    configurable: true,
    enumerable: true,
    get: () => {
      if (!child) {
        child = parent.child(bindings);
        delete holder[LOG_BINDINGS];
      }
      return child;
    },
    set: (value: Logger) => {
      child = value;
      delete holder[LOG_BINDINGS];
    },
  });
}

/** Turns every thrown error into the brief's error format. Handlers never catch just to set a status. */
export function errorHandler(): Koa.Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        throw new AppError(404, 'not_found', `No route for ${ctx.method} ${ctx.path}`, 'gateway_error');
      }
      // The router answers 501 to a method it does not implement (TRACE, PROPFIND...): the caller's
      // mistake, not a failure of ours, so the same 405 as a known method on the wrong path.
      if ((ctx.status === 405 || ctx.status === 501) && ctx.body === undefined) {
        throw new AppError(405, 'method_not_allowed', `Method ${ctx.method} is not allowed on ${ctx.path}`, 'gateway_error');
      }
    } catch (error) {
      const response = toErrorResponse(error);
      // Refused before its body was read (a 401 ahead of a 1 MB upload): close the connection after the
      // answer rather than have node read and discard the rest to keep it alive.
      const hasBody = Number(ctx.get('content-length') || '0') > 0 || ctx.get('transfer-encoding') !== '';
      if (hasBody && !ctx.req.readableEnded) ctx.set('connection', 'close');
      const state = ctx.state as RequestState;
      if (response.unexpected) state.log?.error({ err: error }, 'unexpected error');
      ctx.status = response.status;
      for (const [name, value] of Object.entries(response.headers)) ctx.set(name, value);
      ctx.body = response.body;
    }
  };
}

/**
 * Deepest nesting a JSON body may have. Real requests (chat tools' JSON schemas included) stay far
 * below; code that walks a body recursively (request hashing, JSON.stringify, zod) runs out of stack
 * near a few thousand levels, which fits in a 1 MB body.
 */
export const MAX_JSON_DEPTH = 64;

/**
 * Reads a JSON body with a size limit: malformed JSON is a 400, multipart a 415, a body over the
 * limit a 413 without reading the rest, and one nested deeper than MAX_JSON_DEPTH a 400.
 */
export function jsonBody(opts: { maxBytes: number }): Koa.Middleware {
  return async (ctx, next) => {
    if (ctx.method === 'GET' || ctx.method === 'HEAD' || ctx.method === 'DELETE' || ctx.method === 'OPTIONS') return next();
    const declared = Number(ctx.get('content-length') || '0');
    if (declared > opts.maxBytes) {
      throw new AppError(413, 'request_too_large', `Request body is larger than ${opts.maxBytes} bytes`, 'invalid_request_error');
    }
    const raw = await readLimited(ctx.req, opts.maxBytes);
    const state = ctx.state as RequestState;
    state.rawBody = raw;
    if (raw.length === 0) {
      state.body = {};
      return next();
    }
    // Bodies are parsed as JSON whatever the content-type says: `curl -d` labels JSON as a form.
    if (/^multipart\//i.test(ctx.get('content-type'))) {
      throw new AppError(415, 'unsupported_media_type', 'Send the body as application/json', 'invalid_request_error');
    }
    if (nestingExceeds(raw, MAX_JSON_DEPTH)) {
      throw new AppError(400, 'invalid_json', `The body nests deeper than ${MAX_JSON_DEPTH} levels`, 'invalid_request_error');
    }
    try {
      state.body = JSON.parse(raw.toString('utf8'));
    } catch {
      throw new AppError(400, 'invalid_json', 'The body is not valid JSON', 'invalid_request_error');
    }
    return next();
  };
}

/**
 * Whether `{` / `[` outside strings nest deeper than `max`. Scans bytes: in UTF-8 the bytes of `"`, `\`
 * and the brackets never occur inside a multi-byte character.
 */
function nestingExceeds(raw: Buffer, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < raw.length; i++) {
    const byte = raw[i]!;
    if (inString) {
      if (byte === 0x5c) i++;
      else if (byte === 0x22) inString = false;
    } else if (byte === 0x22) {
      inString = true;
    } else if (byte === 0x7b || byte === 0x5b) {
      if (++depth > max) return true;
    } else if (byte === 0x7d || byte === 0x5d) {
      depth--;
    }
  }
  return false;
}

/**
 * The request's raw body, read once with the same size limit as jsonBody (413 past it): for a route
 * mounted before authentication (provider callbacks) that checks its own token before reading anything.
 */
export async function readRawBody(ctx: Koa.Context, maxBytes: number): Promise<Buffer> {
  const state = ctx.state as RequestState;
  if (state.rawBody) return state.rawBody;
  if (Number(ctx.get('content-length') || '0') > maxBytes) {
    throw new AppError(413, 'request_too_large', `Request body is larger than ${maxBytes} bytes`, 'invalid_request_error');
  }
  state.rawBody = await readLimited(ctx.req, maxBytes);
  return state.rawBody;
}

async function readLimited(stream: NodeJS.ReadableStream, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBytes) {
        throw new AppError(413, 'request_too_large', `Request body is larger than ${maxBytes} bytes`, 'invalid_request_error');
      }
      chunks.push(chunk);
    }
  } catch (error) {
    if (error instanceof AppError) throw error;
    // The client went away mid-body (or requestTimeout cut it off). Its ECONNRESET would otherwise be
    // taken for a database outage: a 503 counted and logged as ours.
    throw new AppError(400, 'request_aborted', 'The connection closed before the request body was complete', 'invalid_request_error');
  }
  return Buffer.concat(chunks);
}

/**
 * The path as request logs show it: a provider callback URL ends in its per-job token, which would let a
 * log reader signal live tasks, so that segment is blanked.
 */
export function loggablePath(path: string): string {
  return path.startsWith('/v1/provider-callbacks/') ? path.replace(/\/[^/]*$/, '/[token]') : path;
}
