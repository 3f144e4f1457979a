/** How Replicate failures are recognised (it has no error codes, so the wording decides). */
import type { ErrorDetails } from '../http';
import { ProblemDetails } from './dto';

/** Safety-checker refusals: "NSFW content detected", "flagged as sensitive (E005)", ... */
const POLICY = /nsfw|content (was )?flagged|flagged (as|for)|sensitive content|safety (checker|filter|system)|content policy|inappropriate content/i;
/**
 * Failures of the machine rather than the request: out of memory, CUDA errors, timeouts, lost workers,
 * "Prediction interrupted; please retry (code: PA)". These are worth resubmitting; anything else is not.
 */
const INFRA = /out of memory|\bOOM\b|CUDA|timed? ?out|timeout|internal (server )?error|connection (reset|refused|error|aborted)|ECONNRESET|service unavailable|no space left|worker (died|crashed|lost)|interrupted|please retry/i;

export function isReplicatePolicy(message: string | undefined): boolean {
  return message !== undefined && POLICY.test(message);
}

export function isReplicateInfraFailure(message: string | undefined): boolean {
  return message !== undefined && INFRA.test(message);
}

/** Reads problem details; `detail` may be a string or a structure. */
export function readReplicateError(body: unknown): ErrorDetails {
  const parsed = ProblemDetails.safeParse(body);
  if (!parsed.success) return {};
  const { title, detail } = parsed.data;
  const detailText = typeof detail === 'string' ? detail : detail !== undefined ? JSON.stringify(detail) : undefined;
  const message = detailText ?? title ?? undefined;
  return {
    providerCode: title ?? undefined,
    providerMessage: message,
    contentPolicy: isReplicatePolicy(`${title ?? ''} ${detailText ?? ''}`),
  };
}

/** A prediction's `error` as text (usually a string; sometimes a structure). */
export function errorText(error: unknown): string | undefined {
  if (error === null || error === undefined) return undefined;
  return typeof error === 'string' ? error : JSON.stringify(error);
}
