import { defineEntity } from '@mikro-orm/core';

/** A callback of a task: one row per message, its `id` is the `webhook-id` every retry repeats. */
export const WebhookDelivery = defineEntity({
  name: 'WebhookDelivery',
  tableName: 'webhook_deliveries',
  properties: (p) => ({
    id: p.string().primary(),
    taskId: p.string().index(),
    url: p.text(),
    eventType: p.string(),
    attempts: p.integer(),
    lastStatus: p.integer().nullable(),
    lastError: p.text().nullable(),
    deliveredAt: p.datetime().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
  }),
});
