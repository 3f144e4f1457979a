/** How OpenAI failures are recognised: error body fields, content-policy codes, infrastructure codes. */
import type { ErrorDetails } from '../http';
import { OpenAIErrorBody } from './dto';

/** Codes OpenAI uses for a safety refusal; never retried. */
export const POLICY_CODES = new Set(['moderation_blocked', 'content_policy_violation']);
/** Wording of safety refusals when the code is missing. */
const POLICY_WORDS = /safety system|content policy|moderation/i;
/** A failed video job whose code matches this was an infrastructure problem, so a resubmission may work. */
const INFRA_CODES = /internal|server_error|timeout|timed_out|unavailable|overloaded|capacity/i;

/** Reads `{"error":{...}}`; anything else gives no details (the status code still classifies it). */
export function readOpenAIError(body: unknown): ErrorDetails {
  const parsed = OpenAIErrorBody.safeParse(body);
  if (!parsed.success) return {};
  const { code, message, type } = parsed.data.error;
  const providerCode = code !== null && code !== undefined ? String(code) : (type ?? undefined);
  return {
    providerCode,
    providerMessage: message ?? undefined,
    contentPolicy: isPolicy(providerCode, message ?? undefined),
  };
}

export function isPolicy(code: string | undefined, message: string | undefined): boolean {
  return (code !== undefined && POLICY_CODES.has(code)) || (message !== undefined && POLICY_WORDS.test(message));
}

/** Whether a failed video job is worth resubmitting (documented in the providers README). */
export function isInfraFailure(code: string | undefined): boolean {
  return code !== undefined && INFRA_CODES.test(code);
}
