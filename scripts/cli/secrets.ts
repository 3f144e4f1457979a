import type { CommandGroup } from './command';
import { table } from './output';

interface Counts { resealed: number; current: number; unreadable: number }
type ResealResult = { api_keys: Counts; channels: Counts };

export const secrets: CommandGroup = {
  reseal: {
    usage: '',
    summary: 'Re-encrypt every sealed secret with the current GATEWAY_SECRET (the last step of a rotation)',
    async run({ api, emit, warn }) {
      const result = await api.call<ResealResult>('POST', '/admin/secrets/reseal');
      const rows = (['api_keys', 'channels'] as const).map((name) => ({ name, ...result[name] }));
      emit(result, () => table(rows, [['TABLE', (r) => r.name], ['RESEALED', (r) => r.resealed], ['CURRENT', (r) => r.current], ['UNREADABLE', (r) => r.unreadable]]));
      if (rows.some((r) => r.unreadable > 0)) warn('Some secrets open with none of the configured secrets: keep the secret they were sealed with in GATEWAY_SECRET_PREVIOUS.');
    },
  },
};
