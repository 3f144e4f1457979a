import type { EntityManager } from '@mikro-orm/postgresql';
import { Account } from '../../db/entities';
import { topUp } from '../../billing/ledger';
import { newId } from '../../ids';

/** Creates a wallet, with an opening top-up through the ledger when `credits` > 0. */
export async function createAccount(em: EntityManager, input: { name: string; credits?: number; id?: string }) {
  const account = em.create(Account, { id: input.id ?? newId('acct'), name: input.name, balance: 0, reserved: 0, debt: 0 });
  await em.persistAndFlush(account);
  if (input.credits && input.credits > 0) {
    await topUp(em.getKnex(), { accountId: account.id, amount: input.credits, ref: `open_${account.id}`, reason: 'opening balance' });
    await em.refresh(account);
  }
  return account;
}
