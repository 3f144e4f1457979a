import { defineEntity } from '@mikro-orm/core';

/** A generated file copied into our own store. */
export const Asset = defineEntity({
  name: 'Asset',
  tableName: 'assets',
  properties: (p) => ({
    id: p.string().primary(),
    taskId: p.string().index(),
    accountId: p.string(),
    position: p.integer(),
    contentType: p.string(),
    bytes: p.bigint('number'),
    sha256: p.string(),
    storageKey: p.text(),
    createdAt: p.datetime().onCreate(() => new Date()),
  }),
});
