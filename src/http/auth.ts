import type Koa from 'koa';
import type { EntityManager } from '@mikro-orm/postgresql';
import { timingSafeEqual } from 'node:crypto';
import { ApiKey } from '../db/entities';
import { hashApiKey } from '../security/secrets';
import { clientIp, ipSet, type IpSet } from '../net/ip';
import { AppError, errors } from './errors';
import { bindLog, type RequestState } from './middleware';
import { Lru } from '../cache/lru';
import type { CacheInvalidation } from '../cache/invalidation';

/** Who is calling, as the consumer routes see it. */
export interface ConsumerAuth {
  apiKeyId: string;
  accountId: string;
  group: string;
  /** Allowed model ids and wildcards; null means every model. */
  models: string[] | null;
  clientIp: string;
  rpm: number | null;
  /** Chat tokens per minute (prompt + completion), null: unlimited. */
  tpm: number | null;
  defaultCallbackUrl: string | null;
}

interface KeyRow {
  id: string; accountId: string; group: string; models: string[] | null; ipAllowlist: string[] | null; rpm: number | null;
  tpm: number | null; defaultCallbackUrl: string | null; expiresAt: Date | null; revokedAt: Date | null;
}

interface CachedKey {
  row: KeyRow | null;
  allowlist: IpSet | null;
  loadedAt: number;
}

/** How long a key lookup is reused when no invalidation arrives (a backstop: admin changes NOTIFY every replica). */
export const KEY_CACHE_TTL_MS = 2000;
/** Known keys kept in memory, per process. */
export const KEY_CACHE_SIZE = 10_000;
/** Unknown keys remembered (so a spray of random keys costs no query each), in a cache of their own. */
export const NEGATIVE_KEY_CACHE_SIZE = 10_000;

/**
 * The key lookups of one process: a bounded LRU of known keys and a separate bounded LRU of unknown
 * hashes, so random keys only ever evict other random keys, never a real customer's entry.
 */
export function createKeyCache(deps: { em: () => EntityManager; ttlMs?: number; now?: () => number; invalidation?: CacheInvalidation }) {
  const known = new Lru<string, CachedKey>(KEY_CACHE_SIZE);
  const unknown = new Lru<string, number>(NEGATIVE_KEY_CACHE_SIZE);
  const ttl = deps.ttlMs ?? KEY_CACHE_TTL_MS;
  const now = deps.now ?? Date.now;
  deps.invalidation?.subscribe((change) => {
    if (change === null) {
      known.clear();
      unknown.clear();
    } else if (change.kind === 'key') {
      known.deleteWhere((entry) => entry.row?.id === change.keyId);
      // A rotation's new secret was never looked up before; nothing in `unknown` can be it.
    }
  });

  return {
    async load(hash: string): Promise<CachedKey> {
      const hit = known.get(hash);
      if (hit && now() - hit.loadedAt < ttl) return hit;
      const missAt = unknown.get(hash);
      if (missAt !== undefined && now() - missAt < ttl) return { row: null, allowlist: null, loadedAt: missAt };
      const row = await deps.em().findOne(ApiKey, { keyHash: hash });
      const loadedAt = now();
      if (!row) {
        known.delete(hash);
        unknown.set(hash, loadedAt);
        return { row: null, allowlist: null, loadedAt };
      }
      const entry: CachedKey = {
        row: {
          id: row.id, accountId: row.accountId, group: row.group, models: row.models ?? null,
          ipAllowlist: row.ipAllowlist ?? null, rpm: row.rpm ?? null, tpm: row.tpm ?? null, defaultCallbackUrl: row.defaultCallbackUrl ?? null,
          expiresAt: row.expiresAt ?? null, revokedAt: row.revokedAt ?? null,
        },
        allowlist: row.ipAllowlist?.length ? ipSet(row.ipAllowlist) : null,
        loadedAt,
      };
      unknown.delete(hash);
      known.set(hash, entry);
      return entry;
    },
    sizes: () => ({ known: known.size, unknown: unknown.size }),
  };
}

export type KeyCache = ReturnType<typeof createKeyCache>;

/**
 * Consumer authentication: `Authorization: Bearer <key>` or `x-api-key`. Looks the key up by its
 * SHA-256 (through the key cache), refuses revoked and expired keys, and enforces the IP allowlist.
 * It runs before the request body is read, so a caller without a valid key never gets it parsed.
 */
export function consumerAuth(deps: { keys: KeyCache; trustedProxies: string[]; now?: () => number }): Koa.Middleware {
  const trusted = ipSet(deps.trustedProxies);
  const now = deps.now ?? Date.now;
  const load = (hash: string) => deps.keys.load(hash);

  return async (ctx, next) => {
    const key = presentedKey(ctx);
    if (!key) throw errors.unauthorized('Missing API key: send Authorization: Bearer <key> or x-api-key');
    const { row, allowlist } = await load(hashApiKey(key));
    if (!row) throw errors.unauthorized('Invalid API key');
    if (row.revokedAt) throw errors.unauthorized('This API key has been revoked');
    if (row.expiresAt && row.expiresAt.getTime() <= now()) throw errors.unauthorized('This API key has expired');
    const ip = clientIp(ctx.req.socket.remoteAddress ?? '', ctx.get('x-forwarded-for') || undefined, trusted);
    if (allowlist && !allowlist.has(ip)) {
      throw errors.forbidden('ip_not_allowed', `Requests from ${ip} are not allowed for this key`);
    }
    const state = ctx.state as RequestState;
    state.auth = {
      apiKeyId: row.id, accountId: row.accountId, group: row.group, models: row.models,
      clientIp: ip, rpm: row.rpm, tpm: row.tpm, defaultCallbackUrl: row.defaultCallbackUrl,
    };
    bindLog(state, { keyId: row.id, accountId: row.accountId });
    return next();
  };
}

function presentedKey(ctx: Koa.Context): string | undefined {
  const header = ctx.get('authorization');
  const bearer = /^Bearer\s+(.+)$/i.exec(header);
  if (bearer) return bearer[1]!.trim();
  const apiKey = ctx.get('x-api-key');
  return apiKey ? apiKey.trim() : undefined;
}

/** The caller's auth; routes behind consumerAuth only. */
export function authOf(ctx: { state: unknown }): ConsumerAuth {
  const auth = (ctx.state as RequestState).auth;
  if (!auth) throw new Error('consumerAuth did not run before this handler');
  return auth;
}

/** Model ids a wildcard may match: visible ASCII only, so no look-alike letter or zero-width character. */
const PLAIN_MODEL_ID = /^[\x21-\x7e]+$/;

/**
 * True when `model` is allowed by the key's list of exact ids and `*` wildcards (null: all). A wildcard
 * never matches an id with other characters than visible ASCII (`gpt-4о` with a Cyrillic o, `gpt-4o` with
 * a zero-width space): such an id is allowed only where the key lists it exactly.
 */
export function modelAllowed(allowed: string[] | null, model: string): boolean {
  if (!allowed) return true;
  return allowed.some((pattern) => {
    if (!pattern.includes('*')) return pattern === model;
    if (!PLAIN_MODEL_ID.test(model)) return false;
    const regex = new RegExp(`^${pattern.split('*').map(escapeRegex).join('.*')}$`);
    return regex.test(model);
  });
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Throws 403 `model_not_allowed` when the key may not use the model. */
export function assertModelAllowed(auth: ConsumerAuth, model: string): void {
  if (!modelAllowed(auth.models, model)) {
    throw errors.forbidden('model_not_allowed', `This API key may not use the model ${model}`);
  }
}

/** Admin routes: `Authorization: Bearer <ADMIN_TOKEN>`; a consumer key is refused. */
export function adminAuth(adminToken: string | undefined): Koa.Middleware {
  const expected = adminToken ? Buffer.from(adminToken) : null;
  return async (ctx, next) => {
    const given = /^Bearer\s+(.+)$/i.exec(ctx.get('authorization'))?.[1]?.trim();
    if (!expected || !given) throw new AppError(401, 'invalid_admin_token', 'Missing or invalid admin token', 'authentication_error');
    const givenBytes = Buffer.from(given);
    if (givenBytes.length !== expected.length || !timingSafeEqual(givenBytes, expected)) {
      throw new AppError(401, 'invalid_admin_token', 'Missing or invalid admin token', 'authentication_error');
    }
    return next();
  };
}
