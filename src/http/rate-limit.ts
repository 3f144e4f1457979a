import type Koa from 'koa';
import { AppError } from './errors';
import type { RequestState } from './middleware';
import type { SharedLimits } from '../limits/shared-buckets';

/**
 * Requests per minute per key, as a token bucket shared by every API replica (src/limits/shared-buckets.ts):
 * a key may burst up to its rpm, then gets rpm/60 requests a second, whichever replica answers.
 */
export function rateLimit(opts: { limits: SharedLimits }): Koa.Middleware {
  return async (ctx, next) => {
    const auth = (ctx.state as RequestState).auth;
    if (!auth?.rpm) return next();
    const outcome = await opts.limits.take(auth.apiKeyId, 'rpm', auth.rpm);
    ctx.set('x-ratelimit-limit-requests', String(auth.rpm));
    if (!outcome.ok) {
      ctx.set('x-ratelimit-remaining-requests', '0');
      throw new AppError(429, 'rate_limit_exceeded', `Rate limit of ${auth.rpm} requests per minute exceeded for this key`, 'gateway_error', undefined, {
        'retry-after': String(outcome.retryAfterSeconds),
      });
    }
    ctx.set('x-ratelimit-remaining-requests', String(outcome.remaining));
    return next();
  };
}

/** Refuses a chat request when the key's tokens-per-minute share is spent (its real count is charged after the answer). */
export async function assertTokensLeft(limits: SharedLimits, auth: { apiKeyId: string; tpm: number | null }): Promise<void> {
  if (!auth.tpm) return;
  const outcome = await limits.take(auth.apiKeyId, 'tpm', auth.tpm, 1);
  if (outcome.ok) {
    // The admission token is part of the request's count, charged in full afterwards.
    limits.spend(auth.apiKeyId, 'tpm', auth.tpm, -1);
    return;
  }
  throw new AppError(429, 'rate_limit_exceeded', `Rate limit of ${auth.tpm} tokens per minute exceeded for this key`, 'gateway_error', undefined, {
    'retry-after': String(outcome.retryAfterSeconds),
  });
}
