import { defineEntity } from '@mikro-orm/core';

/** One billable request or task, as the consumer's usage reports show it. */
export const UsageRecord = defineEntity({
  name: 'UsageRecord',
  tableName: 'usage_records',
  properties: (p) => ({
    id: p.string().primary(),
    /** The task id or request id this row bills; unique so a retried step writes it once. */
    ref: p.string().unique(),
    accountId: p.string().index(),
    apiKeyId: p.string(),
    model: p.string(),
    category: p.string(),
    channelId: p.string().nullable(),
    units: p.json<Record<string, number>>(),
    credits: p.bigint('number'),
    /** The part of `credits` the wallet could not cover, which became the account's debt. */
    debt: p.bigint('number').default(0),
    status: p.string(),
    latencyMs: p.integer().nullable(),
    /** Credits the channel's provider charged us, from its upstream pricing (a trigger fills it); null: unknown. */
    upstreamCost: p.bigint('number').nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
  }),
});
