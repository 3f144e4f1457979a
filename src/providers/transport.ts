/**
 * How adapters reach providers: through the gateway's one guarded client (src/net/outbound-client.ts).
 * A channel's base URL is the operator's choice and may be private, so the first hop is trusted; every
 * redirect hop is checked like a consumer's URL (a provider, or whoever answers in its name, cannot bounce
 * our request onto our own network), credentials never follow a redirect to another origin, and an answer
 * is read only up to a size cap.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { createOutboundClient, type OutboundClient } from '../net/outbound-client';
import { createOutboundGuard, type OutboundGuard } from '../net/outbound-guard';

/** Largest provider answer read: a JSON answer with inline base64 images (OpenAI's b64_json) runs to tens of MB. */
export const MAX_PROVIDER_ANSWER_BYTES = 64 * 1024 * 1024;
/** Redirects a provider GET may take (each hop checked by the guard). */
const MAX_REDIRECTS = 5;

/** Until the process says otherwise, redirects may reach public addresses only. */
let client: OutboundClient = createOutboundClient(createOutboundGuard({ allowlist: [] }));

/** Sets the guard of provider redirects (the process's OUTBOUND_ALLOWLIST); called once at start-up. */
export function useProviderOutboundGuard(guard: OutboundGuard): void {
  client = createOutboundClient(guard);
}

export interface ProviderRequest {
  url: string;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  headers: Record<string, string>;
  body?: string | Buffer;
  timeoutMs: number;
}

export interface ProviderAnswer {
  status: number;
  headers: Headers;
  bytes: Buffer;
}

/** Makes one request and reads the whole answer; throws for refusals, timeouts, network failures and oversize answers. */
export async function providerRequest(request: ProviderRequest): Promise<ProviderAnswer> {
  const response = await client.request(request.url, {
    method: request.method,
    headers: request.headers,
    body: request.body,
    timeoutMs: request.timeoutMs,
    maxRedirects: MAX_REDIRECTS,
    trustFirstHop: true,
  });
  const bytes = await readCapped(response.body, MAX_PROVIDER_ANSWER_BYTES);
  return { status: response.status, headers: toHeaders(response.headers), bytes };
}

/** The answer is larger than MAX_PROVIDER_ANSWER_BYTES. */
export class ProviderAnswerTooLargeError extends Error {
  readonly code = 'EANSWERTOOLARGE';
  constructor(limit: number) {
    super(`The answer is larger than ${limit} bytes`);
    this.name = 'ProviderAnswerTooLargeError';
  }
}

async function readCapped(body: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      body.destroy();
      throw new ProviderAnswerTooLargeError(limit);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, size);
}

function toHeaders(raw: IncomingHttpHeaders): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) headers.append(name, one);
  }
  return headers;
}
