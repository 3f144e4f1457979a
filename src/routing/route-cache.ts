import type { EntityManager } from '@mikro-orm/postgresql';
import { Model, type Pricing } from '../db/entities';
import type { ChannelAccess } from '../providers/types';
import type { SecretBox } from '../security/secrets';
import { listCandidates, type Candidate } from './candidates';
import { loadChannelAccess } from './channel-access';

/**
 * How long the synchronous routes reuse a model, its candidate channels and a channel's decrypted access.
 * Admin changes through this process invalidate at once; a change made elsewhere (another replica, the
 * worker disabling a channel whose credential was refused) shows here at most this long later.
 */
export const ROUTE_CACHE_TTL_MS = 2000;

/** The model fields the synchronous routes need. */
export interface CachedModel {
  id: string;
  category: string;
  pricing: Pricing;
  /** Output tokens a chat hold assumes without max_tokens (null: the gateway's default). */
  maxOutputTokens: number | null;
}

interface Entry<T> {
  value: Promise<T>;
  loadedAt: number;
}

/**
 * The per-request routing reads of the chat and embeddings routes, cached for ROUTE_CACHE_TTL_MS with
 * concurrent misses sharing one load (so a burst after expiry costs one query, not one per request).
 */
export function createRouteCache(deps: {
  box: SecretBox;
  /** An EntityManager for one load (a fork: a load is shared by every request waiting for it). */
  em: () => EntityManager;
  ttlMs?: number;
  now?: () => number;
}) {
  const ttl = deps.ttlMs ?? ROUTE_CACHE_TTL_MS;
  const now = deps.now ?? Date.now;
  let entries = new Map<string, Entry<unknown>>();

  function cached<T>(key: string, load: () => Promise<T>): Promise<T> {
    const hit = entries.get(key) as Entry<T> | undefined;
    if (hit && now() - hit.loadedAt < ttl) return hit.value;
    const value = load();
    const entry: Entry<T> = { value, loadedAt: now() };
    if (entries.size > 10_000) entries = new Map();
    entries.set(key, entry);
    // A failed load is not remembered.
    value.catch(() => entries.get(key) === entry && entries.delete(key));
    return value;
  }

  return {
    /** The model, or null when it does not exist. */
    model(id: string): Promise<CachedModel | null> {
      return cached(`model\n${id}`, async () => {
        const model = await deps.em().findOne(Model, { id });
        return model && { id: model.id, category: model.category, pricing: model.pricing, maxOutputTokens: model.maxOutputTokens ?? null };
      });
    },
    /** Enabled channels serving `model` for `group`. */
    candidates(model: string, group: string): Promise<Candidate[]> {
      return cached(`candidates\n${model}\n${group}`, () => listCandidates(deps.em(), model, group));
    },
    /** A channel's address and decrypted credential (kept in this process's memory only). */
    channelAccess(channelId: string): Promise<ChannelAccess> {
      return cached(`access\n${channelId}`, async () => (await loadChannelAccess(deps.em(), deps.box, channelId)).access);
    },
    /** Forgets everything: called on every admin change to models and channels. */
    invalidate(): void {
      entries = new Map();
    },
  };
}

export type RouteCache = ReturnType<typeof createRouteCache>;
