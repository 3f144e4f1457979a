/**
 * The playground's form for a media model, and the price it shows before submitting. Pure (no DOM), so the
 * unit tests check the price against the gateway's own pricing (src/billing/pricing.ts).
 */

/** A price in whole credits per unit, as models and their tiers carry it. */
export interface Pricing {
  per_request?: number;
  per_image?: number;
  per_second?: number;
  per_1k_input_tokens?: number;
  per_1k_output_tokens?: number;
}

/** Prices by one request dimension: `default` applies when the request names none. */
export interface PriceTiers {
  by: 'resolution' | 'size' | 'quality';
  default: string;
  prices: Record<string, Pricing>;
}

/** A model as GET /v1/models lists it; the price units are present where the gateway records them. */
export interface PublicModel {
  id: string;
  category: string;
  pricing: Pricing;
  default_duration?: number | null;
  durations?: number[] | null;
  max_outputs?: number | null;
  price_tiers?: PriceTiers | null;
  metadata: { default_duration?: number; [name: string]: unknown };
}

/** One field of the form. */
export interface ParameterSpec {
  type: 'string' | 'integer';
  enum?: (string | number)[];
  minimum?: number;
  maximum?: number;
  default?: string | number;
  /** An empty choice meaning "the model's default": the field is then not sent. */
  optional?: boolean;
}

/**
 * The fields a request to this model may set: the output count of an image model, the duration of a video
 * or music model (a choice when the model lists its durations), the tier's dimension when the model is
 * priced by tiers, and a video's aspect ratio. Fields the model prices are always sent, so the price shown
 * is the price charged.
 */
export function parametersOf(model: PublicModel): Record<string, ParameterSpec> {
  const fields: Record<string, ParameterSpec> = {};
  if (model.category === 'image') {
    fields.n = { type: 'integer', minimum: 1, maximum: model.max_outputs ?? 10, default: 1 };
  } else {
    const fallback = model.default_duration ?? model.metadata.default_duration ?? model.durations?.[0] ?? 5;
    fields.duration = model.durations?.length
      ? { type: 'integer', enum: model.durations, default: fallback }
      : { type: 'integer', minimum: 1, maximum: 600, default: fallback };
  }
  const tiers = model.price_tiers;
  if (tiers) fields[tiers.by] = { type: 'string', enum: Object.keys(tiers.prices), default: tiers.default };
  if (model.category === 'video') fields.aspect_ratio = { type: 'string', enum: ['16:9', '9:16', '1:1'], optional: true };
  return fields;
}

/** The starting values of the form. */
export function defaultsOf(model: PublicModel): Record<string, string | number> {
  return Object.fromEntries(Object.entries(parametersOf(model)).filter(([, s]) => s.default !== undefined).map(([n, s]) => [n, s.default!]));
}

/** The request body the form's values make (empty optional fields left out, numbers as numbers). */
export function bodyOf(model: PublicModel, prompt: string, values: Record<string, string | number>): Record<string, unknown> {
  const body: Record<string, unknown> = { model: model.id, prompt };
  for (const [name, spec] of Object.entries(parametersOf(model))) {
    const value = values[name];
    if (value === undefined || value === '') continue;
    body[name] = spec.type === 'integer' ? Number(value) : String(value);
  }
  return body;
}

/** The price of the request as the gateway computes it: the tier's prices over the model's, then per unit. */
export function priceOf(model: PublicModel, values: Record<string, string | number>): number {
  const tiers = model.price_tiers;
  const tier = tiers ? tiers.prices[String(values[tiers.by] ?? tiers.default)] ?? tiers.prices[tiers.default] : undefined;
  const p: Pricing = { ...model.pricing, ...tier };
  // The units as the gateway reads them: an image request counts images, any other seconds.
  const images = model.category === 'image' ? Number(values.n ?? 1) : 1;
  const seconds = model.category === 'image' ? 0 : Number(values.duration ?? model.default_duration ?? 0);
  let total = p.per_request ?? 0;
  if (p.per_image) total += p.per_image * Math.max(1, images);
  if (p.per_second) total += p.per_second * Math.ceil(Math.max(0, seconds));
  return total;
}
