import { defineEntity } from '@mikro-orm/core';

/**
 * A credit wallet. `balance` is what can still be spent; `reserved` is held by open holds; `debt` is what
 * token usage cost beyond what the wallet held (never both `debt` and `balance` above zero).
 */
export const Account = defineEntity({
  name: 'Account',
  tableName: 'accounts',
  properties: (p) => ({
    id: p.string().primary(),
    name: p.string(),
    balance: p.bigint('number'),
    reserved: p.bigint('number'),
    debt: p.bigint('number').default(0),
    createdAt: p.datetime().onCreate(() => new Date()),
  }),
});
