/** How Gemini API failures are recognised (google.rpc.Status bodies and operation errors). */
import { ProviderError } from '../types';
import type { ErrorDetails, ErrorReader } from '../http';
import { GeminiErrorBody } from './dto';

/** How Google words a prompt refused by its safety rules. */
const POLICY_WORDS = /usage guidelines|safety|responsible ai|blocked|nsfw|sensitive|prohibited/i;

/** Reads `{"error":{code,message,status}}`; the `status` (RESOURCE_EXHAUSTED...) is the provider code. */
export const readGeminiError: ErrorReader = (body): ErrorDetails => {
  const parsed = GeminiErrorBody.safeParse(body);
  if (!parsed.success) return {};
  const { status, message } = parsed.data.error;
  return { providerCode: status ?? undefined, providerMessage: message ?? undefined, contentPolicy: POLICY_WORDS.test(message ?? '') };
};

/**
 * Google's own details refine the status classification: a 400 that is an invalid key (`API_KEY_INVALID`)
 * is an auth failure, and a 429's `RetryInfo.retryDelay` ("27s") says how long to wait (Google sends no
 * Retry-After header).
 */
export function refineGeminiError(err: ProviderError, body: string): ProviderError {
  let parsed;
  try {
    parsed = GeminiErrorBody.safeParse(JSON.parse(body));
  } catch {
    return err;
  }
  if (!parsed.success) return err;
  const details = parsed.data.error.details ?? [];
  const info = err.toInfo();
  if (err.httpStatus === 400 && (details.some((d) => d.reason === 'API_KEY_INVALID') || /API key not valid/i.test(parsed.data.error.message ?? ''))) {
    return new ProviderError({ ...info, code: 'upstream_auth_failed', retryable: false });
  }
  if (err.retryable && info.retryAfterMs === undefined) {
    const delay = details.map((d) => d.retryDelay).find((d): d is string => typeof d === 'string');
    const m = delay ? /^(\d+(?:\.\d+)?)s$/.exec(delay.trim()) : null;
    if (m) return new ProviderError({ ...info, retryAfterMs: Math.ceil(Number(m[1]) * 1000) });
  }
  return err;
}

/** gRPC codes of a done operation's `error` that describe a passing server problem: worth resubmitting. */
const TRANSIENT_RPC_CODES = new Set([
  4, // DEADLINE_EXCEEDED
  8, // RESOURCE_EXHAUSTED
  10, // ABORTED
  13, // INTERNAL
  14, // UNAVAILABLE
]);

export function isTransientRpcCode(code: number | null | undefined): boolean {
  return code !== null && code !== undefined && TRANSIENT_RPC_CODES.has(code);
}
