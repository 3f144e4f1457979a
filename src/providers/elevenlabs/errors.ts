/** How ElevenLabs music failures are recognised. */
import type { ErrorDetails } from '../http';
import { ProviderError } from '../types';
import { ElevenLabsErrorBody } from './dto';

/**
 * `bad_prompt` (a named artist, copyrighted lyrics) and `bad_composition_plan` are refusals of the content:
 * final, like a moderation block (ElevenLabs offers a rewritten prompt instead).
 */
const POLICY = new Set(['bad_prompt', 'bad_composition_plan']);

/** Reads `{"detail":{status, message}}` or a FastAPI validation list. */
export function readElevenLabsError(body: unknown): ErrorDetails {
  const parsed = ElevenLabsErrorBody.safeParse(body);
  if (!parsed.success) return {};
  const { detail } = parsed.data;
  if (typeof detail === 'string') return { providerMessage: detail };
  if (Array.isArray(detail)) {
    const first = detail[0];
    return { providerCode: first?.type ?? 'validation_error', providerMessage: first ? `${first.msg ?? 'invalid'} (${(first.loc ?? []).join('.')})` : undefined };
  }
  const code = detail.status ?? detail.code ?? undefined;
  return { providerCode: code, providerMessage: detail.message ?? undefined, contentPolicy: code !== undefined && POLICY.has(code) };
}

/**
 * ElevenLabs answers an exhausted credit balance with `quota_exceeded`, sometimes as a 401: that is no bad
 * key (the channel must not be disabled as if it were) but a final refusal of this account's request.
 */
export function reclassify(err: unknown): unknown {
  if (err instanceof ProviderError && err.providerCode === 'quota_exceeded' && err.code === 'upstream_auth_failed') {
    return new ProviderError({ ...err.toInfo(), code: 'invalid_request', retryable: false });
  }
  return err;
}
