import type Koa from 'koa';
import { AppError } from './errors';
import type { RequestState } from './middleware';

/**
 * Requests per minute per key, as a token bucket: a key may burst up to its rpm, then gets rpm/60
 * requests a second. Kept in this process's memory: with N API replicas behind a balancer, each
 * enforces the limit on its own share, so the effective limit is up to N x rpm (documented in README).
 */
export function rateLimit(opts: { now?: () => number } = {}): Koa.Middleware {
  const now = opts.now ?? Date.now;
  const buckets = new Map<string, { tokens: number; updatedAt: number; rpm: number }>();
  return async (ctx, next) => {
    const auth = (ctx.state as RequestState).auth;
    if (!auth?.rpm) return next();
    const at = now();
    const perMs = auth.rpm / 60_000;
    let bucket = buckets.get(auth.apiKeyId);
    if (!bucket || bucket.rpm !== auth.rpm) bucket = { tokens: auth.rpm, updatedAt: at, rpm: auth.rpm };
    bucket.tokens = Math.min(auth.rpm, bucket.tokens + (at - bucket.updatedAt) * perMs);
    bucket.updatedAt = at;
    buckets.set(auth.apiKeyId, bucket);
    if (bucket.tokens < 1) {
      const retryAfterSeconds = Math.max(1, Math.ceil((1 - bucket.tokens) / perMs / 1000));
      ctx.set('x-ratelimit-limit-requests', String(auth.rpm));
      ctx.set('x-ratelimit-remaining-requests', '0');
      throw new AppError(429, 'rate_limit_exceeded', `Rate limit of ${auth.rpm} requests per minute exceeded for this key`, 'gateway_error', undefined, {
        'retry-after': String(retryAfterSeconds),
      });
    }
    bucket.tokens -= 1;
    ctx.set('x-ratelimit-limit-requests', String(auth.rpm));
    ctx.set('x-ratelimit-remaining-requests', String(Math.floor(bucket.tokens)));
    if (buckets.size > 100_000) buckets.clear();
    return next();
  };
}
