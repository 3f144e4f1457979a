/**
 * How MiniMax failures are recognised: by `base_resp.status_code`, which usually arrives inside an HTTP 200
 * (MiniMax's own client checks the HTTP status, then `base_resp`). Codes from MiniMax's error-code page.
 */
import type { ProviderErrorInfo } from '../types';
import { clip, scrub } from '../http';

type Class = Pick<ProviderErrorInfo, 'code' | 'retryable'>;

const BY_CODE: Record<number, Class> = {
  // unknown / timeout / internal / system error
  1000: { code: 'upstream_unavailable', retryable: true },
  1001: { code: 'timeout', retryable: true },
  1024: { code: 'upstream_unavailable', retryable: true },
  1033: { code: 'upstream_unavailable', retryable: true },
  // rate / token / connection / rate-growth limits
  1002: { code: 'rate_limited', retryable: true },
  1039: { code: 'rate_limited', retryable: true },
  1041: { code: 'rate_limited', retryable: true },
  2045: { code: 'rate_limited', retryable: true },
  // token-group mismatch (wrong region or group) / invalid key
  1004: { code: 'upstream_auth_failed', retryable: false },
  2049: { code: 'upstream_auth_failed', retryable: false },
  // the MiniMax account has no balance left: nothing another try of this request can fix
  1008: { code: 'upstream_insufficient_balance', retryable: false },
  // input / output sensitive
  1026: { code: 'content_policy_violation', retryable: false },
  1027: { code: 'content_policy_violation', retryable: false },
  // invisible characters / invalid parameters (also an unknown model)
  1042: { code: 'invalid_request', retryable: false },
  2013: { code: 'invalid_request', retryable: false },
  // usage limit of the plan's 5-hour window: final until it resets
  2056: { code: 'upstream_quota_exceeded', retryable: false },
  // real-name verification needed / model not on the plan
  2038: { code: 'invalid_request', retryable: false },
  2061: { code: 'invalid_request', retryable: false },
};

/** The classification of a `base_resp.status_code`; an unlisted code is a final `job_failed`. */
export function classifyMiniMaxCode(statusCode: number): Class {
  return BY_CODE[statusCode] ?? { code: 'job_failed', retryable: false };
}

/** A ProviderErrorInfo from a non-zero `base_resp`, scrubbed and clipped. */
export function miniMaxError(
  what: string,
  base: { status_code: number; status_msg?: string | null },
  secrets: readonly string[],
  extra: { httpStatus?: number; retryAfterMs?: number } = {},
): ProviderErrorInfo {
  const cls = classifyMiniMaxCode(base.status_code);
  return {
    ...cls,
    providerCode: String(base.status_code),
    ...(extra.httpStatus !== undefined ? { httpStatus: extra.httpStatus } : {}),
    ...(cls.retryable && extra.retryAfterMs !== undefined ? { retryAfterMs: extra.retryAfterMs } : {}),
    message: clip(scrub(`minimax ${what}: ${base.status_code} ${base.status_msg ?? 'no message'}`, secrets)),
  };
}
