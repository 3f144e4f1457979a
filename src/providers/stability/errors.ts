/** How Stability failures are recognised. */
import type { ErrorDetails } from '../http';
import { ProviderError } from '../types';
import { StabilityErrorBody } from './dto';

/** Reads `{"name", "errors"}`; `content_moderation` is a content-policy refusal. */
export function readStabilityError(body: unknown): ErrorDetails {
  const parsed = StabilityErrorBody.safeParse(body);
  if (!parsed.success) return {};
  const name = parsed.data.name ?? undefined;
  return { providerCode: name, providerMessage: parsed.data.errors?.join('; ') || undefined, contentPolicy: name === 'content_moderation' };
}

/**
 * Stability refuses moderated prompts with a **403** `content_moderation`: a content-policy refusal, not a
 * bad key (which would disable the channel).
 */
export function reclassify(err: unknown): unknown {
  if (err instanceof ProviderError && err.providerCode === 'content_moderation' && err.code === 'upstream_auth_failed') {
    return new ProviderError({ ...err.toInfo(), code: 'content_policy_violation', retryable: false });
  }
  return err;
}
