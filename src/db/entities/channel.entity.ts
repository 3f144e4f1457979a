import { defineEntity } from '@mikro-orm/core';
import type { Pricing } from './model.entity';

/** An upstream provider account that serves some public models. The credential is encrypted. */
export const Channel = defineEntity({
  name: 'Channel',
  tableName: 'channels',
  properties: (p) => ({
    id: p.string().primary(),
    name: p.string(),
    provider: p.string(),
    baseUrl: p.text(),
    apiKeyEnc: p.text(),
    /** Public model id -> upstream model name. */
    models: p.json<Record<string, string>>(),
    groups: p.json<string[]>(),
    priority: p.integer(),
    weight: p.integer(),
    enabled: p.boolean(),
    settings: p.json<Record<string, unknown>>(),
    /** Why the gateway disabled the channel itself (e.g. the provider refused its credential). */
    disabledReason: p.text().nullable(),
    /** What the provider charges us, in a model pricing's shape; usage rows record their cost from it. */
    upstreamPricing: p.json<Pricing>().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  }),
});
