/** How Kling failures are recognised: by the envelope's `code`, never by the HTTP status alone. */
import { clip, scrub, type HttpReply } from '../http';
import { ProviderError } from '../types';
import { KlingEnvelope } from './dto';

interface Classified {
  code: string;
  retryable: boolean;
}

/**
 * Kling's documented codes. 1003/1004 (token not yet valid / expired) pass with a freshly signed token.
 * 1100-1102 (account exception, arrears, resource pack depleted) arrive as HTTP 429 but are final: no
 * retry pays a bill (`upstream_auth_failed`, so the gateway disables the channel until the operator tops it
 * up). 1302/1303 (rate, concurrency over the pack) pass with a backoff. 5000-5002 are Kling's.
 */
export function classifyKlingCode(code: number): Classified | undefined {
  if (code === 1000 || code === 1001 || code === 1002) return { code: 'upstream_auth_failed', retryable: false };
  // Not a refused credential (which disables the channel): the token was signed for this call, so the clock
  // is off; another channel may pass.
  if (code === 1003 || code === 1004) return { code: 'upstream_unavailable', retryable: true };
  if (code === 1100 || code === 1101 || code === 1102) return { code: 'upstream_auth_failed', retryable: false };
  if (code === 1103 || code === 1304) return { code: 'upstream_auth_failed', retryable: false };
  if (code >= 1200 && code <= 1203) return { code: 'invalid_request', retryable: false };
  if (code === 1300 || code === 1301) return { code: 'content_policy_violation', retryable: false };
  if (code === 1302 || code === 1303) return { code: 'rate_limited', retryable: true };
  if (code >= 5000 && code <= 5002) return { code: 'upstream_unavailable', retryable: true };
  return undefined;
}

/** Kling asks for at least one second of backoff on rate and concurrency limits. */
const MIN_BACKOFF_MS = 1000;

/**
 * The error of a reply whose envelope carries a non-zero code (HTTP 200 included). Returns undefined when
 * the body is no Kling envelope (a proxy page): the caller then classifies by HTTP status.
 */
export function klingError(operation: string, reply: HttpReply, secrets: readonly string[], retryAfterMs?: number): ProviderError | undefined {
  let envelope;
  try {
    envelope = KlingEnvelope.safeParse(JSON.parse(reply.text));
  } catch {
    return undefined;
  }
  if (!envelope.success || envelope.data.code === 0) return undefined;
  const { code, message } = envelope.data;
  const classified = classifyKlingCode(code) ?? fallback(reply.status);
  return new ProviderError({
    ...classified,
    httpStatus: reply.status,
    providerCode: String(code),
    ...(classified.code === 'rate_limited' ? { retryAfterMs: Math.max(retryAfterMs ?? 0, MIN_BACKOFF_MS) } : {}),
    message: clip(scrub(`kling ${operation}: HTTP ${reply.status} code ${code}: ${message ?? 'no message'}`, secrets)),
  });
}

/** An undocumented code: the HTTP status decides, as for any other provider. */
function fallback(status: number): Classified {
  if (status === 429 || status >= 500 || status === 408) return { code: status === 429 ? 'rate_limited' : 'upstream_unavailable', retryable: true };
  if (status === 401 || status === 403) return { code: 'upstream_auth_failed', retryable: false };
  if (status === 404) return { code: 'not_found', retryable: false };
  return { code: 'invalid_request', retryable: false };
}

const POLICY_WORDS = /risk|secur|sensitive|policy|moderat|violat|inappropriate/i;
const INFRA_WORDS = /internal|timeout|timed out|system|busy|overload|unavailable/i;

/** A failed task's `task_status_msg`: content policy is final; an infrastructure failure may pass elsewhere. */
export function classifyTaskFailure(statusMessage: string): Classified {
  if (POLICY_WORDS.test(statusMessage)) return { code: 'content_policy_violation', retryable: false };
  return { code: 'job_failed', retryable: INFRA_WORDS.test(statusMessage) };
}
