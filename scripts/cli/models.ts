import { CliError, flag, integer, pairs, required, type CommandGroup } from './command';
import { record, table } from './output';

interface Model { id: string; category: string; pricing: Record<string, number>; default_duration: number | null; deadline_seconds: number | null; max_output_tokens?: number | null }

const PRICES = [
  'per_request', 'per_image', 'per_second', 'per_1k_input_tokens', 'per_1k_output_tokens',
  'per_1k_cached_input_tokens', 'per_1k_audio_input_tokens', 'per_1k_reasoning_tokens', 'per_1k_audio_output_tokens',
];

/** `per_second=5,per_image=10` as the API's pricing object (whole credits). */
export function parsePricing(value: string): Record<string, number> {
  return pairs(value, '--pricing', (raw, name) => {
    if (!PRICES.includes(name)) throw new CliError(`--pricing: unknown price ${name}; use ${PRICES.join(', ')}`);
    if (!/^\d+$/.test(raw)) throw new CliError(`--pricing: ${name} must be a whole number of credits`);
    return Number(raw);
  });
}

/** A JSON flag (`--price-tiers '{"by":"resolution",...}'`); the API validates its shape. */
function parseJson(value: string, name: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    throw new CliError(`${name} must be JSON`);
  }
}

const pricing = (m: Model) => Object.entries(m.pricing).map(([name, credits]) => `${name}=${credits}`).join(',');

export const models: CommandGroup = {
  add: {
    usage: '--id ID --category C --pricing per_second=5,per_image=10 [--default-duration S] [--durations 5,10] [--max-outputs N] [--price-tiers JSON] [--deadline S] [--max-output-tokens T]',
    summary: 'Publish a model (category: chat, embedding, image, video, music)',
    options: {
      id: flag.string, category: flag.string, pricing: flag.string, 'default-duration': flag.string, deadline: flag.string,
      durations: flag.string, 'max-outputs': flag.string, 'price-tiers': flag.string, 'max-output-tokens': flag.string,
    },
    async run({ values, api, emit }) {
      const model = await api.call<Model>('POST', '/admin/models', {
        body: {
          id: required(values, 'id'),
          category: required(values, 'category'),
          pricing: parsePricing(required(values, 'pricing')),
          default_duration: integer(values, 'default-duration'),
          durations: values.durations === undefined ? undefined : String(values.durations).split(',').map((d) => Number(d.trim())),
          max_outputs: integer(values, 'max-outputs'),
          price_tiers: values['price-tiers'] === undefined ? undefined : parseJson(String(values['price-tiers']), '--price-tiers'),
          deadline_seconds: integer(values, 'deadline'),
          max_output_tokens: integer(values, 'max-output-tokens'),
        },
      });
      emit(model, () => record({ id: model.id, category: model.category, pricing: pricing(model), default_duration: model.default_duration, deadline_seconds: model.deadline_seconds }));
    },
  },
  list: {
    usage: '',
    summary: 'List every model',
    async run({ api, emit }) {
      const result = await api.call<{ data: Model[] }>('GET', '/admin/models');
      emit(result, () => table(result.data, [
        ['ID', (m) => m.id], ['CATEGORY', (m) => m.category], ['PRICING', pricing], ['DEFAULT DURATION', (m) => m.default_duration],
        ['DEADLINE', (m) => m.deadline_seconds],
      ]));
    },
  },
};
