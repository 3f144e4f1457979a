import { flag, integer, list, optionalString, required, type CommandGroup } from './command';
import { record, table, time } from './output';

interface Key {
  id: string; account_id: string; name: string; prefix: string; group: string; models: string[] | null; rpm: number | null;
  budget: number | null; budget_spent: number; expires_at: string | null; revoked_at: string | null; created_at: string;
}

function status(key: Key): string {
  if (key.revoked_at) return 'revoked';
  if (key.expires_at && Date.parse(key.expires_at) <= Date.now()) return 'expired';
  return 'active';
}

const budget = (key: Key) => (key.budget === null ? null : `${key.budget_spent}/${key.budget}`);

export const keys: CommandGroup = {
  create: {
    usage: '--account ID [--name N] [--models a,b] [--group G] [--rpm N] [--budget N]',
    summary: 'Create a consumer key; prints the key and its webhook secret once',
    options: { account: flag.string, name: flag.string, models: flag.string, group: flag.string, rpm: flag.string, budget: flag.string },
    async run({ values, api, emit, warn }) {
      const created = await api.call<Key & { key: string; webhook_secret: string }>('POST', '/admin/keys', {
        body: {
          account_id: required(values, 'account'),
          name: optionalString(values, 'name'),
          models: list(optionalString(values, 'models')),
          group: optionalString(values, 'group'),
          rpm: integer(values, 'rpm'),
          budget: integer(values, 'budget'),
        },
      });
      emit(created, () => record({
        id: created.id, account: created.account_id, name: created.name, group: created.group, models: created.models?.join(',') ?? 'all',
        rpm: created.rpm, budget: created.budget, key: created.key, 'webhook secret': created.webhook_secret,
      }));
      warn('Store the key and the webhook secret now: they will not be shown again.');
    },
  },
  list: {
    usage: '[--account ID]',
    summary: 'List keys (never their secrets)',
    options: { account: flag.string },
    async run({ values, api, emit }) {
      const account = optionalString(values, 'account');
      const result = await api.call<{ data: Key[] }>('GET', `/admin/keys${account ? `?account_id=${encodeURIComponent(account)}` : ''}`);
      emit(result, () => table(result.data, [
        ['ID', (k) => k.id], ['ACCOUNT', (k) => k.account_id], ['NAME', (k) => k.name], ['PREFIX', (k) => k.prefix],
        ['GROUP', (k) => k.group], ['MODELS', (k) => k.models?.join(',') ?? 'all'], ['RPM', (k) => k.rpm], ['BUDGET', budget],
        ['STATUS', status], ['CREATED', (k) => time(k.created_at)],
      ]));
    },
  },
  revoke: {
    usage: 'ID',
    summary: 'Revoke a key (it stops working within seconds)',
    args: ['ID'],
    async run({ args, api, emit }) {
      const key = await api.call<Key>('DELETE', `/admin/keys/${encodeURIComponent(args[0]!)}`);
      emit(key, () => `Revoked ${key.id} (${key.prefix}...) at ${time(key.revoked_at)}`);
    },
  },
};
