import { ApplicationFailure } from '@temporalio/activity';
import { ProviderError, type ProviderErrorInfo } from '../src/providers/types';
import type { AttemptFailure } from '../workflows/types';

const TYPE_BY_CODE: Record<string, string> = {
  rate_limited: 'ProviderRateLimited',
  upstream_unavailable: 'ProviderUnavailable',
  timeout: 'ProviderTimeout',
  connection_error: 'ProviderConnectionError',
  bad_response: 'ProviderBadResponse',
  content_policy_violation: 'ContentPolicyViolation',
  upstream_auth_failed: 'ProviderAuthFailed',
  invalid_request: 'ProviderInvalidRequest',
  job_failed: 'ProviderJobFailed',
  job_expired: 'ProviderJobExpired',
};

/** The PascalCase failure type operators see in the Temporal UI, e.g. `ProviderRateLimited`. */
export function failureTypeFor(code: string): string {
  return TYPE_BY_CODE[code] ?? code.split(/[^a-zA-Z0-9]+/).map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('');
}

export function toAttemptFailure(info: ProviderErrorInfo): AttemptFailure {
  return {
    code: info.code,
    message: info.message,
    retryable: info.retryable,
    ...(info.retryAfterMs !== undefined ? { retryAfterMs: info.retryAfterMs } : {}),
    ...(info.providerCode !== undefined ? { providerCode: info.providerCode } : {}),
  };
}

/**
 * A provider's failure as a non-retryable ApplicationFailure: Temporal must not retry it in place,
 * the workflow decides (next channel, or fail the task) from the details.
 */
export function providerFailure(error: ProviderError): ApplicationFailure {
  return ApplicationFailure.create({
    type: failureTypeFor(error.code),
    message: error.message,
    nonRetryable: true,
    details: [toAttemptFailure(error.toInfo())],
  });
}
