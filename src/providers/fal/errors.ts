/** How fal failures are recognised. */
import { isRecord, type ErrorDetails } from '../http';
import { FalErrorBody } from './dto';

/** Request-level error types (fal's infrastructure) that a resubmission can fix. */
const INFRA_ERROR_TYPES = new Set([
  'request_timeout',
  'startup_timeout',
  'runner_scheduling_failure',
  'runner_connection_timeout',
  'runner_disconnected',
  'runner_connection_refused',
  'runner_connection_error',
  'runner_incomplete_response',
  'runner_server_error',
  'internal_error',
]);
const POLICY_WORDS = /nsfw|content checker|content policy|flagged|sensitive content/i;

/** What a fal error body says, flattened. */
export interface FalFailure {
  /** The first machine-readable type: `error_type`, else the first `detail[].type`. */
  type?: string;
  message: string;
  policy: boolean;
}

/** Reads either error form: model errors (`detail` array) and request errors (`detail` string + `error_type`). */
export function readFalFailure(body: unknown, errorTypeHeader: string | null): FalFailure {
  const parsed = FalErrorBody.safeParse(body);
  const data = parsed.success ? parsed.data : {};
  const items = Array.isArray(data.detail) ? data.detail.filter(isRecord) : [];
  const types = items.map((i) => i.type).filter((t): t is string => typeof t === 'string');
  const msgs = items.map((i) => i.msg).filter((m): m is string => typeof m === 'string');
  const type = errorTypeHeader ?? data.error_type ?? types[0] ?? undefined;
  const message =
    typeof data.detail === 'string' ? data.detail : msgs.length > 0 ? msgs.join('; ') : data.detail !== undefined ? JSON.stringify(data.detail) : 'no detail';
  const policy = types.includes('content_policy_violation') || type === 'content_policy_violation' || POLICY_WORDS.test(message);
  return { type, message, policy };
}

/**
 * Whether a failed request is worth resubmitting: `X-Fal-Retryable` decides when present; without it,
 * fal's infrastructure error types (timeouts, runner failures) are retryable and model errors are not.
 */
export function isFalRetryable(header: string | null, type: string | undefined): boolean {
  if (header !== null) return header.trim().toLowerCase() === 'true';
  return type !== undefined && INFRA_ERROR_TYPES.has(type);
}

/** Reads an HTTP error of the queue API (submit, status, cancel). */
export function readFalError(body: unknown, reply: { headers: Headers }): ErrorDetails {
  const f = readFalFailure(body, reply.headers.get('x-fal-error-type'));
  return { providerCode: f.type, providerMessage: f.message, contentPolicy: f.policy };
}
