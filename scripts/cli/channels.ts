import { CliError, flag, integer, list, optionalString, required, type CommandGroup } from './command';
import { record, table } from './output';

interface Channel {
  id: string; name: string; provider: string; base_url: string; models: Record<string, string>; groups: string[]; priority: number;
  weight: number; enabled: boolean; disabled_reason: string | null;
  circuit?: { state: string; consecutive_failures: number; open_until: string | null };
}

/** `a,b` is a list of public ids; `a=up-a,b=up-b` maps public ids to upstream names (`b` alone maps to itself). */
export function parseChannelModels(value: string): string[] | Record<string, string> {
  const items = list(value) ?? [];
  if (items.length === 0) throw new CliError('--models names no model');
  if (!items.some((item) => item.includes('='))) return items;
  return Object.fromEntries(items.map((item) => {
    const [id, upstream] = item.split('=', 2).map((part) => part.trim());
    if (!id) throw new CliError(`--models: bad entry ${JSON.stringify(item)}`);
    return [id, upstream || id];
  }));
}

const models = (c: Channel) => Object.entries(c.models).map(([id, upstream]) => (id === upstream ? id : `${id}=${upstream}`)).join(',');

function circuit(c: Channel): string {
  if (!c.circuit) return '-';
  return c.circuit.consecutive_failures > 0 ? `${c.circuit.state} (${c.circuit.consecutive_failures} failures)` : c.circuit.state;
}

export const channels: CommandGroup = {
  add: {
    usage: '--name N --provider P --base-url U --api-key K --models a,b|a=upstream,b=upstream [--priority N] [--weight N] [--groups g1,g2]',
    summary: 'Add an upstream channel (provider: openai, ark, replicate, fal, mock, minimax, dashscope)',
    options: {
      name: flag.string, provider: flag.string, 'base-url': flag.string, 'api-key': flag.string, models: flag.string,
      priority: flag.string, weight: flag.string, groups: flag.string,
    },
    async run({ values, api, emit }) {
      const channel = await api.call<Channel>('POST', '/admin/channels', {
        body: {
          name: required(values, 'name'),
          provider: required(values, 'provider'),
          base_url: optionalString(values, 'base-url'),
          api_key: optionalString(values, 'api-key'),
          models: parseChannelModels(required(values, 'models')),
          priority: integer(values, 'priority'),
          weight: integer(values, 'weight'),
          groups: list(optionalString(values, 'groups')),
        },
      });
      emit(channel, () => record({
        id: channel.id, name: channel.name, provider: channel.provider, base_url: channel.base_url, models: models(channel),
        groups: channel.groups.join(','), priority: channel.priority, weight: channel.weight, enabled: channel.enabled,
      }));
    },
  },
  list: {
    usage: '',
    summary: 'List channels with their circuit-breaker state',
    async run({ api, emit }) {
      const result = await api.call<{ data: Channel[] }>('GET', '/admin/channels');
      emit(result, () => table(result.data, [
        ['ID', (c) => c.id], ['NAME', (c) => c.name], ['PROVIDER', (c) => c.provider], ['PRIORITY', (c) => c.priority],
        ['WEIGHT', (c) => c.weight], ['ENABLED', (c) => (c.enabled ? 'yes' : `no${c.disabled_reason ? ` (${c.disabled_reason})` : ''}`)],
        ['GROUPS', (c) => c.groups.join(',')], ['MODELS', models], ['CIRCUIT', circuit],
      ]));
    },
  },
};
