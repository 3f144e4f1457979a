import { flag, integer, optionalString, required, requiredInteger, type CommandGroup } from './command';
import { record, time } from './output';

interface Account { id: string; name: string; balance: number; reserved: number; debt: number; created_at: string }

const showAccount = (a: Account) => record({ id: a.id, name: a.name, balance: a.balance, reserved: a.reserved, debt: a.debt, created: time(a.created_at) });

export const accounts: CommandGroup = {
  create: {
    usage: '--name N [--credits C]',
    summary: 'Create an account (with C credits)',
    options: { name: flag.string, credits: flag.string },
    async run({ values, api, emit }) {
      const account = await api.call<Account>('POST', '/admin/accounts', { body: { name: required(values, 'name'), credits: integer(values, 'credits') } });
      emit(account, () => showAccount(account));
    },
  },
  show: {
    usage: 'ID',
    summary: 'Show an account and its balance',
    args: ['ID'],
    async run({ args, api, emit }) {
      const account = await api.call<Account>('GET', `/admin/accounts/${encodeURIComponent(args[0]!)}`);
      emit(account, () => showAccount(account));
    },
  },
  topup: {
    usage: 'ID --amount A [--reason R]',
    summary: 'Add A credits (negative to correct)',
    args: ['ID'],
    options: { amount: flag.string, reason: flag.string },
    async run({ args, values, api, emit }) {
      const amount = requiredInteger(values, 'amount');
      const result = await api.call<{ balance: number; debt: number }>('POST', `/admin/accounts/${encodeURIComponent(args[0]!)}/credits`, {
        body: { amount, reason: optionalString(values, 'reason') },
      });
      emit(result, () => record({ account: args[0], added: amount, balance: result.balance, debt: result.debt }));
    },
  },
};
