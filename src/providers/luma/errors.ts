/** How Luma failures are recognised (the API gives text, not codes). */
import type { ErrorDetails } from '../http';
import { LumaErrorBody } from './dto';

/** Moderation wording in a `detail` or a `failure_reason`. */
export function isLumaPolicy(text: string | undefined): boolean {
  return text !== undefined && /moderat|policy|nsfw|safety|blocked|prohibited|inappropriate/i.test(text);
}

/** A failure on Luma's side (internal error, timeout, overload): worth another channel; others are final. */
export function isLumaInfraFailure(text: string | undefined): boolean {
  return text !== undefined && !isLumaPolicy(text) && /internal|server|timed? ?out|overload|capacity|unavailable|try again/i.test(text);
}

/** Reads `{"detail": ...}` from a Luma HTTP error. */
export function readLumaError(body: unknown): ErrorDetails {
  const parsed = LumaErrorBody.safeParse(body);
  if (!parsed.success) return {};
  const { detail } = parsed.data;
  const text = typeof detail === 'string' ? detail : detail.map((d) => `${d.msg ?? 'invalid'} (${(d.loc ?? []).join('.')})`).join('; ');
  return { providerMessage: text, contentPolicy: isLumaPolicy(text) };
}
