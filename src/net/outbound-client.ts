import http from 'node:http';
import https from 'node:https';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import type { Readable } from 'node:stream';
import type { OutboundGuard } from './outbound-guard';

/** The statuses that carry a `Location` to follow. */
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** True for an HTTP answer that redirects (the one place that says which statuses do). */
export function isRedirect(status: number): boolean {
  return REDIRECT_STATUSES.has(status);
}

/** The guard refused a URL or an address, on the first hop or on a redirect. */
export class OutboundRefusedError extends Error {
  readonly code = 'EREFUSEDPRIVATE';
  constructor(message: string) {
    super(message);
    this.name = 'OutboundRefusedError';
  }
}

/** The whole exchange (every hop and the body) took longer than its time limit. */
export class OutboundTimeoutError extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(timeoutMs: number) {
    super(`No complete answer within ${timeoutMs} ms`);
    this.name = 'OutboundTimeoutError';
  }
}

/** One outbound request as a caller describes it. */
export interface OutboundRequest {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Limit for the whole exchange: every hop, the headers and the body; the body stream fails past it. */
  timeoutMs: number;
  /** Redirects to follow (each hop checked again); 0 returns a 3xx answer as it is. Only GETs follow. */
  maxRedirects?: number;
  /**
   * The first URL is the operator's own choice (a channel's base URL, which may be private): it is not
   * checked, its redirects are. Headers (credentials) never follow a redirect to another origin.
   */
  trustFirstHop?: boolean;
}

/** Headers that may follow a redirect to another origin; everything else (credentials) stays behind. */
const CROSS_ORIGIN_HEADERS = new Set(['accept', 'user-agent']);

/** An answer whose body is still to be read (or `resume()`d away). */
export interface OutboundResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Readable;
  /** The URL that answered, after redirects. */
  url: string;
  /** Stops the time limit once the caller has what it needs (otherwise it ends with the body). */
  done(): void;
}

/**
 * The gateway's one way to reach a URL it does not control: callbacks, provider output downloads, provider
 * API calls (src/providers/transport.ts; the channel's URL trusted, its redirects not), and the redirect
 * policy the chat proxy shares. Every hop is checked by the guard (scheme, credentials, every
 * resolved address), then checked again inside the socket's own DNS lookup, so a host that resolved to a
 * public address a moment ago cannot be re-pointed at our private network (DNS rebinding).
 */
export interface OutboundClient {
  request(url: string, opts: OutboundRequest): Promise<OutboundResponse>;
}

export function createOutboundClient(guard: OutboundGuard): OutboundClient {
  const lookup: LookupFunction = (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, '', 0);
      const list = addresses as unknown as LookupAddress[];
      const refused = list.find((entry) => !guard.addressAllowed(hostname, entry.address));
      if (refused || list.length === 0) return callback(new OutboundRefusedError(`Refused to connect to ${hostname}: private address`), '', 0);
      if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list);
      callback(null, list[0]!.address, list[0]!.family);
    });
  };

  return {
    async request(url, opts) {
      const method = opts.method ?? 'GET';
      const maxRedirects = method === 'GET' ? opts.maxRedirects ?? 0 : 0;
      // One limit over every hop and the body: aborting destroys the request and whatever answer it has.
      const limit = new AbortController();
      let answer: http.IncomingMessage | undefined;
      const timer = setTimeout(() => {
        limit.abort();
        answer?.destroy(new OutboundTimeoutError(opts.timeoutMs));
      }, opts.timeoutMs);
      // The request's own socket keeps the process up while it matters; the limit alone never should.
      timer.unref();
      const done = () => clearTimeout(timer);
      let current = url;
      let headers = opts.headers ?? {};
      try {
        for (let hop = 0; ; hop++) {
          const trusted = hop === 0 && opts.trustFirstHop === true;
          if (!trusted) {
            const verdict = await guard.check(current);
            if (!verdict.ok) throw new OutboundRefusedError(`Refused ${hop === 0 ? 'the URL' : `redirect ${hop}`}: it ${verdict.reason}`);
          }
          if (limit.signal.aborted) throw new OutboundTimeoutError(opts.timeoutMs);
          answer = await send(current, { method, headers, body: opts.body }, trusted ? undefined : lookup, limit.signal);
          const status = answer.statusCode ?? 0;
          const location = answer.headers.location;
          if (!isRedirect(status) || !location || maxRedirects === 0) {
            answer.once('close', done);
            return { status, headers: answer.headers, body: answer, url: current, done };
          }
          answer.resume();
          if (hop >= maxRedirects) throw new OutboundRefusedError(`Refused: more than ${maxRedirects} redirects`);
          const next = URL.canParse(location, current) ? new URL(location, current) : null;
          if (!next) throw new OutboundRefusedError(`Refused redirect ${hop + 1}: its Location is not a URL`);
          if (next.origin !== new URL(current).origin) headers = Object.fromEntries(Object.entries(headers).filter(([name]) => CROSS_ORIGIN_HEADERS.has(name.toLowerCase())));
          current = next.toString();
        }
      } catch (error) {
        done();
        if (limit.signal.aborted) throw new OutboundTimeoutError(opts.timeoutMs);
        throw error;
      }
    },
  };
}

function send(
  url: string,
  opts: { method: string; headers: Record<string, string>; body?: string | Buffer },
  lookup: LookupFunction | undefined,
  signal: AbortSignal,
): Promise<http.IncomingMessage> {
  const target = new URL(url);
  const client = target.protocol === 'https:' ? https : http;
  const headers: Record<string, string | number> = { ...opts.headers };
  if (opts.body !== undefined) headers['content-length'] = Buffer.byteLength(opts.body);
  return new Promise((resolve, reject) => {
    // node connects to an IP literal without calling `lookup`: the guard's check before this call covered it.
    const request = client.request(target, { method: opts.method, headers, lookup, signal }, resolve);
    request.on('error', reject);
    request.end(opts.body);
  });
}
