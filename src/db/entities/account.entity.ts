import { defineEntity } from '@mikro-orm/core';

/** A credit wallet. `balance` is what can still be spent; `reserved` is held by open holds. */
export const Account = defineEntity({
  name: 'Account',
  tableName: 'accounts',
  properties: (p) => ({
    id: p.string().primary(),
    name: p.string(),
    balance: p.bigint('number'),
    reserved: p.bigint('number'),
    createdAt: p.datetime().onCreate(() => new Date()),
  }),
});
