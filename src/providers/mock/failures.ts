import { ProviderError } from '../types';

/** Codes a mock channel or prompt can make `submit` throw, as the real adapters classify them. */
export const SUBMIT_ERROR_CODES = [
  'rate_limited',
  'upstream_unavailable',
  'timeout',
  'connection_error',
  'invalid_request',
  'content_policy_violation',
  'upstream_auth_failed',
  'bad_response',
] as const;
export type SubmitErrorCode = (typeof SUBMIT_ERROR_CODES)[number];

/** How a mock job can fail in flight: `job_failed` is final, `upstream_unavailable` is worth a resubmission. */
export const JOB_FAILURE_CODES = ['job_failed', 'upstream_unavailable'] as const;
export type JobFailureCode = (typeof JOB_FAILURE_CODES)[number];

/** What the gateway waits after a simulated 429 before trying again. */
export const MOCK_RETRY_AFTER_MS = 1000;

const SUBMIT_ERRORS: Record<SubmitErrorCode, { retryable: boolean; httpStatus?: number }> = {
  rate_limited: { retryable: true, httpStatus: 429 },
  upstream_unavailable: { retryable: true, httpStatus: 503 },
  timeout: { retryable: true },
  connection_error: { retryable: true },
  invalid_request: { retryable: false, httpStatus: 400 },
  content_policy_violation: { retryable: false, httpStatus: 400 },
  upstream_auth_failed: { retryable: false, httpStatus: 401 },
  bad_response: { retryable: true, httpStatus: 502 },
};

/** The error a real adapter would throw for this code; `source` names the marker or setting that asked for it. */
export function submitErrorForCode(code: SubmitErrorCode, source: string, httpStatus?: number): ProviderError {
  const known = SUBMIT_ERRORS[code];
  const status = httpStatus ?? known.httpStatus;
  return new ProviderError({
    code,
    message: `mock: simulated ${code} at submit (${source})`,
    retryable: known.retryable,
    retryAfterMs: code === 'rate_limited' ? MOCK_RETRY_AFTER_MS : undefined,
    httpStatus: status,
    providerCode: `mock_${code}`,
  });
}

/** Classifies an upstream HTTP status the way the real adapters do (retry 408, 429 and 5xx). */
export function submitErrorForStatus(status: number, source: string): ProviderError {
  let code: SubmitErrorCode = 'invalid_request';
  if (status === 429) code = 'rate_limited';
  else if (status === 408 || status === 504) code = 'timeout';
  else if (status === 401 || status === 403) code = 'upstream_auth_failed';
  else if (status >= 500) code = 'upstream_unavailable';
  return submitErrorForCode(code, source, status);
}

/** The classified failure a failed mock job reports. */
export function jobFailureInfo(code: JobFailureCode): ProviderError {
  return code === 'job_failed'
    ? new ProviderError({
        code,
        message: 'mock: the job failed (simulated)',
        retryable: false,
        providerCode: 'mock_job_failed',
      })
    : new ProviderError({
        code,
        message: 'mock: the worker running the job went away (simulated infrastructure failure)',
        retryable: true,
        providerCode: 'mock_infra',
      });
}

/** Input the mock cannot act on, reported like an upstream 400. */
export function invalidRequest(message: string): ProviderError {
  return new ProviderError({ code: 'invalid_request', message: `mock: ${message}`, retryable: false, httpStatus: 400 });
}
